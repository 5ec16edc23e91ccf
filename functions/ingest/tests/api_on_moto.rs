//! The API, fed real-shaped API Gateway events from `events/`, through the
//! same request path the Lambda runs, against DynamoDB served by moto on
//! 127.0.0.1.

use std::sync::Arc;

use strata_domain::ReadOptions;
use strata_domain::ports::table::Table;
use strata_ingest::ingest::Ingestor;
use tower::ServiceExt;

async fn moto_table() -> Arc<dyn Table> {
    let config = strata_tests::backend::moto_config().await.expect("moto");
    let table_name = format!("strata-ingest-{}", uuid::Uuid::now_v7().simple());
    let dynamodb = strata_aws::dynamodb_client(&config);
    strata_aws::create_table(&dynamodb, &table_name)
        .await
        .expect("table");
    Arc::new(strata_aws::DynamoTable::new(dynamodb, table_name))
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn the_api_fixture_goes_through_the_lambda_request_path() {
    strata_tests::require_moto!();
    let table = moto_table().await;
    let privacy = strata_tests::backend::moto_privacy()
        .await
        .expect("key table");
    let ingestor = Ingestor::new(table.clone(), privacy, ReadOptions::default());
    let app =
        strata_ingest::api::router(strata_ingest::api::ApiState::new(table.clone(), ingestor));
    let request = lambda_http::request::from_str(&fixture("apigw-http-post-customer.json"))
        .expect("API Gateway v2 event");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), http::StatusCode::CREATED);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["customer"]["identity"]["email"], "li.na@example.cn");
    assert_eq!(body["customer"]["identity"]["phone"], "+8613812345678");

    // The same request again (same Idempotency-Key): the first answer, replayed.
    let request =
        lambda_http::request::from_str(&fixture("apigw-http-post-customer.json")).expect("event");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), http::StatusCode::CREATED);
    assert_eq!(response.headers()["idempotent-replayed"], "true");

    let request =
        lambda_http::request::from_str(&fixture("apigw-http-get-import.json")).expect("event");
    let response = app.oneshot(request).await.expect("response");
    assert_eq!(response.status(), http::StatusCode::NOT_FOUND);
}
