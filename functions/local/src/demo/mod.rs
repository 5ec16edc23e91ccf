//! The demo: each shop's export goes through the whole pipeline on its own
//! embedded store, with the services the Lambdas run — the import the S3
//! trigger starts, churn scoring, the recommendation precompute, tiering
//! with a read-back of what moved, and a verified backup — and every step
//! reports what it did and how long it took.

pub mod census;
mod progress;
mod report;
pub mod rewards;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Days, Utc};
use strata_domain::ReadOptions;
use strata_domain::backup::SnapshotKind;
use strata_domain::money::Currency;
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::{RunOutcome, import_id};
use strata_lambda_kit::metrics::Metrics;
use strata_store::{ActivityRepository, ImportState, ImportedObject};

use crate::host::Host;
pub use census::Census;
pub use report::print_summary;

/// One shop's export: where it is and the import key (which names its mapping).
#[derive(Debug, Clone)]
pub struct Shop {
    pub name: String,
    pub export: PathBuf,
    pub key: String,
}

/// How far ahead the tiering run is dated: past the policy's inactivity
/// limit (730 days), as the scheduled job would see this store two years
/// from now if nobody touched these customers.
pub const TIERING_AHEAD_DAYS: u64 = 800;

/// Customers whose moved records are read back and counted after tiering.
const READ_BACK_SAMPLE: usize = 25;

#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub took: Duration,
    pub outcome: String,
}

/// How the jobs run; the Lambdas' defaults unless a test needs small objects.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub churn: strata_churn::batch::BatchSettings,
    pub recommend: strata_recommend::job::JobSettings,
    pub tiering: strata_tiering::job::JobSettings,
}

/// What one shop's run did.
#[derive(Debug, Clone)]
pub struct ShopSummary {
    pub shop: String,
    pub import: ImportState,
    pub census: Census,
    /// The day after the last order: "now" for scoring and recommendations.
    pub as_of: DateTime<Utc>,
    pub churn: strata_churn::batch::BatchReport,
    pub recommend: strata_recommend::job::JobReport,
    pub tiering: strata_tiering::job::RunReport,
    pub value: ValueStanding,
    pub rewards: rewards::RewardsStanding,
    pub segments: strata_engage::SegmentReport,
    pub read_back: ReadBack,
    pub backup: strata_backup::BackupRun,
    pub steps: Vec<Step>,
}

/// Histories of customers with cold records, read as the API reads them
/// (table, then the cold objects) and compared with the orders counted
/// before tiering.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadBack {
    pub customers: u64,
    pub orders_before: u64,
    pub orders_read: u64,
    /// Their records in the cold tier.
    pub cold_records: u64,
    pub took: Duration,
}

/// Runs every shop's pipeline in `<data_dir>/<shop>`; `fresh` empties
/// those directories first.
pub async fn run(shops: &[Shop], data_dir: &Path, fresh: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    println!("Strata demo — embedded backend in {}", data_dir.display());
    let mut summaries = Vec::new();
    for (n, shop) in shops.iter().enumerate() {
        let dir = data_dir.join(&shop.name);
        if fresh && dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        println!(
            "\n[{}/{}] {} — {}",
            n + 1,
            shops.len(),
            shop.name,
            shop.export.display()
        );
        let summary = run_shop(shop, &dir, &Settings::default()).await?;
        print_summary(&summary);
        summaries.push(summary);
    }
    println!(
        "\ndemo done in {:.1?}: {} shops",
        started.elapsed(),
        summaries.len()
    );
    Ok(())
}

