//! The demo: imports real exports into the embedded store through the same
//! import path the S3 trigger runs, then reads the store back and reports.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Datelike;
use futures::future::try_join_all;
use strata_domain::ReadOptions;
use strata_domain::money::{Currency, Money};
use strata_domain::order::Order;
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_embedded::EmbeddedBackend;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::Ingestor;
use strata_store::{ImportRepository, ImportState, ImportedObject, RecordKind, codec};

const SCAN_SEGMENTS: u32 = 4;

/// One dataset to import: where it is, and the import key (its mapping).
pub struct Dataset<'a> {
    pub path: &'a Path,
    pub key: &'a str,
}

pub async fn run(datasets: &[Dataset<'_>], data_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    println!("Strata demo — embedded backend in {}", data_dir.display());
    let backend = EmbeddedBackend::open(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let table: Arc<dyn Table> = Arc::new(backend.table);
    let blobs: Arc<dyn BlobStore> = Arc::new(backend.blobs);
    let options = ReadOptions {
        currency: Currency::USD,
        ..ReadOptions::default()
    };
    let importer = Importer::new(
        Ingestor::new(table.clone(), options),
        blobs.clone(),
        ImportRepository::new(table.clone()),
    );

    for (n, dataset) in datasets.iter().enumerate() {
        let step = Instant::now();
        let bytes = std::fs::read(dataset.path)
            .with_context(|| format!("reading {}", dataset.path.display()))?;
        let receipt = blobs
            .put(dataset.key, blob::body_from(bytes), PutOptions::default())
            .await?;
        println!(
            "{}/{} importing {} as {} …",
            n + 1,
            datasets.len(),
            dataset.path.display(),
            dataset.key
        );
        let object = ImportedObject {
            bucket: "local".into(),
            key: dataset.key.into(),
            version: None,
            etag: receipt.etag,
            size: receipt.size,
        };
        let state = match importer.run(object, "demo", None).await? {
            RunOutcome::Completed(state) => state,
            RunOutcome::Skipped { state, why } => {
                println!("    already imported ({why}); its report:");
                state
            }
            RunOutcome::Failed(state) => {
                anyhow::bail!("import failed: {}", state.error.unwrap_or_default())
            }
            RunOutcome::Paused(_) => anyhow::bail!("a run without a deadline does not pause"),
        };
        print_report(&state, step.elapsed());
    }

    let step = Instant::now();
    let counts = count_by_kind(table.as_ref()).await?;
    let count = |kind: RecordKind| counts.get(&kind).copied().unwrap_or(0);
    println!(
        "store read back by a {SCAN_SEGMENTS}-segment parallel scan in {:.2?}: {} customers, {} orders, {} products, {} lookups",
        step.elapsed(),
        count(RecordKind::Customer),
        count(RecordKind::Order),
        count(RecordKind::Product),
        count(RecordKind::Lookup),
    );
    report_revenue(table.as_ref()).await?;
    println!("done in {:.2?}", started.elapsed());
    Ok(())
}

fn print_report(state: &ImportState, took: std::time::Duration) {
    let c = &state.counts;
    println!(
        "    rows read {}: {} accepted, {} merged, {} duplicates, {} rejected ({}) in {:.2?} ({:.0} rows/s)",
        c.rows_read,
        c.accepted,
        c.merged,
        c.duplicates,
        c.rejected,
        if c.reconciles() {
            "reconciles"
        } else {
            "DOES NOT RECONCILE"
        },
        took,
        c.rows_read as f64 / took.as_secs_f64().max(1e-9),
    );
    println!(
        "    created {} customers, {} orders, {} products; report at {}",
        c.customers_created,
        c.orders_created,
        c.products_upserted,
        state.report_key.as_deref().unwrap_or("-"),
    );
}

async fn count_by_kind(table: &dyn Table) -> anyhow::Result<BTreeMap<RecordKind, usize>> {
    let segments = (0..SCAN_SEGMENTS).map(|segment| async move {
        let mut counts: BTreeMap<RecordKind, usize> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = table.scan(segment, SCAN_SEGMENTS, start, None).await?;
            for item in &page.items {
                if let Some(kind) = RecordKind::of(item) {
                    *counts.entry(kind).or_default() += 1;
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok::<_, anyhow::Error>(counts),
            }
        }
    });
    let mut total = BTreeMap::new();
    for counts in try_join_all(segments).await? {
        for (kind, n) in counts {
            *total.entry(kind).or_default() += n;
        }
    }
    Ok(total)
}

/// Orders per year and currency, read back from the store.
async fn report_revenue(table: &dyn Table) -> anyhow::Result<()> {
    let mut by_year: BTreeMap<(i32, Currency), (usize, Money)> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = table.scan(0, 1, start, None).await?;
        for item in page
            .items
            .iter()
            .filter(|i| RecordKind::of(i) == Some(RecordKind::Order))
        {
            let order: Order = codec::decode(RecordKind::Order, item)?;
            let entry = by_year
                .entry((order.placed_at.year(), order.total.currency))
                .or_insert((0, Money::zero(order.total.currency)));
            entry.0 += 1;
            entry.1 = entry.1.checked_add(order.total).unwrap_or(entry.1);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    for ((year, _), (orders, revenue)) in by_year {
        println!("    {year}: {orders:>6} orders, {revenue:>14}");
    }
    Ok(())
}
