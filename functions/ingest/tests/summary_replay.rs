//! Incremental summaries under crashes: an import stopped after any one of
//! its writes (records stored, profiles not yet brought forward; profiles
//! saved, checkpoint not yet written; …) and then run again ends with every
//! record counted once, on the embedded backend and on DynamoDB (moto). A
//! chunk applied twice adds nothing the second time, and a recount repairs
//! a summary that went wrong.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use strata_domain::ReadOptions;
use strata_domain::activity::ActivitySummary;
use strata_domain::contact::Email;
use strata_domain::customer::{CustomerInput, Identifier, Origin};
use strata_domain::order::{OrderInput, OrderStatus};
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_ingest::import::record::ImportRecord;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::{Ingestor, Outcome, OwnerCache, Pending, Summaries};
use strata_store::{
    ActivityRepository, CustomerRepository, ImportCounts, ImportRepository, ImportedObject, Privacy,
};
use strata_tests::backend::Backend;
use strata_tests::crash::{CrashingTable, Requests};

const KEY: &str = "imports/orders/replay.csv";
const CUSTOMERS: usize = 7;
const ROWS: usize = 45;
/// Three chunks, so a crash can fall in the first, a middle or the last.
const CHUNK_ROWS: usize = 15;

/// Orders of a few customers; some order numbers come again, in the same
/// chunk and in a later one (duplicates), and one amount is not a number.
fn export() -> Vec<u8> {
    let mut file = String::from("customer_id,email,order_id,order_date,amount\n");
    for row in 0..ROWS {
        let order = match row {
            9 => 7,   // again in the same chunk
            31 => 4,  // again two chunks later
            40 => 22, // again one chunk later
            n => n,
        };
        let customer = order % CUSTOMERS;
        let amount = if row == 17 {
            "lots".to_owned()
        } else {
            format!("{}.{:02}", 10 + order, order % 100)
        };
        file.push_str(&format!(
            "c{customer},shopper{customer}@example.com,o{order},2025-{:02}-{:02},{amount}\n",
            1 + order % 12,
            1 + order % 28
        ));
    }
    file.into_bytes()
}

fn importer(table: Arc<dyn Table>, privacy: Arc<Privacy>, blobs: Arc<dyn BlobStore>) -> Importer {
    let mut importer = Importer::new(
        Ingestor::new(table.clone(), privacy, ReadOptions::default()),
        blobs,
        ImportRepository::new(table),
    );
    importer.chunk_rows = CHUNK_ROWS;
    importer
}

async fn upload(blobs: &dyn BlobStore) -> anyhow::Result<ImportedObject> {
    let receipt = blobs
        .put(KEY, blob::body_from(export()), PutOptions::default())
        .await?;
    Ok(ImportedObject {
        bucket: "replay".into(),
        key: KEY.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    })
}

