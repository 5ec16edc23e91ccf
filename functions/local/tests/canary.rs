//! The plaintext canary: known personal values go in through the HTTP API
//! (with an idempotency key, so its stored response counts too) and a bulk
//! import; ingest, tiering and a full backup run; then every byte Strata
//! wrote — the table and key-table files, every object (cold objects
//! decompressed), the snapshot's contents restored into a fresh table, and
//! every log line at debug level — is searched for them. None may hold one.
//! The values still read back through the API, so they were stored. Seed
//! and search are `common/canary.rs`, shared with `canary_on_moto.rs`.

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use chrono::Utc;
use common::canary::{self, Captured};
use http::{Request, StatusCode};
use serde_json::Value;
use strata_domain::backup::SnapshotKind;
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::RunOutcome;
use strata_lambda_kit::metrics::Metrics;
use strata_snapshot::{RestoreOptions, RestoreTarget, restore_snapshot};
use strata_store::{ErasedCustomers, ImportedObject};
use tower::ServiceExt;

async fn call(
    router: &Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Every file under `dir`, gzip members decompressed, as bytes.
fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, out);
            continue;
        }
        let bytes = canary::gunzipped(std::fs::read(&path).expect("read file"));
        out.push((path.display().to_string(), bytes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_personal_value_reaches_the_table_objects_backups_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .init();

    let api = common::local::LocalApi::open(9).await;
    let (dir, host, router) = (&api.dir, &api.host, api.router.clone());
    let admin = api.admin();

    // Through the API, old enough for tiering to move its activity.
    let (status, created) = call(
        &router,
        &admin,
        "POST",
        "/v1/customers",
        Some(canary::customer()),
        Some(canary::CREATE_IDEMPOTENCY_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    for (route, body) in canary::activity() {
        let uri = format!("/v1/customers/{id}/{route}");
        let (status, body) = call(&router, &admin, "POST", &uri, Some(body), None).await;
        assert!(status.is_success(), "{uri}: {status} {body}");
    }

    // Through a bulk import, as the S3 trigger runs it.
    let export_text = canary::export_text();
    let key = canary::EXPORT_KEY;
    let receipt = host
        .blobs
        .put(
            key,
            blob::body_from(export_text.clone().into_bytes()),
            PutOptions::default(),
        )
        .await
        .expect("upload");
    let object = ImportedObject {
        bucket: "local".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    };
    let outcome = host
        .importer
        .run(object, "canary-test", None)
        .await
        .expect("import");
    let RunOutcome::Completed(state) = outcome else {
        panic!("the import did not complete: {outcome:?}")
    };
    assert_eq!(state.counts.accepted, 1, "{:?}", state.counts);

    // Tiering, as the schedule runs it once the records are old.
    let tiering = strata_tiering::job::run(
        host.tiering.clone(),
        strata_tiering::job::JobSettings {
            min_object_bytes: 1,
            retention: canary::tiering_retention(),
            ..Default::default()
        },
        canary::tiering_as_of(),
    )
    .await
    .expect("tiering");
    assert!(tiering.moved.records >= 3, "{tiering:?}");

    let backup = host
        .backup
        .run(
            Utc::now(),
            Some(SnapshotKind::Full),
            &mut Metrics::new("Strata"),
        )
        .await
        .expect("backup");

    // The values are stored, and read back whole through the API.
    let (status, profile) = call(
        &router,
        &admin,
        "GET",
        &format!("/v1/customers/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        profile["customer"]["identity"]["email"],
        canary::EMAIL,
        "{profile}"
    );
    let (status, history) = call(
        &router,
        &admin,
        "GET",
        &format!("/v1/customers/{id}/history"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(
        history["interactions"][0]["text"],
        canary::COMPLAINT_TEXT,
        "the complaint's text reads back from the cold tier"
    );

    // The snapshot's contents, restored into a fresh table and store.
    let restored_dir = tempfile::tempdir().expect("tempdir");
    let restored = strata_embedded::EmbeddedBackend::open(restored_dir.path()).expect("store");
    restore_snapshot(
        &host.backup.snapshots,
        &backup.snapshot,
        &RestoreTarget {
            table: Arc::new(restored.table.clone()),
            blobs: Some(Arc::new(restored.blobs.clone())),
        },
        &ErasedCustomers::default(),
        &RestoreOptions::default(),
    )
    .await
    .expect("restore");
    let restored_items = strata_tests::dataset::dump(&restored.table)
        .await
        .expect("dump");
    assert!(restored_items.len() > 5, "the snapshot holds the data");

    let mut places = Vec::new();
    files_under(dir.path(), &mut places);
    files_under(restored_dir.path(), &mut places);
    places.push((
        "restored items".into(),
        format!("{restored_items:?}").into_bytes(),
    ));
    let log_bytes = logs.bytes();
    assert!(!log_bytes.is_empty(), "logs were captured");
    places.push(("logs".into(), log_bytes));
    // The shop's own upload is theirs, as they sent it; everything else is Strata's.
    let strata_wrote: Vec<(&str, &[u8])> = places
        .iter()
        .filter(|(_, b)| b != export_text.as_bytes())
        .map(|(place, bytes)| (place.as_str(), bytes.as_slice()))
        .collect();
    // Order numbers stay in the clear: the search does see what is stored.
    for number in canary::ORDER_NUMBERS {
        assert!(
            strata_wrote
                .iter()
                .any(|(_, bytes)| canary::holds(bytes, number.as_bytes())),
            "{number} is stored in the clear, yet the search did not find it"
        );
    }
    let found = canary::leaks(strata_wrote);
    assert!(
        found.is_empty(),
        "plaintext personal data found:\n{}",
        found.join("\n")
    );
}
