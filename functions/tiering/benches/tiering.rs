//! Tiering figures (release build): `cargo bench -p strata-tiering --
//! [--backend embedded|aws]` (`STRATA_BENCH_CUSTOMERS`, default 20,000, six
//! orders each; `aws` is moto at `STRATA_TEST_AWS_ENDPOINT`, as
//! `cargo xtask bench-tiering` runs it). Prints records tiered per second,
//! objects and requests per 1,000 records, bytes per record hot and cold, and
//! the monthly cost report for a million customers at the measured sizes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, Utc};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::{Table, item_size};
use strata_store::cold::ColdTier;
use strata_store::{BatchPolicy, RecordKind, TieringRepository};
use strata_tests::backend::Backend;
use strata_tests::crash::{CrashingBlobs, CrashingTable, Requests};
use strata_tests::dataset;
use strata_tiering::job::{self, JobSettings};
use strata_tiering::report::{self, Shape, US_EAST_1_2026_11_22};

const ORDERS_PER_CUSTOMER: usize = 6;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let customers: usize = std::env::var("STRATA_BENCH_CUSTOMERS")
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context("STRATA_BENCH_CUSTOMERS")?
        // `cargo test` runs this without `--bench`: a small shop keeps it working.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            20_000
        } else {
            3_000
        });
    let args: Vec<String> = std::env::args().collect();
    let backend = match args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        None | Some("embedded") => Backend::embedded().await?,
        Some("aws") => Backend::aws().await?,
        Some(other) => anyhow::bail!("--backend is embedded or aws, not {other}"),
    };
    let (table, blobs): (Arc<dyn Table>, Arc<dyn BlobStore>) =
        (backend.table.clone(), backend.blobs.clone());
    let shop = dataset::generate(customers, ORDERS_PER_CUSTOMER, 1)?;
    dataset::load(table.clone(), &shop, BatchPolicy::default()).await?;

    let requests = Requests::new(None);
    let repo = TieringRepository::new(
        Arc::new(CrashingTable::new(table.clone(), requests.clone())),
        ColdTier::new(Arc::new(CrashingBlobs::new(
            blobs.clone(),
            requests.clone(),
        ))),
    );
    let as_of = Utc::now() + Duration::days(800);
    let started = Instant::now();
    let run = job::run(repo, JobSettings::default(), as_of).await?;
    let seconds = started.elapsed().as_secs_f64();
    let records = run.moved.records as f64;
    anyhow::ensure!(records > 0.0, "nothing was tiered: {run:?}");
    let per_thousand = |n: f64| n * 1000.0 / records;
    let hot = run.hot_bytes_packed as f64 / records;
    let pointer_bytes: usize = dataset::dump(table.as_ref())
        .await?
        .values()
        .filter(|i| RecordKind::of(i) == Some(RecordKind::ColdPointer))
        .map(item_size)
        .sum();
    let pointers_per_customer = pointer_bytes as f64 / customers as f64;
    let cold = run.moved.object_bytes as f64 / records;

    println!(
        "tiering benchmark: {} backend, {customers} customers × {ORDERS_PER_CUSTOMER} orders, {}",
        backend.name,
        if cfg!(debug_assertions) {
            "dev profile (unoptimised)"
        } else {
            "release build"
        }
    );
    println!("| figure | value |\n|---|---:|");
    println!("| records tiered | {} |", run.moved.records);
    println!("| records tiered per second | {:.0} |", records / seconds);
    println!("| objects written | {} |", run.moved.objects);
    println!(
        "| objects per 1,000 records | {:.3} |",
        per_thousand(run.moved.objects as f64)
    );
    println!(
        "| S3 requests per 1,000 records (put, get back) | {:.3} |",
        per_thousand(requests.blob_requests() as f64)
    );
    println!(
        "| DynamoDB requests per 1,000 records (scan pages, journal, pointer lookups, transactions) | {:.1} |",
        per_thousand(requests.table_requests.load(Ordering::Relaxed) as f64)
    );
    println!(
        "| bytes per record hot (DynamoDB item size, + 100 B per item overhead billed) | {hot:.0} |"
    );
    println!(
        "| bytes per record as JSON Lines | {:.0} |",
        run.raw_bytes_packed as f64 / records
    );
    println!("| bytes per record cold (gzip) | {cold:.1} |");
    println!("| pointer bytes per tiered customer (stay hot) | {pointers_per_customer:.0} |");
    println!(
        "| mean object size (KiB) | {:.0} |",
        run.moved.object_bytes as f64 / run.moved.objects.max(1) as f64 / 1024.0
    );

    let shape = Shape {
        hot_bytes_per_record: hot,
        cold_bytes_per_record: cold,
        records_per_object: records / run.moved.objects.max(1) as f64,
        pointer_bytes_per_customer: pointers_per_customer,
        ..Shape::default()
    };
    println!();
    print!(
        "{}",
        report::render(&report::estimate(shape, &US_EAST_1_2026_11_22))
    );
    Ok(())
}
