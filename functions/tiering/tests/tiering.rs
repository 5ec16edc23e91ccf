//! The tiering run against the embedded backend and moto: a crash after
//! every single write leaves each record hot, cold or both and a second run
//! finishes without duplicates; histories read back whole, archived objects
//! answer with a restore, returning customers are re-warmed; the scheduled
//! event fixture goes through the handler.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Duration, Utc};
use strata_domain::activity::ActivitySummary;
use strata_domain::channel::Channel;
use strata_domain::churn::{ChurnScore, RiskBand};
use strata_domain::ids::{CustomerId, InteractionId};
use strata_domain::interaction::{Interaction, InteractionKind};
use strata_domain::ports::blob::{self, BlobStore, StorageClass};
use strata_domain::ports::table::{Item, Key, Table};
use strata_store::cold::{ColdPointer, ColdTier, ObjectContent};
use strata_store::{
    ActivityRepository, BatchPolicy, ChurnRepository, CustomerScan, Period, RecordKind, StoreError,
    TieringRepository,
};
use strata_tests::backend::Backend;
use strata_tests::crash::{CrashingBlobs, CrashingTable, Requests};
use strata_tests::dataset;
use strata_tiering::job::{self, JobSettings};

const COLD_PREFIX: &str = "cold/activity/";

/// A shop whose customers are all idle two years on, but for one on the
/// early-warning list and one with a fresh complaint.
struct Fixture {
    shop: dataset::Shop,
    warned: CustomerId,
    complained: CustomerId,
    as_of: DateTime<Utc>,
}

fn fixture(customers: usize, orders: usize) -> anyhow::Result<Fixture> {
    let shop = dataset::generate(customers, orders, 6)?;
    Ok(Fixture {
        warned: shop.customers[0].id,
        complained: shop.customers[1].id,
        shop,
        as_of: Utc::now() + Duration::days(800),
    })
}

async fn seed(table: Arc<dyn Table>, f: &Fixture) -> anyhow::Result<()> {
    dataset::load(table.clone(), &f.shop, BatchPolicy::default()).await?;
    ChurnRepository::new(table.clone())
        .put_score(&ChurnScore {
            customer_id: f.warned,
            probability: 0.93,
            band: RiskBand::High,
            reasons: Vec::new(),
            model_version: "test".into(),
            as_of: Utc::now(),
            contactable: true,
        })
        .await?;
    let activity = ActivityRepository::new(table).with_privacy(dataset::process_privacy().await?);
    for (customer, kind, at) in [
        (
            f.complained,
            InteractionKind::Complaint,
            f.as_of - Duration::days(10),
        ),
        (
            f.shop.customers[2].id,
            InteractionKind::Inquiry,
            Utc::now() - Duration::days(40),
        ),
    ] {
        activity
            .record_interaction(&Interaction {
                id: InteractionId::generate(),
                customer_id: customer,
                kind,
                channel: Channel::Email,
                at,
                text: Some("米有虫子 🐛".into()),
                product_id: None,
                order_id: None,
            })
            .await?;
    }
    Ok(())
}

fn settings() -> JobSettings {
    JobSettings {
        segments: 2,
        page_size: 50,
        // Small objects so one run writes several per segment.
        target_raw_bytes: 4 * 1024,
        min_object_bytes: 1,
        ..JobSettings::default()
    }
}

/// Where every activity record is: hot, and how often listed cold.
#[derive(Debug, Default)]
struct Tiers {
    hot: BTreeSet<Key>,
    cold: BTreeMap<Key, usize>,
    journal: usize,
    objects: usize,
    /// Lines of cold objects no pointer lists.
    orphans: usize,
}

