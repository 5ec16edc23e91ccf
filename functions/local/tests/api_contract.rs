//! The HTTP API's three descriptions agree: the routes the functions'
//! routers declare (read from their source), the routes the SAM template
//! sends to them, and the paths of `infra/openapi.yaml`. The merged router
//! of the local host answers every documented route, and every API Gateway
//! fixture in `events/` goes through it as the Lambda would take it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::Router;
use common::repo_path;
use common::template::Template;
use http::{Request, StatusCode};
use serde_yaml::Value;
use std::sync::Arc;

use strata_auth::{Authenticator, LocalIssuer};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_local::host::Host;
use tower::ServiceExt;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
/// Fills path parameters when probing: a well-formed customer id nobody has.
const SAMPLE_ID: &str = "0000000000000000000000000000000a";

fn documented_routes() -> BTreeSet<String> {
    let path = repo_path("infra/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("infra/openapi.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("OpenAPI YAML");
    let mut routes = BTreeSet::new();
    for (route, item) in doc["paths"].as_mapping().expect("paths") {
        let route = route.as_str().expect("path");
        for method in METHODS {
            if !item[method].is_null() {
                routes.insert(format!("{} {route}", method.to_uppercase()));
            }
        }
    }
    routes
}

/// Every `.route("path", get(..).put(..))` in the functions' sources.
fn declared_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    let functions = repo_path("functions");
    for entry in std::fs::read_dir(&functions).expect("functions/") {
        let src = entry.expect("entry").path().join("src");
        if src.is_dir() {
            scan_dir(&src, &mut routes);
        }
    }
    routes
}

fn scan_dir(dir: &Path, routes: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            scan_dir(&path, routes);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).expect("source");
            routes.extend(routes_in(&source));
        }
    }
}

fn routes_in(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find('"') else {
            break;
        };
        let path = &after_open[..close];
        let tail = &after_open[close + 1..];
        let call = &tail[..call_end(tail)];
        for method in methods_in(call) {
            found.push(format!("{} {path}", method.to_uppercase()));
        }
        rest = &after_open[close + 1..];
    }
    found
}

/// Where the `.route(` call closes (its parentheses balanced).
fn call_end(text: &str) -> usize {
    let mut depth = 1usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// `get(h).put(h2)` → get, put: method-router calls, not other calls.
fn methods_in(call: &str) -> Vec<&'static str> {
    let bytes = call.as_bytes();
    let mut methods = Vec::new();
    for method in METHODS {
        let mut from = 0;
        while let Some(at) = call[from..].find(method) {
            let start = from + at;
            let end = start + method.len();
            let before_ok = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            let after_ok = bytes.get(end) == Some(&b'(');
            if before_ok && after_ok {
                methods.push(method);
            }
            from = end;
        }
    }
    methods
}

#[test]
fn the_routers_the_template_and_the_document_name_the_same_routes() {
    let documented = documented_routes();
    let declared = declared_routes();
    let wired = Template::load().http_routes();
    assert!(documented.len() >= 17, "{documented:?}");
    assert_eq!(
        declared.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes in the code but not in infra/openapi.yaml"
    );
    assert_eq!(
        documented.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes in infra/openapi.yaml that no router declares"
    );
    assert_eq!(
        declared.symmetric_difference(&wired).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "the template's HttpApi events differ from the routers' routes"
    );
}

#[test]
fn the_route_scanner_reads_chained_and_layered_routes() {
    let source = r#"Router::new()
        .route("/a/{id}", get(get_thing).put(put_thing))
        .route(
            "/b",
            post(batch).layer(DefaultBodyLimit::max(LIMIT)),
        )"#;
    assert_eq!(routes_in(source), ["GET /a/{id}", "PUT /a/{id}", "POST /b"]);
}

async fn host_router(authenticator: Authenticator) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::open(dir.path(), ReadOptions::default())
        .await
        .expect("the local host (ONNX Runtime via ORT_DYLIB_PATH; run `cargo xtask test`)");
    (dir, host.router(authenticator))
}

/// Status and body; the router's own fallback and 405 count as "no route".
async fn send(router: &Router, request: Request<axum::body::Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn answered_by_a_route(status: StatusCode, body: &str) -> bool {
    status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("No such route")
}

#[tokio::test]
async fn the_local_host_answers_every_documented_route() {
    let issuer = Arc::new(LocalIssuer::from_secret(&[1; 32]));
    let admin = Principal::new("contract", Role::Admin, None, None).expect("principal");
    let token = issuer
        .mint(&admin, chrono::Duration::minutes(5))
        .expect("token");
    let (_dir, router) = host_router(Authenticator::Local(issuer)).await;
    for route in documented_routes() {
        let (method, path) = route.split_once(' ').expect("METHOD /path");
        let request = Request::builder()
            .method(method)
            .uri(path.replace("{id}", SAMPLE_ID))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from("{}"))
            .expect("request");
        let (status, body) = send(&router, request).await;
        assert!(
            answered_by_a_route(status, &body),
            "{route}: no route answered ({status} {body})"
        );
        assert!(!status.is_server_error(), "{route}: {status} {body}");
    }
}

#[tokio::test]
async fn every_api_gateway_fixture_reaches_its_route_through_the_lambda_request_path() {
    let (_dir, router) = host_router(Authenticator::Gateway).await;
    let documented = documented_routes();
    let mut covered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let events = repo_path("events");
    let mut names: Vec<String> = std::fs::read_dir(&events)
        .expect("events/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("apigw-http-") && n.ends_with(".json"))
        .collect();
    names.sort();
    for name in names {
        let text = std::fs::read_to_string(events.join(&name)).expect("fixture");
        let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let route_key = event["routeKey"].as_str().expect("routeKey").to_owned();
        assert!(
            documented.contains(&route_key),
            "{name}: {route_key} is not a documented route"
        );
        assert_eq!(event["version"], "2.0", "{name}: HTTP API payload v2");
        assert!(
            event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"].is_string(),
            "{name}: every route sits behind the JWT authorizer; the event carries its claims"
        );
        let request = lambda_http::request::from_str(&text).expect("an API Gateway v2 event");
        let (status, body) = send(&router, request.map(axum::body::Body::new)).await;
        assert!(
            answered_by_a_route(status, &body),
            "{name}: no route answered ({status} {body})"
        );
        assert!(!status.is_server_error(), "{name}: {status} {body}");
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{name}: the guard refused the authorizer's claims ({status} {body})"
        );
        covered.entry(route_key).or_default().push(name);
    }
    let missing: Vec<&String> = documented
        .iter()
        .filter(|r| !covered.contains_key(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an events/ fixture: {missing:?}"
    );
}