/// One shop, step by step, on the store in `dir`.
pub async fn run_shop(shop: &Shop, dir: &Path, settings: &Settings) -> anyhow::Result<ShopSummary> {
    let options = ReadOptions {
        currency: Currency::USD,
        ..ReadOptions::default()
    };
    let host = Host::open(dir, options).await?;
    let mut steps = Vec::new();

    let clock = Instant::now();
    let import = import(&host, shop).await?;
    steps.push(step("import", clock, report::import_line(&import)));

    let clock = Instant::now();
    let census = census::take(host.table.clone(), &host.cold).await?;
    let last_order_at = census
        .last_order_at
        .context("the export holds no orders to score")?;
    let as_of = last_order_at
        .date_naive()
        .checked_add_days(Days::new(1))
        .context("the last order is at the end of time")?
        .and_hms_opt(0, 0, 0)
        .context("midnight")?
        .and_utc();
    steps.push(step("read back", clock, report::census_line(&census)));

    let clock = Instant::now();
    let value = value_standing(&host, as_of).await?;
    steps.push(step("value tiers", clock, report::value_line(&value)));

    // The import earned the orders' points; the value job just expired
    // those past the policy's expiry as of the day after the last order.
    let clock = Instant::now();
    let rewards = rewards::standing(&host).await?;
    steps.push(step(
        "points",
        clock,
        report::rewards_line(&rewards, &value.refresh),
    ));

    let spinner = progress::spinner("churn scoring");
    let clock = Instant::now();
    let churn = strata_churn::batch::run(
        host.table.clone(),
        host.cold.clone(),
        host.churn_model.clone(),
        settings.churn,
        as_of,
    )
    .await?;
    spinner.finish_and_clear();
    steps.push(step("churn scoring", clock, report::churn_line(&churn)));

    // Segments read the scores: the nightly run, as of the same day.
    let spinner = progress::spinner("segments");
    let clock = Instant::now();
    let segments = strata_engage::Segmenter::new(host.table.clone())
        .run(host.segment_settings(), as_of)
        .await?;
    spinner.finish_and_clear();
    steps.push(step("segments", clock, report::segments_line(&segments)));

    let spinner = progress::spinner("recommendations");
    let clock = Instant::now();
    let recommend = strata_recommend::job::run(
        host.table.clone(),
        host.cold.clone(),
        settings.recommend.clone(),
        as_of,
    )
    .await?;
    spinner.finish_and_clear();
    steps.push(step(
        "recommendations",
        clock,
        report::recommend_line(&recommend),
    ));

    let spinner = progress::spinner("tiering");
    let clock = Instant::now();
    let tiered_as_of = Utc::now() + chrono::Duration::days(TIERING_AHEAD_DAYS as i64);
    let tiering =
        strata_tiering::job::run(host.tiering.clone(), settings.tiering.clone(), tiered_as_of)
            .await?;
    spinner.finish_and_clear();
    steps.push(step("tiering", clock, report::tiering_line(&tiering)));

    let clock = Instant::now();
    let read_back = read_back(&host, &census).await?;
    steps.push(step(
        "cold read-back",
        clock,
        report::read_back_line(&read_back),
    ));

    let spinner = progress::spinner("backup");
    let clock = Instant::now();
    let backup = host
        .backup
        .run(
            Utc::now(),
            Some(SnapshotKind::Full),
            &mut Metrics::new("Strata"),
        )
        .await?;
    spinner.finish_and_clear();
    steps.push(step("backup", clock, report::backup_line(&backup)));

    Ok(ShopSummary {
        shop: shop.name.clone(),
        import,
        census,
        as_of,
        churn,
        recommend,
        tiering,
        value,
        rewards,
        segments,
        read_back,
        backup,
        steps,
    })
}

/// Where the shop's customers stand as of the day after its last order:
/// the import assessed each customer as of today (decades after CDNOW's
/// last order, so nearly everyone is entry level); the value refresh, as
/// the scheduled job runs it, reassesses them as of `as_of`.
#[derive(Debug, Clone)]
pub struct ValueStanding {
    pub refresh: strata_value::RefreshReport,
    pub counts: strata_store::TierCounts,
    /// Up to one customer per tier, assessed as of the run, with their
    /// components.
    pub examples: Vec<strata_domain::value::ValueAssessment>,
}

