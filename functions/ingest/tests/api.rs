//! The HTTP API through the same router the Lambda serves, on the embedded backend.

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

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (StatusCode, Value, http::HeaderMap) {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (parts.status, json, parts.headers)
}

#[tokio::test]
async fn customers_are_created_found_again_and_merged() {
    let local = common::local().await;
    let app = app(&local);
    let ana = json!({"email": "Ana@Shop.CN", "name": "安娜", "consents": [{"purpose": "marketing", "granted": true, "at": "2026-01-01T00:00:00Z", "version": "v1", "source": "signup"}]});
    let (status, body, _) = send(&app, "POST", "/v1/customers", Some(ana.clone()), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["outcome"], "accepted");
    let id = body["customer"]["id"].as_str().expect("id").to_owned();
    assert_eq!(body["customer"]["identity"]["email"], "ana@shop.cn");

    let (status, body, _) = send(&app, "POST", "/v1/customers", Some(ana), None).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"email": "ana@shop.cn", "phone": "13812345678"})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("merged"))
    );
    assert_eq!(
        body["customer"]["id"],
        id.as_str(),
        "the same person, by e-mail"
    );

    let (status, body, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customer"]["identity"]["phone"], "+8613812345678");
    assert_eq!(body["stage"], "prospect");
    let (_, merges, _) = send(
        &app,
        "GET",
        &format!("/v1/customers/{id}/merges"),
        None,
        None,
    )
    .await;
    assert_eq!(merges["merges"][0]["fields"][0]["field"], "identity.phone");
}

#[tokio::test]
async fn orders_make_customers_formal_and_repeat_orders_are_duplicates() {
    let local = common::local().await;
    let app = app(&local);
    let (_, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"phone": "13912345678"})),
        None,
    )
    .await;
    let id = body["customer"]["id"].as_str().expect("id").to_owned();
    let (_, body, _) = send(&app, "POST", &format!("/v1/customers/{id}/interactions"), Some(json!({"kind": "inquiry", "channel": "wechat", "at": "2026-03-01T10:00:00+08:00", "text": "大米有货吗？"})), None).await;
    assert_eq!(body["status"], "accepted");
    let (_, body, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, None).await;
    assert_eq!(body["stage"], "intent");

    let order = json!({"id": "SO-1", "placed_at": "2026-03-02", "currency": "CNY", "lines": [{"product_id": "RICE-5KG", "quantity": 2, "unit_price": "39.90"}]});
    let (status, body, _) = send(
        &app,
        "POST",
        &format!("/v1/customers/{id}/orders"),
        Some(order.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body, _) = send(
        &app,
        "POST",
        &format!("/v1/customers/{id}/orders"),
        Some(order),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    let (_, body, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, None).await;
    assert_eq!(body["stage"], "new");
    assert_eq!(body["customer"]["activity"]["spent"]["CNY"], 7980);
    let second = json!({"id": "SO-2", "placed_at": "2026-04-02", "total": "10.00"});
    send(
        &app,
        "POST",
        &format!("/v1/customers/{id}/orders"),
        Some(second),
        None,
    )
    .await;
    let (_, body, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, None).await;
    assert_eq!(body["stage"], "returning");

    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/customers/0190b8a2-0000-7000-8000-000000000000/orders",
        Some(json!({"id": "X", "placed_at": "2026-01-01", "total": "1"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn bad_requests_get_problems_that_name_the_field() {
    let local = common::local().await;
    let app = app(&local);
    let cases = [
        (
            json!({"email": "a@b.cn", "tier": "diamond"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `tier`",
        ),
        (
            json!({"email": 42}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"email": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"name": "无名"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_identifier",
        ),
    ];
    for (body, want, mentions) in cases {
        let (status, problem, headers) =
            send(&app, "POST", "/v1/customers", Some(body.clone()), None).await;
        assert_eq!(status, want, "{body} → {problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(problem.to_string().contains(mentions), "{body} → {problem}");
    }
    let request = Request::builder()
        .method("POST")
        .uri("/v1/customers")
        .header("content-type", "application/json")
        .body(Body::from("{\"email\": "))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let huge = json!({"email": "a@b.cn", "name": "x".repeat(300 * 1024)});
    let (status, _, _) = send(&app, "POST", "/v1/customers", Some(huge), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, problem, _) = send(&app, "GET", "/v1/customers/not-a-uuid", None, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _, _) = send(&app, "GET", "/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_keys_replay_refuse_and_serialise() {
    let local = common::local().await;
    let app = app(&local);
    let customer = json!({"email": "key@shop.cn"});
    let (first, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(customer.clone()),
        Some("k-1"),
    )
    .await;
    assert_eq!(first, StatusCode::CREATED);
    let (again, replayed, headers) =
        send(&app, "POST", "/v1/customers", Some(customer), Some("k-1")).await;
    assert_eq!(
        (again, replayed.clone()),
        (StatusCode::CREATED, body.clone()),
        "a repeat returns the first result"
    );
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, problem, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"email": "other@shop.cn"})),
        Some("k-1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // Eight identical requests at once: exactly one runs.
    let id = body["customer"]["id"].as_str().expect("id").to_owned();
    let order = json!({"id": "SO-9", "placed_at": "2026-05-01", "total": "5.00"});
    let requests = (0..8).map(|_| {
        let (app, id, order) = (app.clone(), id.clone(), order.clone());
        tokio::spawn(async move {
            send(
                &app,
                "POST",
                &format!("/v1/customers/{id}/orders"),
                Some(order),
                Some("order-k"),
            )
            .await
        })
    });
    let mut statuses = Vec::new();
    for request in requests {
        let (status, body, headers) = request.await.expect("task");
        statuses.push((
            status,
            body["status"].as_str().map(str::to_owned),
            headers.contains_key("idempotent-replayed"),
        ));
    }
    let ran = statuses
        .iter()
        .filter(|(s, _, replayed)| *s == StatusCode::CREATED && !replayed)
        .count();
    assert_eq!(ran, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(s, _, replayed)| (*s == StatusCode::CREATED)
                || (*s == StatusCode::CONFLICT && !replayed)),
        "{statuses:?}"
    );
    let (_, history, _) = send(
        &app,
        "GET",
        &format!("/v1/customers/{id}/history"),
        None,
        None,
    )
    .await;
    assert_eq!(history["orders"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_batch_reports_each_record() {
    let local = common::local().await;
    let app = app(&local);
    let batch = json!({"records": [
        {"type": "customer", "customer": {"email": "b1@shop.cn", "name": "一"}},
        {"type": "order", "customer": {"email": "b1@shop.cn"}, "order": {"id": "B-1", "placed_at": "2026-01-05", "total": "12.50"}},
        {"type": "review", "customer": {"email": "b2@shop.cn"}, "review": {"product_id": "P1", "rating": 9, "at": "2026-01-06"}},
        {"type": "interaction", "customer": {"email": "b2@shop.cn"}, "interaction": {"kind": "complaint", "channel": "phone", "at": "2026-01-07"}}
    ]});
    let (status, body, _) = send(&app, "POST", "/v1/batch", Some(batch), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "rejected", "accepted"]);
    assert_eq!(body["results"][2]["errors"][0]["field"], "rating");
    let (status, _, _) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({"records": []})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, problem, _) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({"records": [{"type": "refund"}]})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}
