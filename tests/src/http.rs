//! Requests to a router in tests, as the guard would pass them on: JSON in
//! and out, and optionally the principal the guard would have put there.

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use strata_domain::access::Principal;
use tower::ServiceExt;

/// Sends one request; the body is JSON (`Null` when empty).
pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, HeaderMap) {
    send_as(app, None, method, path, body, headers).await
}

/// `send` with the principal the guard would have verified.
pub async fn send_as(
    app: &Router,
    principal: Option<Principal>,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, HeaderMap) {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let mut request = request.body(body).expect("request");
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    let response = app.clone().oneshot(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (parts.status, json, parts.headers)
}
