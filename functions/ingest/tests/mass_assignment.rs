//! No mass assignment: fields a client may not set (role, owner, version,
//! scores, assignee, ids the server decides) are refused with a 422 naming
//! the field, in every create and update body, and nothing is stored.

mod common;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_ingest::api::{ApiState, router};
use tower::ServiceExt;

fn app(local: &common::Local) -> Router {
    let ingestor = strata_ingest::ingest::Ingestor::new(
        local.table.clone(),
        local.privacy.clone(),
        strata_domain::ReadOptions::default(),
    );
    router(ApiState::new(local.table.clone(), ingestor))
}

async fn send(app: &Router, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn with(mut body: Value, field: &str) -> Value {
    body[field] = json!("x");
    body
}

const SERVER_SIDE: [&str; 12] = [
    "role",
    "owner",
    "owner_id",
    "customer_id",
    "version",
    "scores",
    "churn",
    "tier",
    "assignee",
    "salesperson",
    "created_at",
    "activity",
];

#[tokio::test]
async fn server_side_fields_are_refused_by_name_everywhere() {
    let local = common::local().await;
    let app = app(&local);
    let (status, made) = send(&app, "POST", "/v1/customers", json!({"email": "c@shop.cn"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["customer"]["id"].as_str().expect("id").to_owned();
    let bodies = [
        (
            "POST",
            "/v1/customers".to_owned(),
            json!({"email": "d@shop.cn"}),
        ),
        (
            "POST",
            format!("/v1/customers/{id}/orders"),
            json!({"id": "O-1", "placed_at": "2026-01-01", "total": "1.00"}),
        ),
        (
            "POST",
            format!("/v1/customers/{id}/interactions"),
            json!({"kind": "inquiry", "channel": "wechat", "at": "2026-01-01"}),
        ),
        (
            "POST",
            format!("/v1/customers/{id}/reviews"),
            json!({"product_id": "P1", "rating": 4, "at": "2026-01-01"}),
        ),
        (
            "PUT",
            format!("/v1/customers/{id}/assignment"),
            json!({"salesperson": "s-1"}),
        ),
    ];
    for (method, path, body) in &bodies {
        for field in SERVER_SIDE {
            if body.get(field).is_some() {
                continue; // the one field this body is about
            }
            let (status, problem) = send(&app, method, path, with(body.clone(), field)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {path} with {field}: {problem}"
            );
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
            assert_eq!(problem["errors"][0]["code"], "unknown_field");
        }
    }
    // In a batch, the path names the record and the object.
    let batch = json!({"records": [{"type": "customer", "customer": {"email": "e@shop.cn", "role": "admin"}}]});
    let (status, problem) = send(&app, "POST", "/v1/batch", batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let field = problem["errors"][0]["field"].as_str().expect("field");
    assert!(field.ends_with("role"), "{field}");
    // Nothing was stored by the refused requests: d@ and e@ are unknown.
    let (status, made) = send(&app, "POST", "/v1/customers", json!({"email": "d@shop.cn"})).await;
    assert_eq!(
        (status, made["outcome"].as_str()),
        (StatusCode::CREATED, Some("accepted"))
    );
}