async fn value_standing(host: &Host, as_of: DateTime<Utc>) -> anyhow::Result<ValueStanding> {
    let refresh = strata_value::ValueRefresh::new(host.table.clone(), host.privacy.clone())
        .run(
            strata_value::RefreshSettings {
                currency: host.options().currency,
                ..strata_value::RefreshSettings::default()
            },
            as_of,
        )
        .await?;
    let values = strata_store::ValueRepository::new(host.table.clone());
    let counts = values.counts().await?;
    let profiles = strata_store::CustomerRepository::pseudonymous(host.table.clone());
    // A customer the refresh assessed as of `as_of`, among a tier's first
    // hundred (one whose tier did not move keeps the import's assessment,
    // made as of today, and is not shown).
    let mut examples = Vec::new();
    for tier in strata_domain::customer::Tier::ALL {
        let page = profiles.list_by_tier(tier, None, 100).await?;
        examples.extend(
            page.customers
                .iter()
                .filter_map(|c| c.value)
                .find(|v| v.as_of == as_of),
        );
    }
    Ok(ValueStanding {
        refresh,
        counts,
        examples,
    })
}

fn step(name: &'static str, started: Instant, outcome: String) -> Step {
    Step {
        name,
        took: started.elapsed(),
        outcome,
    }
}

/// Stores the export where the S3 trigger would find it and imports it as
/// the trigger does, showing rows as the import's checkpoints record them.
async fn import(host: &Host, shop: &Shop) -> anyhow::Result<ImportState> {
    let bytes = std::fs::read(&shop.export)
        .with_context(|| format!("reading {}", shop.export.display()))?;
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let receipt = host
        .blobs
        .put(&shop.key, blob::body_from(bytes), PutOptions::default())
        .await?;
    let object = ImportedObject {
        bucket: "local".into(),
        key: shop.key.clone(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    };
    let id = import_id(&object);
    let bar = progress::rows("import", lines.saturating_sub(1));
    let imports = host.importer.imports().clone();
    let watcher = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(Some(state)) = imports.get(&id).await {
                    bar.set_position(state.rows_done);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let outcome = host.importer.run(object, "demo", None).await;
    watcher.abort();
    bar.finish_and_clear();
    match outcome? {
        RunOutcome::Completed(state) => Ok(state),
        RunOutcome::Skipped { state, why } => {
            println!("  already imported ({why}); its report is shown");
            Ok(state)
        }
        RunOutcome::Failed(state) => {
            anyhow::bail!("import failed: {}", state.error.unwrap_or_default())
        }
        RunOutcome::Paused(_) => anyhow::bail!("a run without a deadline does not pause"),
    }
}

/// Reads the whole history of customers with records in the cold tier the
/// way the API does and counts their orders against the census before
/// tiering (which read the cold tier too, so a run again checks as well).
async fn read_back(host: &Host, before: &Census) -> anyhow::Result<ReadBack> {
    let after = census::take(host.table.clone(), &host.cold).await?;
    anyhow::ensure!(
        after.orders() == before.orders(),
        "tiering lost orders: {} after, {} before",
        after.orders(),
        before.orders()
    );
    let activity =
        ActivityRepository::new(host.table.clone()).with_cold_tier(host.api_cold.clone());
    let mut moved: Vec<_> = after.with_cold.iter().map(|(c, n)| (*c, *n)).collect();
    moved.sort();
    let mut read_back = ReadBack::default();
    let started = Instant::now();
    for (customer, cold_records) in moved.into_iter().take(READ_BACK_SAMPLE) {
        let history = activity.history(customer).await?;
        read_back.customers += 1;
        read_back.orders_before += before.orders.get(&customer).copied().unwrap_or(0);
        read_back.orders_read += history.orders.len() as u64;
        read_back.cold_records += cold_records;
    }
    read_back.took = started.elapsed();
    anyhow::ensure!(
        read_back.orders_read == read_back.orders_before,
        "cold read-back lost orders: {} read of {} before tiering",
        read_back.orders_read,
        read_back.orders_before
    );
    Ok(read_back)
}
