//! The plaintext canary: known personal values go in through the HTTP API
//! (with an idempotency key, so its stored response counts too) and a bulk
//! import; ingest, tiering and a full backup run; then every byte Strata
//! wrote — the table and key-table files, every object (cold objects
//! decompressed), the snapshot's contents restored into a fresh table, and
//! every log line at debug level — is searched for them. None may hold one.
//! The values still read back through the API, so they were stored.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use chrono::{Duration, Utc};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_auth::{Authenticator, LocalIssuer};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_domain::backup::SnapshotKind;
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::RunOutcome;
use strata_lambda_kit::metrics::Metrics;
use strata_local::host::Host;
use strata_snapshot::{RestoreOptions, RestoreTarget, restore_snapshot};
use strata_store::{ErasedCustomers, ImportedObject};
use tower::ServiceExt;

/// Personal values, each distinctive enough to be found anywhere.
const CANARIES: &[&str] = &[
    "Quillon Canarywing",
    "金丝雀测试",
    "canary.quillon@example.org",
    "13907771234",
    "1971-02-03",
    "77 Canarywharf Lane",
    "198.51.100.77",
    "110105197102037774",
    "canary.importee@example.net",
    "Importee Canarybird",
    "13906665678",
    "Sparrowgate Road 9",
    // Inside a complaint's text and a review's text.
    "callmeat13905554321",
    "reviewer.canary@example.com",
];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
        let raw = std::fs::read(&path).expect("read file");
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut plain)
                .expect("gzip");
            plain
        } else {
            raw
        };
        out.push((path.display().to_string(), bytes));
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
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

    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::open(dir.path(), ReadOptions::default())
        .await
        .expect("the local host (ONNX Runtime via ORT_DYLIB_PATH; run `cargo xtask test`)");
    let issuer = Arc::new(LocalIssuer::from_secret(&[9; 32]));
    let admin = issuer
        .mint(
            &Principal::new("admin-1", Role::Admin, None, None).expect("principal"),
            Duration::minutes(10),
        )
        .expect("token");
    let router = host.router(Authenticator::Local(issuer));

    // Through the API, old enough for tiering to move its activity.
    let long_ago = |days: i64| (Utc::now() - Duration::days(900 + days)).to_rfc3339();
    let (status, created) = call(
        &router,
        &admin,
        "POST",
        "/v1/customers",
        Some(json!({
            "name": "Quillon Canarywing 金丝雀测试",
            "email": "canary.quillon@example.org",
            "phone": "139 0777 1234",
            "birth_date": "1971-02-03",
            "id_document": {"kind": "national_id", "country": "CN", "number": "110105197102037774"},
            "address": {"country": "CN", "city": "Beijing", "street": "77 Canarywharf Lane"},
            "network": {"ip": "198.51.100.77"},
        })),
        Some("canary-create-1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    for (route, body) in [
        (
            "orders",
            json!({"id": "CANARY-1", "placed_at": long_ago(0), "total": "99.00", "currency": "CNY"}),
        ),
        (
            "interactions",
            json!({"kind": "complaint", "channel": "chat", "at": long_ago(1),
                   "text": "box arrived broken, callmeat13905554321"}),
        ),
        (
            "reviews",
            json!({"product_id": "P-1", "rating": 2, "at": long_ago(2),
                   "text": "write to reviewer.canary@example.com"}),
        ),
    ] {
        let uri = format!("/v1/customers/{id}/{route}");
        let (status, body) = call(&router, &admin, "POST", &uri, Some(body), None).await;
        assert!(status.is_success(), "{uri}: {status} {body}");
    }

    // Through a bulk import, as the S3 trigger runs it.
    let export_text = format!(
        "customer_id,email,phone,name,street,order_id,order_date,amount\n\
         imp-1,canary.importee@example.net,139 0666 5678,Importee Canarybird,Sparrowgate Road 9,CANARY-2,{},12.50\n",
        (Utc::now() - Duration::days(950)).format("%Y-%m-%d")
    );
    let key = "imports/orders/canary.csv";
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
            // Texts kept, so the cold objects hold them (sealed) to search.
            retention: strata_domain::retention::RetentionPolicy {
                interaction_text_days: None,
                ..Default::default()
            },
            ..Default::default()
        },
        Utc::now() + Duration::days(800),
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
        profile["customer"]["identity"]["email"], "canary.quillon@example.org",
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
        history["interactions"][0]["text"], "box arrived broken, callmeat13905554321",
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
    let log_bytes = logs.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(!log_bytes.is_empty(), "logs were captured");
    places.push(("logs".into(), log_bytes));
    let mut found = Vec::new();
    // The shop's own upload is theirs, as they sent it; everything else is Strata's.
    for (place, bytes) in places.iter().filter(|(_, b)| b != export_text.as_bytes()) {
        for canary in CANARIES {
            if holds(bytes, canary) {
                found.push(format!("{canary} in {place}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "plaintext personal data found:\n{}",
        found.join("\n")
    );
}
