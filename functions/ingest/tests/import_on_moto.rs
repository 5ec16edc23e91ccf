//! The S3 upload trigger against DynamoDB and S3 served by moto on
//! 127.0.0.1: the real-shaped ObjectCreated event from `events/`, pointed at
//! an uploaded export, through the handler the import Lambda runs.

mod common;

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use strata_domain::ReadOptions;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::import::trigger;
use strata_ingest::ingest::Ingestor;
use strata_store::{ImportRepository, ImportedObject};

struct Moto {
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    bucket: String,
    importer: Importer,
}

async fn moto() -> Moto {
    let config = strata_tests::backend::moto_config().await.expect("moto");
    let name = format!("strata-import-{}", uuid::Uuid::now_v7().simple());
    let dynamodb = strata_aws::dynamodb_client(&config);
    strata_aws::create_table(&dynamodb, &name)
        .await
        .expect("table");
    let s3 = strata_aws::s3_client(&config);
    strata_aws::create_bucket(&s3, &name).await.expect("bucket");
    let table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(dynamodb, name.clone()));
    let blobs: Arc<dyn BlobStore> = Arc::new(strata_aws::S3BlobStore::new(s3, name.clone()));
    let privacy = strata_tests::backend::moto_privacy()
        .await
        .expect("key table");
    let importer = Importer::new(
        Ingestor::new(table.clone(), privacy, ReadOptions::default()),
        blobs.clone(),
        ImportRepository::new(table.clone()),
    );
    Moto {
        table,
        blobs,
        bucket: name,
        importer,
    }
}

/// The fixture event, naming the object that was really uploaded.
fn event_for(bucket: &str, object: &ImportedObject) -> S3Event {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/s3-object-created-import.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let record = &mut event["Records"][0]["s3"];
    record["bucket"]["name"] = bucket.into();
    record["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    record["object"]["key"] = object.key.replace(' ', "+").into();
    record["object"]["size"] = object.size.into();
    record["object"]["eTag"] = object.etag.trim_matches('"').into();
    record["object"]["versionId"] = serde_json::Value::Null;
    serde_json::from_value(event).expect("an S3 event")
}

async fn import(moto: &Moto, key: &str, bytes: Vec<u8>) -> Vec<RunOutcome> {
    let object = common::upload(moto.blobs.as_ref(), key, bytes).await;
    let event = event_for(&moto.bucket, &object);
    trigger::handle(&moto.importer, moto.blobs.as_ref(), event, "test", None)
        .await
        .expect("import")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_export_imports_once_through_the_trigger() {
    strata_tests::require_moto!();
    let moto = moto().await;
    let csv = "\
customer_id,email,name,order_id,order_date,amount
c1,Ann@Example.com,Ann,o1,2026-01-02,10.50
c2,bob@example.com,Bob,o2,2026-01-03,\"1,200.00\"
c1,ann@example.com,Ann,o3,2026-02-01,5
c3,not-an-email,Cy,o4,2026-02-02,3
";
    let outcomes = import(&moto, "imports/orders/small.csv", csv.into()).await;
    let [RunOutcome::Completed(state)] = outcomes.as_slice() else {
        panic!("{outcomes:?}");
    };
    let counts = &state.counts;
    assert_eq!(counts.rows_read, 4);
    assert!(counts.reconciles(), "{counts:?}");
    assert_eq!(counts.rejected, 1, "{counts:?}");
    assert_eq!(counts.customers_created, 2, "{counts:?}");
    assert_eq!(counts.orders_created, 3, "{counts:?}");
    let _ = &moto.table;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superstore_imports_exactly_through_the_trigger() {
    strata_tests::require_moto!();
    let moto = moto().await;
    // The first 2,000 order lines (a fifth of the file, hundreds of
    // customers and orders spread over several chunks): on the AWS adapters
    // they must count exactly what the embedded backend counts for the same
    // bytes, which import_real_data.rs checks against the whole file.
    let bytes: Vec<u8> =
        std::fs::read(common::dataset("STRATA_SUPERSTORE_PATH")).expect("Superstore orders");
    let head: Vec<u8> = bytes
        .split_inclusive(|b| *b == b'\n')
        .take(2_001)
        .flatten()
        .copied()
        .collect();
    let key = "imports/superstore/superstore.csv";
    let outcomes = import(&moto, key, head.clone()).await;
    let [RunOutcome::Completed(state)] = outcomes.as_slice() else {
        panic!("{outcomes:?}");
    };
    let counts = &state.counts;
    assert_eq!(counts.rows_read, 2_000);
    assert!(counts.reconciles(), "{counts:?}");
    assert_eq!(
        counts.rejected, 0,
        "{} rejection files",
        state.rejection_files
    );
    let local = common::local().await;
    let object = common::upload(local.blobs.as_ref(), key, head).await;
    let embedded = common::import_to_end(&local.importer, object).await.counts;
    assert_eq!(counts.customers_created, embedded.customers_created);
    assert_eq!(counts.orders_created, embedded.orders_created);
    assert_eq!(counts.products_upserted, embedded.products_upserted);
    assert_eq!(counts.accepted, embedded.accepted);
    assert!(counts.customers_created > 300, "{counts:?}");
}