async fn tiers(table: &dyn Table, blobs: &dyn BlobStore) -> anyhow::Result<Tiers> {
    let mut t = Tiers::default();
    let items = dataset::dump(table).await?;
    let mut contents: HashMap<String, ObjectContent> = HashMap::new();
    let mut page = blobs.list(COLD_PREFIX, None, 1000).await?;
    loop {
        for object in &page.objects {
            let body = blob::collect(blobs.get(&object.key).await?.body).await?;
            contents.insert(object.key.clone(), ObjectContent::parse(&body)?);
        }
        match page.next.take() {
            Some(next) => page = blobs.list(COLD_PREFIX, Some(next), 1000).await?,
            None => break,
        }
    }
    t.objects = contents.len();
    let mut listed = 0;
    for (key, item) in &items {
        match RecordKind::of(item) {
            Some(RecordKind::Order | RecordKind::Interaction | RecordKind::Review) => {
                t.hot.insert(key.clone());
            }
            Some(RecordKind::TieringJournal) => t.journal += 1,
            Some(RecordKind::ColdPointer) => {
                let pointer = ColdPointer::of(item)?;
                let content = contents
                    .get(&pointer.object)
                    .with_context(|| format!("pointer into missing {}", pointer.object))?;
                for record in content.records_of(&pointer)? {
                    listed += 1;
                    *t.cold.entry(Key::of(&record).context("key")?).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let lines: u64 = contents.values().map(|c| c.records).sum();
    t.orphans = usize::try_from(lines)? - listed;
    Ok(t)
}

fn activity_keys(items: &BTreeMap<Key, Item>) -> BTreeSet<Key> {
    items
        .iter()
        .filter(|(_, item)| {
            matches!(
                RecordKind::of(item),
                Some(RecordKind::Order | RecordKind::Interaction | RecordKind::Review)
            )
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// Never neither: each record is hot or listed cold.
fn none_lost(records: &BTreeSet<Key>, t: &Tiers) -> anyhow::Result<()> {
    for key in records {
        ensure!(
            t.hot.contains(key) || t.cold.contains_key(key),
            "{key:?} is in neither tier"
        );
    }
    Ok(())
}

/// Each record in exactly one tier, nothing half done, no stray lines.
fn settled(records: &BTreeSet<Key>, t: &Tiers) -> anyhow::Result<()> {
    for key in records {
        let copies = usize::from(t.hot.contains(key)) + t.cold.get(key).copied().unwrap_or(0);
        ensure!(copies == 1, "{key:?} is stored {copies} times");
    }
    let extra: Vec<&Key> = t.cold.keys().filter(|k| !records.contains(k)).collect();
    ensure!(
        extra.is_empty(),
        "cold records that never existed: {extra:?}"
    );
    ensure!(t.journal == 0, "{} journal entries left", t.journal);
    ensure!(t.orphans == 0, "{} cold lines no pointer lists", t.orphans);
    Ok(())
}

/// Whole histories and summaries, read through the cold tier, equal what
/// was stored before tiering.
async fn histories_intact(
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    before: &HashMap<CustomerId, (usize, ActivitySummary)>,
) -> anyhow::Result<()> {
    // The scheduled jobs' path: a scan that completes histories from the
    // cold tier (through its object cache) yields every record once.
    let cold = ColdTier::new(blobs.clone()).with_cache(64 * 1024 * 1024);
    let mut scan = CustomerScan::new(table.clone(), cold, 0, 1, 100);
    let mut scanned = 0;
    while let Some(customer) = scan.next().await? {
        let Some((records, _)) = before.get(&customer.id) else {
            continue;
        };
        let h = &customer.history;
        let read = h.orders.len() + h.interactions.len() + h.reviews.len();
        ensure!(
            read == *records && customer.cold_unread == 0,
            "scan of customer {}: {read} records, {records} before",
            customer.id
        );
        scanned += 1;
    }
    ensure!(
        scanned == before.len(),
        "{scanned} customers scanned of {}",
        before.len()
    );
    let activity = ActivityRepository::new(table).with_cold_tier(ColdTier::new(blobs));
    for (id, (records, summary)) in before {
        let history = activity.history(*id).await?;
        let read = history.orders.len() + history.interactions.len() + history.reviews.len();
        ensure!(
            read == *records,
            "customer {id}: {read} records, {records} before"
        );
        ensure!(
            activity.summary(*id).await? == *summary,
            "customer {id}: summary changed"
        );
    }
    Ok(())
}

async fn summaries(
    table: Arc<dyn Table>,
    f: &Fixture,
) -> anyhow::Result<HashMap<CustomerId, (usize, ActivitySummary)>> {
    let activity = ActivityRepository::new(table);
    let mut out = HashMap::new();
    for customer in &f.shop.customers {
        let h = activity.history(customer.id).await?;
        let summary = ActivitySummary::of(&h.orders, &h.interactions, &h.reviews);
        out.insert(
            customer.id,
            (
                h.orders.len() + h.interactions.len() + h.reviews.len(),
                summary,
            ),
        );
    }
    Ok(out)
}

fn wrapped(
    table: &Arc<dyn Table>,
    blobs: &Arc<dyn BlobStore>,
    requests: &Arc<Requests>,
) -> TieringRepository {
    TieringRepository::new(
        Arc::new(CrashingTable::new(table.clone(), requests.clone())),
        ColdTier::new(Arc::new(CrashingBlobs::new(
            blobs.clone(),
            requests.clone(),
        ))),
    )
}

/// Crashes the run after `crash_after` writes, checks nothing was lost,
/// runs again and checks everything settled.
async fn crash_and_rerun(
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    f: &Fixture,
    crash_after: usize,
) -> anyhow::Result<()> {
    seed(table.clone(), f).await?;
    let records = activity_keys(&dataset::dump(table.as_ref()).await?);
    let before = summaries(table.clone(), f).await?;
    let requests = Requests::new(Some(crash_after));
    let crashed = job::run(wrapped(&table, &blobs, &requests), settings(), f.as_of).await;
    ensure!(
        crashed.is_err() && requests.crashed(),
        "the run was to stop after write {crash_after}: {crashed:?}"
    );
    none_lost(&records, &tiers(table.as_ref(), blobs.as_ref()).await?)
        .with_context(|| format!("after a crash at write {crash_after}"))?;

    let report = job::run(
        TieringRepository::new(table.clone(), ColdTier::new(blobs.clone())),
        settings(),
        f.as_of,
    )
    .await?;
    let t = tiers(table.as_ref(), blobs.as_ref()).await?;
    settled(&records, &t)
        .with_context(|| format!("re-run after a crash at write {crash_after}"))?;
    // Everyone idle is tiered whole; the two exempt customers stay hot.
    let exempt = [f.warned, f.complained];
    for key in &t.hot {
        let owner = f
            .shop
            .customers
            .iter()
            .find(|c| key.pk.ends_with(&c.id.to_string()))
            .context("owner")?;
        ensure!(exempt.contains(&owner.id), "{key:?} stayed hot");
    }
    ensure!(report.exempt_early_warning == 1 && report.exempt_open_complaint == 1);
    histories_intact(table, blobs, &before).await
}

/// Writes an uninterrupted run makes, to know where crashes can fall.
async fn writes_of_a_run(backend: &Backend, f: &Fixture) -> anyhow::Result<usize> {
    let (table, blobs) = (
        backend.fresh_table().await?,
        backend.fresh_store(false).await?,
    );
    seed(table.clone(), f).await?;
    let requests = Requests::new(None);
    let report = job::run(wrapped(&table, &blobs, &requests), settings(), f.as_of).await?;
    ensure!(
        report.moved.objects >= 3,
        "too few objects to test: {report:?}"
    );
    Ok(requests.writes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_crash_after_any_write_loses_nothing_and_a_rerun_settles() -> anyhow::Result<()>
{
    let backend = Backend::embedded().await?;
    let f = fixture(24, 4)?;
    let writes = writes_of_a_run(&backend, &f).await?;
    for crash_after in 0..writes {
        let (table, blobs) = (
            backend.fresh_table().await?,
            backend.fresh_store(false).await?,
        );
        crash_and_rerun(table, blobs, &f, crash_after).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_crash_mid_run_is_finished_by_the_next_run() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    let backend = Backend::aws().await?;
    let f = fixture(10, 3)?;
    let writes = writes_of_a_run(&backend, &f).await?;
    // Journal written; object written; some chunks moved; last step.
    for crash_after in [1, 2, 3, writes / 2, writes - 1] {
        let (table, blobs) = (
            backend.fresh_table().await?,
            backend.fresh_store(false).await?,
        );
        crash_and_rerun(table, blobs, &f, crash_after).await?;
    }
    Ok(())
}

/// After a run: histories whole; an object moved to an archive class asks
/// for a restore (`Restoring` with a time) and reads once restored; a
/// returning customer's records come back hot.
async fn read_back(backend: &Backend) -> anyhow::Result<()> {
    let f = fixture(6, 3)?;
    let (table, blobs) = (
        backend.fresh_table().await?,
        backend.fresh_store(false).await?,
    );
    seed(table.clone(), &f).await?;
    let before = summaries(table.clone(), &f).await?;
    let repo = TieringRepository::new(table.clone(), ColdTier::new(blobs.clone()));
    job::run(repo, settings(), f.as_of).await?;
    histories_intact(table.clone(), blobs.clone(), &before).await?;

    let activity =
        ActivityRepository::new(table.clone()).with_cold_tier(ColdTier::new(blobs.clone()));
    let customer = f.shop.customers[3].id;
    let items = dataset::dump(table.as_ref()).await?;
    let pointer = items
        .values()
        .filter(|i| RecordKind::of(i) == Some(RecordKind::ColdPointer))
        .map(ColdPointer::of)
        .find(|p| p.as_ref().is_ok_and(|p| p.customer_id == customer))
        .context("a pointer of the customer")??;
    blobs
        .copy(&pointer.object, &pointer.object, StorageClass::DeepArchive)
        .await?;
    match activity.history(customer).await {
        Err(StoreError::Restoring { ready_by, objects }) => {
            ensure!(objects >= 1);
            let wait = ready_by - Utc::now();
            ensure!(
                wait > Duration::hours(11) && wait <= Duration::hours(12),
                "Deep Archive standard restores take up to 12 hours, not {wait}"
            );
        }
        other => bail!("an archived history must start a restore: {other:?}"),
    }
    // Both backends thaw at once; the next read is whole.
    let history = activity.history(customer).await?;
    ensure!(history.orders.len() == before[&customer].0);
    // Reads of a period see cold records too, and only the period's.
    let all = activity.orders(customer, Period::default()).await?;
    ensure!(
        all == history.orders,
        "a period read without bounds is the history"
    );
    let first = history.orders.first().context("orders")?.placed_at;
    let only_first = Period {
        from: Some(first),
        to: Some(first),
    };
    let orders = activity.orders(customer, only_first).await?;
    ensure!(
        !orders.is_empty() && orders.iter().all(|o| o.placed_at == first),
        "{orders:?}"
    );

    // Without the cold tier the repository says so rather than half answer.
    let hot_only = ActivityRepository::new(table.clone());
    ensure!(matches!(
        hot_only.history(customer).await,
        Err(StoreError::ColdTierUnavailable { .. })
    ));
    ensure!(matches!(
        hot_only.orders(customer, Period::default()).await,
        Err(StoreError::ColdTierUnavailable { .. })
    ));

    let summary = activity.returning(customer).await?;
    ensure!(summary == before[&customer].1);
    let after = dataset::dump(table.as_ref()).await?;
    let own = |kind: RecordKind| {
        after
            .iter()
            .filter(|(k, i)| {
                k.pk.ends_with(&customer.to_string()) && RecordKind::of(i) == Some(kind)
            })
            .count()
    };
    ensure!(
        own(RecordKind::ColdPointer) == 0,
        "pointers left after re-warming"
    );
    ensure!(own(RecordKind::Order) == before[&customer].0);
    ensure!(hot_only.history(customer).await?.orders.len() == before[&customer].0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_histories_read_back_restore_and_rewarm() -> anyhow::Result<()> {
    read_back(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_histories_read_back_restore_and_rewarm() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    read_back(&Backend::aws().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_fixture_runs_through_the_handler() -> anyhow::Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/tiering-schedule.json"
    );
    let event: aws_lambda_events::eventbridge::EventBridgeEvent =
        serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let backend = Backend::embedded().await?;
    let f = fixture(8, 3)?;
    seed(backend.table.clone(), &f).await?;
    let records = activity_keys(&dataset::dump(backend.table.as_ref()).await?);
    let repo = TieringRepository::new(backend.table.clone(), ColdTier::new(backend.blobs.clone()));
    let report = strata_tiering::lambda::on_schedule(repo, settings(), event.clone()).await?;
    ensure!(report.as_of == event.time, "{report:?}");
    ensure!(
        report.moved.records > 0,
        "the fixture's time is years after the data"
    );
    settled(
        &records,
        &tiers(backend.table.as_ref(), backend.blobs.as_ref()).await?,
    )
}
