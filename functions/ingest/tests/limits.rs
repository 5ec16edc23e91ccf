//! Limits with a clear answer: an upload over the import size limit is
//! refused whole (reported, nothing stored), one at the limit is imported;
//! a batch over its record cap and a body over its byte cap are refused.

mod common;

use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_ingest::api::{ApiState, BATCH_BODY_LIMIT, MAX_BATCH_RECORDS, router};
use strata_ingest::import::run::RunOutcome;
use tower::ServiceExt;

fn customers_file(rows: usize) -> Vec<u8> {
    let mut file = b"email,name\n".to_vec();
    for n in 0..rows {
        file.extend_from_slice(format!("limit{n}@shop.cn,N{n}\n").as_bytes());
    }
    file
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_refused_whole_with_a_report() {
    let mut local = common::local().await;
    let file = customers_file(50);
    let size = file.len() as u64;
    local.importer.max_object_bytes = size - 1;
    let object = common::upload(local.blobs.as_ref(), "imports/customers/big.csv", file).await;
    let RunOutcome::Failed(state) = local
        .importer
        .run(object, "test", None)
        .await
        .expect("import")
    else {
        panic!("an oversized upload must fail")
    };
    let error = state.error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("{size} bytes")) && error.contains("STRATA_IMPORT_MAX_BYTES"),
        "{error}"
    );
    assert_eq!(state.counts.rows_read, 0, "nothing half-imported");
    let report = local
        .blobs
        .get(state.report_key.as_deref().expect("report"))
        .await
        .expect("report object");
    let bytes = strata_domain::ports::blob::collect(report.body)
        .await
        .expect("report bytes");
    let report: Value = serde_json::from_slice(&bytes).expect("report JSON");
    assert_eq!(report["status"], "failed", "{report}");
    for n in [0, 49] {
        let email =
            strata_domain::contact::Email::parse("e", &format!("limit{n}@shop.cn")).expect("email");
        let found = local
            .importer_customers()
            .find(&strata_domain::customer::Identifier::Email(email))
            .await
            .expect("lookup");
        assert_eq!(found, None, "row {n} must not be stored");
    }

    // The same file at the limit goes through.
    let mut local = common::local().await;
    local.importer.max_object_bytes = size;
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/customers/big.csv",
        customers_file(50),
    )
    .await;
    let outcome = local
        .importer
        .run(object, "test", None)
        .await
        .expect("import");
    let RunOutcome::Completed(state) = outcome else {
        panic!("at the limit the upload is imported")
    };
    assert_eq!(state.counts.accepted, 50);
}

#[tokio::test]
async fn batches_over_their_caps_are_refused_by_name() {
    let local = common::local().await;
    let ingestor = strata_ingest::ingest::Ingestor::new(
        local.table.clone(),
        local.privacy.clone(),
        strata_domain::ReadOptions::default(),
    );
    let app = router(ApiState::new(local.table.clone(), ingestor));
    let send = |body: Vec<u8>| {
        let app = app.clone();
        async move {
            let request = Request::post("/v1/batch")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let records: Vec<Value> = (0..=MAX_BATCH_RECORDS)
        .map(|n| json!({"type": "customer", "customer": {"email": format!("b{n}@shop.cn")}}))
        .collect();
    let (status, problem) = send(json!({ "records": records }).to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "records");
    let (status, problem) = send(json!({ "records": [] }).to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let padding = "x".repeat(BATCH_BODY_LIMIT);
    let huge = json!({"records": [{"type": "customer", "customer": {"email": "h@shop.cn", "name": padding}}]});
    let (status, problem) = send(huge.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(problem["type"], "/problems/payload-too-large");
}
