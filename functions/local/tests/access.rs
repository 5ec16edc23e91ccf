//! Sign-in and roles on the whole HTTP API as `strata serve` runs it: every
//! route of infra/openapi.yaml × every role (401 without a valid token, 403
//! where the role may not go, an answer where it may), one customer's token
//! never reaching another customer's data, and the audit trail the guard
//! leaves (admins only, never overwritten).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use strata_auth::{Authenticator, LocalIssuer};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_domain::audit::{AuditAction, AuditEntry};
use strata_domain::ids::{CustomerId, SalespersonId};
use strata_local::host::Host;
use strata_store::{AuditLog, StoreError};
use tower::ServiceExt;

/// Who calls in the matrix. The target customer is always `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Admin,
    Ops,
    /// Sales staff `a` is assigned to.
    SalesAssigned,
    /// Sales staff `a` is not assigned to.
    SalesOther,
    /// Customer `a` themself.
    CustomerSelf,
    /// Customer `b`.
    CustomerOther,
}

const EVERYONE: [Who; 6] = [
    Who::Admin,
    Who::Ops,
    Who::SalesAssigned,
    Who::SalesOther,
    Who::CustomerSelf,
    Who::CustomerOther,
];

struct Api {
    _dir: tempfile::TempDir,
    host: Host,
    router: Router,
    issuer: Arc<LocalIssuer>,
    a: CustomerId,
    b: CustomerId,
}

impl Api {
    fn principal(&self, who: Who) -> Principal {
        let rep = |name: &str| Some(SalespersonId::parse("s", name).expect("salesperson"));
        let (subject, role, customer, salesperson) = match who {
            Who::Admin => ("admin-1", Role::Admin, None, None),
            Who::Ops => ("ops-1", Role::Ops, None, None),
            Who::SalesAssigned => ("sales-1", Role::Sales, None, rep("s-1")),
            Who::SalesOther => ("sales-2", Role::Sales, None, rep("s-2")),
            Who::CustomerSelf => ("cust-a", Role::Customer, Some(self.a), None),
            Who::CustomerOther => ("cust-b", Role::Customer, Some(self.b), None),
        };
        Principal::new(subject, role, customer, salesperson).expect("principal")
    }