fn shopper(n: usize) -> anyhow::Result<Identifier> {
    Email::parse("email", &format!("shopper{n}@example.com"))
        .map(Identifier::Email)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Each customer's stored summary, checked against a recount of their history.
async fn summaries(
    table: Arc<dyn Table>,
    privacy: Arc<Privacy>,
) -> anyhow::Result<BTreeMap<usize, ActivitySummary>> {
    let customers = CustomerRepository::new(table.clone(), privacy);
    let activity = ActivityRepository::new(table);
    let mut all = BTreeMap::new();
    for n in 0..CUSTOMERS {
        let id = customers
            .find(&shopper(n)?)
            .await?
            .with_context(|| format!("customer {n} was not stored"))?;
        let profile = customers.get(id).await?.context("profile")?;
        let recounted = activity.summary(id).await?;
        if profile.activity != recounted {
            bail!(
                "customer {n}: stored summary {:?} is not the history's {:?}",
                profile.activity,
                recounted
            );
        }
        all.insert(n, profile.activity);
    }
    Ok(all)
}

/// What a crash-free import gives, and how many table writes it makes.
async fn reference(
    backend: &Backend,
) -> anyhow::Result<(ImportCounts, BTreeMap<usize, ActivitySummary>, usize)> {
    let table = backend.fresh_table().await?;
    let blobs = backend.fresh_store(false).await?;
    let requests = Requests::new(None);
    let counted: Arc<dyn Table> = Arc::new(CrashingTable::new(table.clone(), requests.clone()));
    let object = upload(blobs.as_ref()).await?;
    let RunOutcome::Completed(state) = importer(counted, backend.privacy.clone(), blobs)
        .run(object, "w", None)
        .await?
    else {
        bail!("the reference import did not complete");
    };
    Ok((
        state.counts,
        summaries(table, backend.privacy.clone()).await?,
        requests.writes(),
    ))
}

/// Crashes the import after `crash_after` table writes, runs it again to the
/// end, and checks the report's every count (rows, customers and orders
/// created) and the summaries against the crash-free run.
async fn crash_and_resume(
    backend: &Backend,
    crash_after: usize,
    expected: &(ImportCounts, BTreeMap<usize, ActivitySummary>),
) -> anyhow::Result<()> {
    let table = backend.fresh_table().await?;
    let blobs = backend.fresh_store(false).await?;
    let object = upload(blobs.as_ref()).await?;
    let requests = Requests::new(Some(crash_after));
    let crashing: Arc<dyn Table> = Arc::new(CrashingTable::new(table.clone(), requests.clone()));
    let first = importer(crashing, backend.privacy.clone(), blobs.clone())
        .run(object.clone(), "w", None)
        .await;
    if first.is_ok() || !requests.crashed() {
        bail!("the import did not crash after {crash_after} writes: {first:?}");
    }
    let RunOutcome::Completed(state) = importer(table.clone(), backend.privacy.clone(), blobs)
        .run(object, "w", None)
        .await?
    else {
        bail!("the import run again after the crash did not complete");
    };
    let (counts, summaries_expected) = expected;
    let c = state.counts;
    if !c.reconciles() || c != *counts {
        bail!("crash after {crash_after} writes: counts {c:?}, crash-free {counts:?}");
    }
    let found = summaries(table, backend.privacy.clone())
        .await
        .with_context(|| format!("crash after {crash_after} writes"))?;
    if found != *summaries_expected {
        bail!(
            "crash after {crash_after} writes: summaries {found:?}, crash-free {summaries_expected:?}"
        );
    }
    Ok(())
}

/// Crashes at every `step`-th write of the import (every write when 1).
async fn crash_anywhere(backend: Backend, step: usize) -> anyhow::Result<()> {
    let (counts, summaries, writes) = reference(&backend).await?;
    assert_eq!(counts.rows_read, ROWS as u64);
    assert_eq!(counts.rejected, 1, "{counts:?}");
    assert_eq!(counts.duplicates, 3, "{counts:?}");
    assert_eq!(counts.customers_created, CUSTOMERS as u64, "{counts:?}");
    assert!(
        writes > 10,
        "a three-chunk import writes more than {writes} times"
    );
    let total: u32 = summaries.values().map(|s| s.purchases).sum();
    assert_eq!(
        total as u64, counts.accepted,
        "one purchase per order stored"
    );
    let expected = (counts, summaries);
    for crash_after in (1..writes).step_by(step) {
        crash_and_resume(&backend, crash_after, &expected).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_write_counts_every_record_once_embedded() -> anyhow::Result<()> {
    crash_anywhere(Backend::embedded().await?, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_write_counts_every_record_once_on_moto() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    // Every write is one moto round trip and a fresh table per crash point;
    // every third write keeps the test short (the embedded run covers every
    // point) and still lands inside each chunk's order claims, between its
    // record writes and its profile saves.
    crash_anywhere(Backend::aws().await?, 3).await
}

/// The same chunk applied twice, as when the checkpoint after it was lost:
/// the second pass reports the same outcomes and adds nothing.
async fn chunk_applied_twice(backend: Backend) -> anyhow::Result<()> {
    let table = backend.fresh_table().await?;
    let ingestor = Ingestor::new(
        table.clone(),
        backend.privacy.clone(),
        ReadOptions::default(),
    );
    let origin = Origin {
        source: "import:strata".into(),
        at: chrono::Utc::now(),
    };
    let rows: Vec<Pending> = (1..=6u64)
        .map(|row| Pending {
            row,
            record: ImportRecord::Order {
                customer: CustomerInput {
                    email: Some(format!("twice{}@example.com", row % 2)),
                    ..CustomerInput::default()
                },
                order: OrderInput {
                    id: format!("T-{}", row.min(5)),
                    placed_at: format!("2025-03-0{row} 10:00"),
                    status: OrderStatus::Paid,
                    currency: None,
                    lines: Vec::new(),
                    total: Some(format!("{row}0.00")),
                    item_count: Some(1),
                    coupon: None,
                },
            },
            origin: origin.clone(),
        })
        .collect();
    let summaries = Summaries::Incremental {
        import: "twice".into(),
    };
    let (first, created_first) = ingestor
        .apply(rows.clone(), &mut OwnerCache::default(), &summaries)
        .await?;
    let before = profiles(&ingestor, &first).await?;
    let (second, created) = ingestor
        .apply(rows, &mut OwnerCache::default(), &summaries)
        .await?;
    assert_eq!(first, second, "a chunk applied again reports the same");
    assert_eq!(created, created_first, "and counts the same creations");
    assert_eq!(created.orders, 5, "T-5 twice in the chunk is one order");
    assert_eq!(created.customers, 2, "twice0@ and twice1@");
    let after = profiles(&ingestor, &second).await?;
    for (id, summary) in &after {
        assert_eq!(Some(summary), before.get(id), "nothing added twice");
        assert_eq!(*summary, ingestor.activity().summary(*id).await?);
    }
    assert_eq!(after.values().map(|s| s.purchases).sum::<u32>(), 5);
    Ok(())
}

async fn profiles(
    ingestor: &Ingestor,
    outcomes: &[Outcome],
) -> anyhow::Result<BTreeMap<strata_domain::ids::CustomerId, ActivitySummary>> {
    let mut summaries = BTreeMap::new();
    for id in outcomes.iter().filter_map(Outcome::customer) {
        let profile = ingestor.customers().get(id).await?.context("profile")?;
        summaries.insert(id, profile.activity);
    }
    Ok(summaries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_applied_twice_counts_once_embedded() -> anyhow::Result<()> {
    chunk_applied_twice(Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_applied_twice_counts_once_on_moto() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    chunk_applied_twice(Backend::aws().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recount_repairs_a_wrong_summary() -> anyhow::Result<()> {
    let backend = Backend::embedded().await?;
    let table = backend.fresh_table().await?;
    let blobs = backend.fresh_store(false).await?;
    let object = upload(blobs.as_ref()).await?;
    importer(table.clone(), backend.privacy.clone(), blobs)
        .run(object, "w", None)
        .await?;
    let customers = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let id = customers.find(&shopper(3)?).await?.context("customer")?;
    let mut profile = customers.get(id).await?.context("profile")?;
    let right = profile.activity.clone();
    profile.activity.purchases += 40;
    customers.save(&profile).await?;

    Ingestor::new(
        table.clone(),
        backend.privacy.clone(),
        ReadOptions::default(),
    )
    .recount_summaries(&[id])
    .await?;
    let repaired = customers.get(id).await?.context("profile")?;
    assert_eq!(repaired.activity, right);
    assert!(
        repaired
            .summary_marks
            .iter()
            .any(|m| m.row as usize <= ROWS && m.row > 0),
        "the recount keeps how far the import is counted: {:?}",
        repaired.summary_marks
    );
    Ok(())
}
