//! What the value and rewards tests share: dates relative to today and a
//! new customer through the API.

use axum::Router;
use chrono::{Duration, Utc};
use http::StatusCode;
use serde_json::{Value, json};
use strata_tests::http::send;

/// The date `days_ago` days before today, as an order's `placed_at`.
pub fn day(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago))
        .date_naive()
        .to_string()
}

/// A new customer known by e-mail; without a purchase they have no tier.
pub async fn new_customer(app: &Router, email: &str) -> String {
    let (status, body, _) = send(
        app,
        "POST",
        "/v1/customers",
        Some(json!({ "email": email })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["customer"]["tier"],
        Value::Null,
        "no purchase, no tier"
    );
    body["customer"]["id"].as_str().expect("id").to_owned()
}