    fn token(&self, who: Who) -> String {
        self.issuer
            .mint(&self.principal(who), chrono::Duration::minutes(5))
            .expect("token")
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    async fn as_admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let token = self.token(Who::Admin);
        let (status, _, body) = self.call(method, path, Some(&token), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

async fn api() -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::open(dir.path(), ReadOptions::default())
        .await
        .expect("the local host (ONNX Runtime via ORT_DYLIB_PATH; run `cargo xtask test`)");
    let issuer = Arc::new(LocalIssuer::from_secret(&[3; 32]));
    let router = host.router(Authenticator::Local(issuer.clone()));
    let placeholder = CustomerId::generate();
    let mut api = Api {
        _dir: dir,
        host,
        router,
        issuer,
        a: placeholder,
        b: placeholder,
    };
    for (email, order) in [("alice@shop.cn", "A-1"), ("bob@shop.cn", "B-1")] {
        let made = api
            .as_admin("POST", "/v1/customers", Some(json!({"email": email})))
            .await;
        let id = CustomerId::parse("id", made["customer"]["id"].as_str().expect("id"))
            .expect("customer id");
        api.as_admin(
            "POST",
            &format!("/v1/customers/{id}/orders"),
            Some(json!({"id": order, "placed_at": "2026-10-01", "total": "25.00"})),
        )
        .await;
        if email.starts_with("alice") {
            api.a = id;
        } else {
            api.b = id;
        }
    }
    let a = api.a;
    api.as_admin(
        "PUT",
        &format!("/v1/customers/{a}/assignment"),
        Some(json!({"salesperson": "s-1"})),
    )
    .await;
    api.as_admin("PUT", "/v1/conversion/criteria", Some(criteria()))
        .await;
    api
}

fn criteria() -> Value {
    json!({"window_days": 30, "threshold": 50, "rules": [{"signal": "inquiries", "at_least": 1, "points": 50}]})
}

/// One row of the matrix: the route, a body, who may call it, and which
/// answers an allowed call may get with the seeded data.
struct Row {
    method: &'static str,
    route: &'static str,
    allowed: &'static [Who],
    ok: &'static [u16],
}

const ADMIN_OPS: &[Who] = &[Who::Admin, Who::Ops];
const READERS_OF_A: &[Who] = &[Who::Admin, Who::Ops, Who::SalesAssigned, Who::CustomerSelf];
const OK: &[u16] = &[200];
const WRITTEN: &[u16] = &[200, 201];

fn matrix() -> Vec<Row> {
    use Who::*;
    let row = |method, route, allowed, ok| Row {
        method,
        route,
        allowed,
        ok,
    };
    vec![
        row("POST", "/v1/customers", ADMIN_OPS, WRITTEN),
        row("GET", "/v1/customers/{id}", READERS_OF_A, OK),
        row("GET", "/v1/customers/{id}/history", READERS_OF_A, OK),
        row("GET", "/v1/customers/{id}/merges", READERS_OF_A, OK),
        row("POST", "/v1/customers/{id}/orders", ADMIN_OPS, WRITTEN),
        // `A-1` ships (the admin), then ships again (unchanged: 200 too).
        row(
            "PUT",
            "/v1/customers/{id}/orders/{order}/status",
            ADMIN_OPS,
            OK,
        ),
        row(
            "POST",
            "/v1/customers/{id}/interactions",
            &[Admin, Ops, SalesAssigned, CustomerSelf],
            WRITTEN,
        ),
        row(
            "POST",
            "/v1/customers/{id}/reviews",
            &[Admin, Ops, CustomerSelf],
            WRITTEN,
        ),
        row("PUT", "/v1/customers/{id}/assignment", ADMIN_OPS, OK),
        row("GET", "/v1/customers/{id}/consents", READERS_OF_A, OK),
        row(
            "POST",
            "/v1/customers/{id}/consents",
            &[Admin, Ops, CustomerSelf],
            WRITTEN,
        ),
        row("POST", "/v1/batch", ADMIN_OPS, OK),
        row("GET", "/v1/imports", ADMIN_OPS, OK),
        // No import has run: the route answers, with a 404.
        row("GET", "/v1/imports/{id}", ADMIN_OPS, &[404]),
        row(
            "GET",
            "/v1/customers/{id}/churn",
            &[Admin, Ops, SalesAssigned],
            OK,
        ),
        // `a` has bought: conversion is for intent customers (409).
        row(
            "GET",
            "/v1/customers/{id}/conversion",
            &[Admin, Ops, SalesAssigned],
            &[409],
        ),
        row("GET", "/v1/churn/early-warning", ADMIN_OPS, OK),
        row("GET", "/v1/churn/monthly", ADMIN_OPS, OK),
        row("GET", "/v1/churn/model", ADMIN_OPS, OK),
        row("GET", "/v1/conversion/criteria", ADMIN_OPS, OK),
        row("PUT", "/v1/conversion/criteria", &[Admin], OK),
        row(
            "GET",
            "/v1/customers/{id}/recommendations",
            READERS_OF_A,
            OK,
        ),
        row("GET", "/v1/tiers/policy", ADMIN_OPS, OK),
        row("PUT", "/v1/tiers/policy", &[Admin], OK),
        row("GET", "/v1/tiers", ADMIN_OPS, OK),
        row("GET", "/v1/tiers/movements", ADMIN_OPS, OK),
        // Sales staff too, each seeing only their own customers.
        row(
            "GET",
            "/v1/tiers/{tier}/customers",
            &[Admin, Ops, SalesAssigned, SalesOther],
            OK,
        ),
        row("GET", "/v1/customers/{id}/tier-history", READERS_OF_A, OK),
        // Rewards: the template before what reads and issues it; points
        // given before they are spent; the coupon the admin issues to `a`
        // is the one redeemed (the same reference each time: one redemption).
        row("GET", "/v1/rewards/policy", ADMIN_OPS, OK),
        row("PUT", "/v1/rewards/policy", &[Admin], OK),
        row("PUT", "/v1/coupons/templates/{template}", &[Admin], WRITTEN),
        row("GET", "/v1/coupons/templates", ADMIN_OPS, OK),
        row("GET", "/v1/coupons/templates/{template}", ADMIN_OPS, OK),
        row("POST", "/v1/coupons/issues", ADMIN_OPS, OK),
        row("GET", "/v1/coupons/issues/{issue}", ADMIN_OPS, OK),
        row("GET", "/v1/customers/{id}/points", READERS_OF_A, OK),
        row(
            "POST",
            "/v1/customers/{id}/points/adjustments",
            ADMIN_OPS,
            WRITTEN,
        ),
        row(
            "POST",
            "/v1/customers/{id}/points/redemptions",
            &[Admin, Ops, CustomerSelf],
            WRITTEN,
        ),
        row("GET", "/v1/customers/{id}/coupons", READERS_OF_A, OK),
        row("POST", "/v1/customers/{id}/coupons", ADMIN_OPS, WRITTEN),
        row(
            "POST",
            "/v1/customers/{id}/coupons/{code}/redemptions",
            &[Admin, Ops, CustomerSelf],
            WRITTEN,
        ),
        row("GET", "/v1/customers/{id}/referral", READERS_OF_A, OK),
        // `a` enters their own code (and has bought): refused, naming `code`.
        row(
            "PUT",
            "/v1/customers/{id}/referral",
            &[Admin, Ops, CustomerSelf],
            &[422],
        ),
        row("GET", "/v1/audit", &[Admin], OK),
        row(
            "GET",
            "/v1/customers/{id}/export",
            &[Admin, CustomerSelf],
            OK,
        ),
        // `s-1`'s list: `a` is assigned to them.
        row(
            "GET",
            "/v1/salespeople/{salesperson}/customers",
            &[Admin, Ops, SalesAssigned],
            OK,
        ),
        // The sales team's directory: the team before the salesperson in
        // it; then the segment list, its sizes, a preview and one segment's
        // members (none before a nightly run).
        // Sales staff find only their own customers (others: an empty list).
        row(
            "GET",
            "/v1/customers",
            &[Admin, Ops, SalesAssigned, SalesOther],
            OK,
        ),
        row("PUT", "/v1/teams/{team}", &[Admin], WRITTEN),
        row("GET", "/v1/teams", ADMIN_OPS, OK),
        row("GET", "/v1/teams/{team}", ADMIN_OPS, OK),
        row("PUT", "/v1/salespeople/{salesperson}", &[Admin], WRITTEN),
        row("GET", "/v1/salespeople", ADMIN_OPS, OK),
        row("GET", "/v1/salespeople/{salesperson}", ADMIN_OPS, OK),
        row("GET", "/v1/segments/definition", ADMIN_OPS, OK),
        row("PUT", "/v1/segments/definition", &[Admin], OK),
        row("GET", "/v1/segments", ADMIN_OPS, OK),
        row("POST", "/v1/segments/preview", ADMIN_OPS, OK),
        row("GET", "/v1/segments/{segment}/customers", ADMIN_OPS, OK),
        row("PUT", "/v1/strategies/{segment}", &[Admin], WRITTEN),
        row("GET", "/v1/strategies", ADMIN_OPS, OK),
        row("GET", "/v1/strategies/{segment}", ADMIN_OPS, OK),
        // Last: the admin's call erases `a` (everyone after is refused
        // before any handler runs).
        row("DELETE", "/v1/customers/{id}", &[Admin], OK),
    ]
}

/// What earlier rows made that later rows use.
#[derive(Default)]
struct Made {
    /// The first coupon `POST /v1/customers/{id}/coupons` issued to `a`.
    coupon: Option<String>,
}

impl Made {
    fn note(&mut self, row: &Row, status: StatusCode, answer: &Value) {
        if (row.method, row.route) == ("POST", "/v1/customers/{id}/coupons")
            && status == StatusCode::CREATED
            && self.coupon.is_none()
        {
            self.coupon = answer["code"].as_str().map(str::to_owned);
        }
    }
}

fn request_for(api: &Api, made: &Made, row: &Row, n: usize) -> (String, Option<Value>) {
    let a = api.a;
    let path = match row.route {
        "/v1/imports/{id}" => "/v1/imports/no-such-import".to_owned(),
        "/v1/customers/{id}/orders/{order}/status" => {
            format!("/v1/customers/{a}/orders/A-1/status")
        }
        "/v1/coupons/templates/{template}" => "/v1/coupons/templates/matrix".to_owned(),
        "/v1/coupons/issues/{issue}" => "/v1/coupons/issues/matrix".to_owned(),
        "/v1/customers/{id}/coupons/{code}/redemptions" => {
            let code = made.coupon.as_deref().unwrap_or("NOCOUPON");
            format!("/v1/customers/{a}/coupons/{code}/redemptions")
        }
        "/v1/audit" => format!("/v1/audit?customer={a}"),
        "/v1/customers" if row.method == "GET" => "/v1/customers?email=Alice@Shop.cn".to_owned(),
        "/v1/salespeople/{salesperson}/customers" => "/v1/salespeople/s-1/customers".to_owned(),
        "/v1/tiers/{tier}/customers" => "/v1/tiers/bronze/customers".to_owned(),
        "/v1/teams/{team}" => "/v1/teams/matrix".to_owned(),
        "/v1/salespeople/{salesperson}" => "/v1/salespeople/matrix-rep".to_owned(),
        "/v1/segments/{segment}/customers" => "/v1/segments/other/customers".to_owned(),
        "/v1/strategies/{segment}" => "/v1/strategies/at_risk".to_owned(),
        "/v1/tiers/movements" => "/v1/tiers/movements?from=2026-01&to=2026-12".to_owned(),
        route => route.replace("{id}", &a.to_string()),
    };
    let body = match (row.method, row.route) {
        ("POST", "/v1/customers") => Some(json!({"email": format!("new{n}@shop.cn")})),
        ("POST", "/v1/customers/{id}/orders") => {
            Some(json!({"id": format!("M-{n}"), "placed_at": "2026-10-02", "total": "5.00"}))
        }
        ("POST", "/v1/customers/{id}/interactions") => Some(
            json!({"id": format!("I-{n}"), "kind": "inquiry", "channel": "wechat", "at": "2026-10-03T10:00:00Z"}),
        ),
        ("POST", "/v1/customers/{id}/reviews") => Some(
            json!({"id": format!("R-{n}"), "product_id": "P1", "rating": 5, "at": "2026-10-04"}),
        ),
        ("PUT", "/v1/customers/{id}/assignment") => Some(json!({"salesperson": "s-1"})),
        ("POST", "/v1/customers/{id}/consents") => Some(
            json!({"purpose": "analytics", "granted": true, "version": "v1", "source": "matrix",
                "at": format!("2026-10-05T10:{:02}:00Z", n % 60)}),
        ),
        ("POST", "/v1/batch") => Some(
            json!({"records": [{"type": "customer", "customer": {"email": format!("batch{n}@shop.cn")}}]}),
        ),
        ("PUT", "/v1/conversion/criteria") => Some(criteria()),
        ("PUT", "/v1/tiers/policy") => Some(
            serde_json::to_value(strata_domain::value::ValuePolicy::default()).expect("policy"),
        ),
        ("PUT", "/v1/customers/{id}/orders/{order}/status") => Some(json!({"status": "shipped"})),
        ("PUT", "/v1/rewards/policy") => Some(
            serde_json::to_value(strata_domain::rewards::RewardsPolicy::default()).expect("policy"),
        ),
        ("PUT", "/v1/coupons/templates/{template}") => Some(
            json!({"name": "Matrix", "discount": {"kind": "amount", "minor": 500}, "valid_days": 30}),
        ),
        ("POST", "/v1/coupons/issues") => {
            Some(json!({"id": "matrix", "template": "matrix", "tier": "bronze"}))
        }
        ("POST", "/v1/customers/{id}/points/adjustments") => {
            Some(json!({"points": 100, "reference": format!("matrix-{n}")}))
        }
        ("POST", "/v1/customers/{id}/points/redemptions") => {
            Some(json!({"points": 1, "reference": format!("matrix-{n}")}))
        }
        ("POST", "/v1/customers/{id}/coupons") => Some(json!({"template": "matrix"})),
        ("POST", "/v1/customers/{id}/coupons/{code}/redemptions") => {
            Some(json!({"reference": "matrix-checkout"}))
        }
        ("PUT", "/v1/teams/{team}") => Some(json!({"name": "Matrix team"})),
        ("PUT", "/v1/salespeople/{salesperson}") => Some(
            json!({"name": "Matrix Rep", "email": "rep@shop.cn", "team": "matrix", "capacity": 10}),
        ),
        ("PUT", "/v1/segments/definition") | ("POST", "/v1/segments/preview") => {
            Some(strata_domain::engage::SegmentList::default().to_json())
        }
        ("PUT", "/v1/strategies/{segment}") => Some(
            json!({"channels": ["phone"], "cadence": {"first_contact_days": 1, "every_days": 7, "task": "call"},
                "assign": true, "team": "matrix", "priority": 1}),
        ),
        ("PUT", "/v1/customers/{id}/referral") => {
            Some(json!({ "code": strata_store::ReferralRepository::code_for(a) }))
        }
        _ => None,
    };
    (path, body)
}

fn documented_routes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(common::repo_path("infra/openapi.yaml")).expect("openapi");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let mut routes = BTreeSet::new();
    for (route, item) in doc["paths"].as_mapping().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if !item[method].is_null() {
                routes.insert(format!(
                    "{} {}",
                    method.to_uppercase(),
                    route.as_str().expect("path")
                ));
            }
        }
    }
    routes
}

