//! Every reader of customers' histories sees the same history before and
//! after tiering: on each backend a store of real Superstore histories
//! (four years of orders) is read by every job that scans customers — the
//! churn training export (its CSV bytes), the batch scoring (scores, bands,
//! the monthly churned/converted tallies), the recommendation precompute
//! (every customer's profile) and the demo's census — then the tiering job
//! moves most records to the cold tier, and every reader must give exactly
//! what it gave before. (The customer export route reads one history
//! through the same cold tier: `data_rights.rs`.)

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use strata_churn::batch::{self, BatchReport, BatchSettings};
use strata_churn::export;
use strata_domain::ReadOptions;
use strata_domain::churn::{ChurnScore, MonthlyCounts, TrainingCutoffs};
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::{self, PutOptions};
use strata_domain::recommend::Profile;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::Ingestor;
use strata_recommend::job::{self as recommend, JobSettings};
use strata_store::cold::{ColdTier, JOB_CACHE_BYTES};
use strata_store::{
    ChurnRepository, ImportRepository, ImportedObject, RecommendRepository, TieringRepository,
};
use strata_tests::backend::Backend;
use strata_tiering::job::{self as tiering, JobSettings as TieringSettings};

/// Superstore's first order lines, 2014–2017: about 170 customers on the
/// embedded backend, 70 on moto (which serves one request at a time).
fn lines(backend: &Backend) -> usize {
    if backend.name == "embedded" { 400 } else { 150 }
}
const SEGMENTS: u32 = 3;

/// What every reader gave.
#[derive(Debug, PartialEq)]
struct Readings {
    export_csv: String,
    export_rows: usize,
    scores: BTreeMap<CustomerId, ChurnScore>,
    batch: String,
    months: Vec<MonthlyCounts>,
    profiles: BTreeMap<CustomerId, Profile>,
    /// The census without which customers have cold records (tiering's
    /// very effect): customers, orders per customer, records not read,
    /// interactions, reviews, the last order, revenue per year.
    census: String,
}

async fn import(backend: &Backend) -> Vec<CustomerId> {
    let importer = Importer::new(
        Ingestor::new(
            backend.table.clone(),
            backend.privacy.clone(),
            ReadOptions::default(),
        ),
        backend.blobs.clone(),
        ImportRepository::new(backend.table.clone()),
    );
    let key = "imports/superstore/superstore.csv";
    let receipt = backend
        .blobs
        .put(
            key,
            blob::body_from(common::superstore_head(lines(backend)).into_bytes()),
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
    let outcome = importer.run(object, "test", None).await.expect("import");
    let RunOutcome::Completed(state) = outcome else {
        panic!("the import did not complete: {outcome:?}")
    };
    assert!(state.counts.customers_created > 50, "{:?}", state.counts);
    let mut ids = Vec::new();
    for segment in 0..SEGMENTS {
        let mut scan = strata_store::CustomerScan::new(
            backend.table.clone(),
            cold(backend),
            segment,
            SEGMENTS,
            500,
        );
        while let Some(customer) = scan.next().await.expect("scan") {
            ids.push(customer.id);
        }
    }
    ids
}

fn cold(backend: &Backend) -> ColdTier {
    ColdTier::new(backend.blobs.clone()).with_cache(JOB_CACHE_BYTES)
}

/// The day after Superstore's last order: what the jobs score as of.
fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2018, 1, 1, 0, 0, 0).unwrap()
}

async fn read_everything(backend: &Backend, customers: &[CustomerId]) -> Readings {
    let table = backend.table.clone();
    // The training export, as the retraining run and `strata churn
    // export-features` write it.
    let histories = export::read_customers(table.clone(), cold(backend), SEGMENTS)
        .await
        .expect("read customers");
    let (first, last) = export::purchase_span(&histories).expect("purchases");
    let cutoffs = TrainingCutoffs::monthly(first, last, 90, 12).expect("cut-offs");
    let mut csv = Vec::new();
    let summary = export::write_csv(&histories, cutoffs, &mut csv).expect("export");

    // The batch scoring and its monthly tallies.
    let model = strata_churn::lambda::serving_model(table.clone(), backend.blobs.clone())
        .await
        .expect("the bundled churn model (ORT_DYLIB_PATH)");
    let settings = BatchSettings {
        segments: SEGMENTS,
        ..BatchSettings::default()
    };
    let report: BatchReport = batch::run(table.clone(), cold(backend), model, settings, as_of())
        .await
        .expect("batch");
    let churn = ChurnRepository::new(table.clone());
    let mut scores = BTreeMap::new();
    for id in customers {
        if let Some(score) = churn.score(*id).await.expect("score") {
            scores.insert(*id, score);
        }
    }
    let months = churn.monthly("2014-01", "2018-12").await.expect("months");

    // The recommendation precompute: every customer's profile.
    recommend::run(
        table.clone(),
        cold(backend),
        JobSettings {
            segments: SEGMENTS,
            ..JobSettings::default()
        },
        as_of(),
    )
    .await
    .expect("precompute");
    let recommendations = RecommendRepository::new(table.clone());
    let mut profiles = BTreeMap::new();
    for id in customers {
        if let Some(profile) = recommendations.profile(*id).await.expect("profile") {
            profiles.insert(*id, profile);
        }
    }

    let census = strata_local::demo::census::take(table, &cold(backend))
        .await
        .expect("census");
    Readings {
        export_csv: String::from_utf8(csv).expect("utf-8"),
        export_rows: summary.rows,
        scores,
        // The report's counts, not how long the run took.
        batch: format!(
            "{:?}",
            BatchReport {
                seconds: 0.0,
                ..report
            }
        ),
        months,
        profiles,
        census: format!(
            "{} {:?} {} {} {} {:?} {:?}",
            census.customers,
            census.orders.into_iter().collect::<BTreeMap<_, _>>(),
            census.cold_unread,
            census.interactions,
            census.reviews,
            census.last_order_at,
            census.revenue
        ),
    }
}

async fn readers_see_the_same_history_after_tiering(backend: &Backend) {
    let customers = import(backend).await;
    let before = read_everything(backend, &customers).await;
    assert!(before.export_rows > 200, "{} rows", before.export_rows);
    assert!(!before.scores.is_empty() && !before.profiles.is_empty());

    // The weekly tiering run long after the import (profiles count as
    // activity when they change): customers inactive for 730 days move
    // whole, and so does every order older than 365 days.
    let repository = TieringRepository::new(backend.table.clone(), cold(backend))
        .with_retention_keys(backend.key_table.clone());
    let moved = tiering::run(
        repository,
        TieringSettings {
            min_object_bytes: 1,
            ..TieringSettings::default()
        },
        Utc::now() + Duration::days(800),
    )
    .await
    .expect("tiering");
    assert!(
        moved.moved.records > 50 && moved.customers_inactive * 2 > moved.customers,
        "tiering moved most customers' records: {moved:?}"
    );

    let after = read_everything(backend, &customers).await;
    assert_eq!(
        after.export_rows, before.export_rows,
        "training export rows"
    );
    assert!(
        after.export_csv == before.export_csv,
        "the training export's bytes changed"
    );
    assert_eq!(after.scores, before.scores, "churn scores");
    assert_eq!(after.batch, before.batch, "the batch run's counts");
    assert_eq!(after.months, before.months, "monthly tallies");
    assert_eq!(after.profiles, before.profiles, "recommendation profiles");
    assert_eq!(after.census, before.census, "the census");
}

strata_tests::on_every_adapter!(readers_see_the_same_history_after_tiering);
