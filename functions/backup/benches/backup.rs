//! Backup and restore figures: `cargo xtask bench-backup [--items N]` (which
//! starts moto) or `cargo bench -p strata-backup --bench backup -- --items N
//! [--backend embedded|aws]`. For N items (default 1,000,000) on each
//! backend: load, full snapshot, read-back verification, an incremental
//! snapshot after 1% of the items changed, the archive copy, a restore into
//! an empty table (verify, write, check), the size per item, peak memory,
//! and what a locked object's refusal looks like.
//!
//! Run by `cargo test` (without `--bench`) it does the same with 500 items,
//! so the benchmark keeps working; its timings are then meaningless.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use strata_domain::backup::NextSnapshot;
use strata_domain::ports::table::{Table, Value, WriteRequest};
use strata_snapshot::{
    Manifest, RestoreOptions, RestoreTarget, SnapshotSettings, SnapshotSource, Vault, archive_lock,
    archive_snapshot, object_key, restore_snapshot, take_snapshot, verify_snapshot,
};
use strata_store::{BatchPolicy, ErasedCustomers, write_all};
use strata_tests::backend::Backend;
use strata_tests::dataset;

const ORDERS_PER_CUSTOMER: usize = 3;
/// Customers generated and loaded at a time.
const LOAD_SLICE: usize = 5_000;
const MB: f64 = 1_000_000.0;

struct Options {
    items: usize,
    backends: Vec<&'static str>,
}

fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let items = match value("--items") {
        Some(n) => n
            .replace('_', "")
            .parse()
            .context("--items takes a number")?,
        None if benchmarking => 1_000_000,
        None => 500,
    };
    let backends = match value("--backend").as_deref() {
        Some("embedded") => vec!["embedded"],
        Some("aws") => vec!["aws"],
        Some(other) => anyhow::bail!("--backend is embedded or aws, not {other}"),
        None => vec!["embedded", "aws"],
    };
    Ok(Options { items, backends })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    for name in &options.backends {
        let backend = match *name {
            "embedded" => Backend::embedded().await?,
            _ => Backend::aws()
                .await
                .context("the aws figures need moto: run `cargo xtask bench-backup`")?,
        };
        run(&backend, options.items).await?;
    }
    Ok(())
}

async fn run(b: &Backend, items: usize) -> anyhow::Result<()> {
    println!("\n== {} backend, {items} items", b.name);
    let customers = dataset::customers_for_items(items, ORDERS_PER_CUSTOMER);
    let started = Instant::now();
    let mut loaded = 0;
    // In slices, so the data set never sits in memory whole and the memory
    // figures below are the snapshot's and the restore's own.
    for (slice, seed) in (0..customers).step_by(LOAD_SLICE).zip(1u64..) {
        let count = LOAD_SLICE.min(customers - slice);
        let shop = dataset::generate(count, ORDERS_PER_CUSTOMER, seed)?;
        loaded += dataset::load(b.table.clone(), &shop, BatchPolicy::default()).await?;
    }
    println!(
        "load        {loaded} items in {:.1}s ({:.0} items/s)",
        started.elapsed().as_secs_f64(),
        loaded as f64 / started.elapsed().as_secs_f64()
    );

    let vault = Vault::new(b.fresh_store(false).await?, b.keys.clone());
    let source = SnapshotSource {
        table: b.table.clone(),
        blobs: None,
        blob_prefixes: Vec::new(),
        description: format!("{} benchmark", b.name),
    };
    let settings = SnapshotSettings::default();

    reset_peak_memory();
    let started = Instant::now();
    let full = take_snapshot(
        &source,
        &vault,
        &NextSnapshot::Full,
        loaded as u64,
        &settings,
        Utc::now(),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    report_snapshot("full", &full, seconds);

    let started = Instant::now();
    verify_snapshot(&vault, &full.id).await?;
    println!(
        "verify      read back and checked in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let changed = change_one_percent(b.table.as_ref(), loaded / 100).await?;
    reset_peak_memory();
    let started = Instant::now();
    let next = NextSnapshot::Incremental {
        parent: full.id.clone(),
    };
    let incremental = take_snapshot(&source, &vault, &next, 0, &settings, Utc::now()).await?;
    report_snapshot(
        &format!("incr ({changed} changed)"),
        &incremental,
        started.elapsed().as_secs_f64(),
    );

    let archive = Vault::new(b.fresh_store(true).await?, b.fresh_keys().await?);
    let started = Instant::now();
    let copy = archive_snapshot(&vault, &archive, &full.id, archive_lock(Utc::now(), 1)).await?;
    println!(
        "archive     {} objects, {:.1} MB copied and locked in {:.1}s",
        copy.objects,
        copy.bytes as f64 / MB,
        started.elapsed().as_secs_f64()
    );
    let refusal = archive
        .blobs
        .delete(&object_key(&full.id, "manifest.json"))
        .await;
    println!("locked      deleting the archived manifest: {refusal:?}");

    let target_table: Arc<dyn Table> = b.fresh_table().await?;
    reset_peak_memory();
    let started = Instant::now();
    let target = RestoreTarget {
        table: target_table,
        blobs: None,
    };
    let report = restore_snapshot(
        &vault,
        &full.id,
        &target,
        &ErasedCustomers::default(),
        &RestoreOptions::default(),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "restore     {} items in {seconds:.1}s ({:.0} items/s): verify {:.1}s, write {:.1}s, check {:.1}s; peak RSS {:.0} MB",
        report.items_restored,
        report.items_restored as f64 / seconds,
        report.verify_seconds,
        report.write_seconds,
        report.check_seconds,
        peak_memory_mb()
    );
    anyhow::ensure!(
        report.items_restored == loaded as u64 && report.target_checked,
        "the restore did not give back every item"
    );
    Ok(())
}

fn report_snapshot(label: &str, manifest: &Manifest, seconds: f64) {
    let plain: u64 = manifest
        .table
        .segment_entries
        .iter()
        .map(|s| s.items.plain_bytes)
        .sum();
    let index: u64 = manifest
        .table
        .segment_entries
        .iter()
        .map(|s| s.index.object_bytes)
        .sum();
    let stored = manifest.stored_bytes();
    let items = manifest.table.items as f64;
    println!(
        "{label:<11} {} items ({} stored) in {seconds:.1}s: {:.0} items/s, {:.1} MB/s of item data ({:.1} MB), {:.1} MB stored ({:.1} B/item, index {:.1} B/item); {} segments; peak RSS {:.0} MB",
        manifest.table.items,
        manifest.items_stored(),
        items / seconds,
        plain as f64 / MB / seconds,
        plain as f64 / MB,
        stored as f64 / MB,
        stored as f64 / items,
        index as f64 / items,
        manifest.table.segments,
        peak_memory_mb()
    );
}

/// Sets a `touched` attribute on `count` items (found by a scan).
async fn change_one_percent(table: &dyn Table, count: usize) -> anyhow::Result<usize> {
    let mut writes = Vec::with_capacity(count);
    let mut start = None;
    while writes.len() < count {
        let page = table.scan(0, 1, start, Some(1000)).await?;
        for mut item in page.items.into_iter().take(count - writes.len()) {
            item.insert("touched".into(), Value::Bool(true));
            writes.push(WriteRequest::Put(item));
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let changed = writes.len();
    write_all(table, writes, BatchPolicy::default()).await?;
    Ok(changed)
}

/// Resets the kernel's peak-RSS mark (Linux) to the current RSS, so each
/// phase reports its own peak; prints where it starts.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    println!(
        "memory      RSS before the next step: {:.0} MB",
        status_mb("VmRSS:")
    );
}

fn peak_memory_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