#[test]
fn the_matrix_and_the_rule_table_cover_every_documented_route() {
    let in_matrix: BTreeSet<String> = matrix()
        .iter()
        .map(|r| format!("{} {}", r.method, r.route))
        .collect();
    let ruled: BTreeSet<String> = strata_auth::routes::ROUTES
        .iter()
        .map(|(m, r, _)| format!("{m} {r}"))
        .collect();
    assert_eq!(in_matrix, documented_routes());
    assert_eq!(ruled, documented_routes());
}

#[tokio::test]
async fn every_route_wants_a_valid_token_and_the_right_role() {
    let api = api().await;
    let other_key = LocalIssuer::from_secret(&[4; 32])
        .mint(&api.principal(Who::Admin), chrono::Duration::minutes(5))
        .expect("token");
    let expired = api
        .issuer
        .mint(&api.principal(Who::Admin), chrono::Duration::seconds(-10))
        .expect("token");
    let mut n = 0;
    let mut made = Made::default();
    for row in matrix() {
        let name = format!("{} {}", row.method, row.route);
        for bad in [
            None,
            Some("garbage"),
            Some(other_key.as_str()),
            Some(expired.as_str()),
        ] {
            n += 1;
            let (path, body) = request_for(&api, &made, &row, n);
            let (status, headers, problem) = api.call(row.method, &path, bad, body).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{name} with {bad:?}: {problem}"
            );
            assert!(
                headers[header::WWW_AUTHENTICATE]
                    .to_str()
                    .expect("ascii")
                    .starts_with("Bearer"),
                "{name}"
            );
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        }
        for who in EVERYONE {
            n += 1;
            let (path, body) = request_for(&api, &made, &row, n);
            let token = api.token(who);
            let (status, _, answer) = api.call(row.method, &path, Some(&token), body).await;
            if row.allowed.contains(&who) {
                assert!(
                    row.ok.contains(&status.as_u16()),
                    "{name} as {who:?}: {status} {answer}"
                );
                made.note(&row, status, &answer);
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{name} as {who:?}: {answer}");
                assert_eq!(answer["type"], "/problems/forbidden");
            }
        }
    }
}

#[tokio::test]
async fn a_customer_token_never_reads_another_customers_data() {
    let api = api().await;
    let (a, b) = (api.a, api.b);
    let bob = api.token(Who::CustomerOther);
    let alice = api.token(Who::CustomerSelf);
    for route in [
        "/v1/customers/{id}",
        "/v1/customers/{id}/history",
        "/v1/customers/{id}/merges",
        "/v1/customers/{id}/tier-history",
        "/v1/customers/{id}/points",
        "/v1/customers/{id}/coupons",
        "/v1/customers/{id}/referral",
        "/v1/customers/{id}/recommendations",
        "/v1/customers/{id}/churn",
        "/v1/customers/{id}/conversion",
        "/v1/customers/{id}/export",
    ] {
        let (status, _, body) = api
            .call(
                "GET",
                &route.replace("{id}", &a.to_string()),
                Some(&bob),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains("alice") && !text.contains("A-1"),
            "{route} leaked: {text}"
        );
    }
    // Each reads their own; an upsert naming someone else's e-mail is not theirs to send.
    let (status, _, own) = api
        .call("GET", &format!("/v1/customers/{b}"), Some(&bob), None)
        .await;
    assert_eq!(
        (status, own["customer"]["identity"]["email"].as_str()),
        (StatusCode::OK, Some("bob@shop.cn"))
    );
    let (status, _, own) = api
        .call(
            "GET",
            &format!("/v1/customers/{a}/history"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["orders"][0]["id"], "A-1");
    let (status, _, export) = api
        .call(
            "GET",
            &format!("/v1/customers/{a}/export"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["customer"]["identity"]["email"], "alice@shop.cn");
    assert!(!export.to_string().contains("bob@shop.cn"));
    // Nor erase anyone, themself included.
    let (status, _, _) = api
        .call("DELETE", &format!("/v1/customers/{a}"), Some(&alice), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = api
        .call(
            "POST",
            "/v1/customers",
            Some(&bob),
            Some(json!({"email": "alice@shop.cn", "name": "Mallory"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_guard_leaves_an_audit_trail_only_admins_read() {
    let api = api().await;
    let a = api.a;
    let sales = api.token(Who::SalesAssigned);
    let (status, _, _) = api
        .call("GET", &format!("/v1/customers/{a}"), Some(&sales), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // A refused read is not an access to the data.
    let other = api.token(Who::SalesOther);
    api.call("GET", &format!("/v1/customers/{a}"), Some(&other), None)
        .await;
    let trail = api
        .as_admin("GET", &format!("/v1/audit?customer={a}"), None)
        .await;
    let entries = trail["entries"].as_array().expect("entries");
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or_default(),
                e["role"].as_str().unwrap_or_default(),
                e["action"].as_str().unwrap_or_default(),
                e["route"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("admin-1", "admin", "change", "POST /v1/customers"),
            (
                "admin-1",
                "admin",
                "change",
                "POST /v1/customers/{id}/orders"
            ),
            (
                "admin-1",
                "admin",
                "change",
                "PUT /v1/customers/{id}/assignment"
            ),
            ("sales-1", "sales", "read", "GET /v1/customers/{id}"),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["request_id"].as_str().is_some_and(|r| !r.is_empty()))
    );
    // Paged: one at a time, following `next`, gives the same entries.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/audit?customer={a}&limit=1");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.as_admin("GET", &path, None).await;
        paged.extend(page["entries"].as_array().expect("entries").clone());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(&paged, entries);
    // A time window: nothing before the epoch of this test run.
    let empty = api
        .as_admin(
            "GET",
            &format!("/v1/audit?customer={a}&to=2000-01-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(empty["entries"], json!([]));
    for who in [Who::Ops, Who::SalesAssigned, Who::CustomerSelf] {
        let token = api.token(who);
        let (status, _, _) = api
            .call(
                "GET",
                &format!("/v1/audit?customer={a}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}");
    }
}

#[tokio::test]
async fn server_owned_fields_are_refused_by_name_behind_the_guard() {
    let api = api().await;
    let admin = api.token(Who::Admin);
    let a = api.a;
    let cases = [
        ("PUT", "/v1/conversion/criteria".to_owned(), "revision"),
        ("POST", "/v1/customers".to_owned(), "role"),
        ("POST", format!("/v1/customers/{a}/orders"), "owner"),
        (
            "PUT",
            format!("/v1/customers/{a}/assignment"),
            "assigned_by",
        ),
    ];
    for (method, path, field) in cases {
        let mut body = match method {
            "PUT" if path.ends_with("criteria") => criteria(),
            "PUT" => json!({"salesperson": "s-1"}),
            _ if path.ends_with("orders") => {
                json!({"id": "MA-1", "placed_at": "2026-10-02", "total": "5.00"})
            }
            _ => json!({"email": "ma@shop.cn"}),
        };
        body[field] = json!(7);
        let (status, _, problem) = api.call(method, &path, Some(&admin), Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn an_audit_entry_is_never_overwritten() {
    let api = api().await;
    let log = AuditLog::new(api.host.table.clone(), chrono::Duration::days(30));
    let entry = AuditEntry {
        customer_id: api.a,
        // A minute ahead: the log's keys are to the millisecond, and the
        // set-up's own requests were audited moments ago.
        at: chrono::Utc::now() + chrono::Duration::minutes(1),
        subject: "ops-1".into(),
        role: Role::Ops,
        action: AuditAction::Read,
        route: "GET /v1/customers/{id}".into(),
        request_id: "req-1".into(),
        status: 200,
    };
    log.append(&entry).await.expect("first append");
    let forged = AuditEntry {
        subject: "someone-else".into(),
        ..entry.clone()
    };
    assert!(matches!(
        log.append(&forged).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let page = log
        .of(api.a, entry.at, entry.at, None, 10)
        .await
        .expect("read");
    assert_eq!(page.entries, [entry]);
}

/// The Lambda path: API Gateway's event → `lambda_http` → the guard in
/// gateway mode, which trusts the authorizer's claims and nothing else.
#[tokio::test]
async fn in_lambda_the_guard_trusts_the_authorizers_claims_only() {
    let api = api().await;
    let router = api.host.router(Authenticator::Gateway);
    let fixture = std::fs::read_to_string(common::repo_path(
        "events/apigw-http-get-customer-history.json",
    ))
    .expect("fixture");
    let event: Value = serde_json::from_str(&fixture).expect("json");
    let a = api.a.to_string();
    let aimed_at_a = |mut event: Value| {
        let raw = a.replace('-', "");
        event["rawPath"] = json!(format!("/v1/customers/{raw}/history"));
        event["requestContext"]["http"]["path"] = event["rawPath"].clone();
        event["pathParameters"]["id"] = json!(raw);
        event
    };
    let send = |event: Value| {
        let router = router.clone();
        async move {
            let request =
                lambda_http::request::from_str(&event.to_string()).expect("API Gateway v2 event");
            let response = router
                .oneshot(request.map(Body::new))
                .await
                .expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let claims = "/requestContext/authorizer/jwt/claims";

    // As the fixture is: a customer reading their own history.
    let mut own = aimed_at_a(event.clone());
    *own.pointer_mut(&format!("{claims}/strata:customer_id"))
        .expect("claim") = json!(a);
    let (status, body) = send(own.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["orders"][0]["id"], "A-1");

    // Another customer's claims on the same path.
    let mut other = own.clone();
    *other
        .pointer_mut(&format!("{claims}/strata:customer_id"))
        .expect("claim") = json!(api.b.to_string());
    assert_eq!(send(other).await.0, StatusCode::FORBIDDEN);

    // A salesperson the customer is not assigned to.
    let mut sales = own.clone();
    *sales
        .pointer_mut(&format!("{claims}/cognito:groups"))
        .expect("claim") = json!("[sales]");
    sales.pointer_mut(claims).expect("claims")["strata:salesperson_id"] = json!("s-2");
    assert_eq!(send(sales.clone()).await.0, StatusCode::FORBIDDEN);
    sales.pointer_mut(claims).expect("claims")["strata:salesperson_id"] = json!("s-1");
    assert_eq!(send(sales).await.0, StatusCode::OK);

    // No authorizer context (a route left open by mistake): nobody; a
    // bearer header alone is not trusted in this mode.
    let mut bare = own;
    bare["requestContext"]
        .as_object_mut()
        .expect("context")
        .remove("authorizer");
    let (status, body) = send(bare).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_salesperson_who_has_left_is_refused_whatever_their_token_says() {
    let api = api().await;
    let own_list = "/v1/salespeople/s-1/customers";
    let sales = api.token(Who::SalesAssigned);
    let (status, _, body) = api.call("GET", own_list, Some(&sales), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "not in the directory: as before ({body})"
    );
    let person = |status: &str| json!({"name": "Sales One", "email": "s1@shop.cn", "capacity": 20, "status": status});
    api.as_admin("PUT", "/v1/salespeople/s-1", Some(person("left")))
        .await;
    let (status, _, body) = api.call("GET", own_list, Some(&sales), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("has left"), "{body}");
    let (status, _, _) = api
        .call(
            "GET",
            &format!("/v1/customers/{}", api.a),
            Some(&sales),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    api.as_admin("PUT", "/v1/salespeople/s-1", Some(person("active")))
        .await;
    let (status, _, body) = api.call("GET", own_list, Some(&sales), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
