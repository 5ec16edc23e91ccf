//! Bulk import figures: `cargo xtask bench-ingest` (which starts moto) or
//! `cargo bench -p strata-ingest --bench import -- [--rows N] [--backend
//! embedded|aws]`. A generated order export of N rows (default 1,000,000;
//! four orders per customer on average, one row in 500 malformed) goes
//! through the same `Importer` the S3 trigger runs. Printed: rows/s, CPU
//! milliseconds per 1,000 rows, the process's peak memory during the import
//! (on the embedded backend the table lives in this process too: the bytes
//! its page cache holds, capped by `STRATA_EMBEDDED_CACHE_MB`, are shown
//! apart, and the importer's own share is the rest), and DynamoDB requests
//! per 1,000 rows by operation.
//!
//! `--dataset cdnow` imports the real CDNOW log instead (69,659 rows, from
//! the file `STRATA_CDNOW_PATH` names), uploaded under `imports/cdnow/` and
//! handed to the S3 trigger's handler in the fixture ObjectCreated event, as
//! the import Lambda gets it; its counts must reconcile exactly.
//!
//! Run by `cargo test` (without `--bench`) it imports 2,000 rows, so the
//! benchmark keeps working; its timings are then meaningless.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_lambda_events::s3::S3Event;
use strata_domain::ReadOptions;
use strata_domain::ports::blob::{BlobError, ByteStream, PutOptions};
use strata_domain::ports::table::Table;
use strata_embedded::{EmbeddedOptions, EmbeddedTable};
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::import::trigger;
use strata_ingest::ingest::Ingestor;
use strata_store::{ImportRepository, ImportedObject, Privacy};
use strata_tests::backend::Backend;
use strata_tests::counting::{CountingKeys, CountingTable};
use strata_tests::heap;

/// Counts live heap bytes, so the figures show whether memory stays flat as
/// rows go by (adds an atomic add per allocation to the timings).
#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

const ORDERS_PER_CUSTOMER: u64 = 4;
/// Every this many rows, one carries an amount that is not a number.
const MALFORMED_EVERY: u64 = 500;
const KEY: &str = "imports/orders/generated.csv";
const CDNOW_KEY: &str = "imports/cdnow/CDNOW_master.txt";
/// What the CDNOW log holds (the `lifetimes` package's copy).
const CDNOW_ROWS: u64 = 69_659;
const CDNOW_CUSTOMERS: u64 = 23_570;

struct Options {
    rows: u64,
    backend: String,
    /// `cdnow`: the real log through the S3 trigger instead of a generated file.
    dataset: Option<String>,
    /// How often a long import says where it is (often under `cargo test`,
    /// so the progress line is exercised there too).
    progress_every: Duration,
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
    let rows = match value("--rows") {
        Some(n) => n
            .replace('_', "")
            .parse()
            .context("--rows takes a number")?,
        None if benchmarking => 1_000_000,
        None => 2_000,
    };
    let backend = value("--backend").unwrap_or_else(|| "embedded".into());
    if !["embedded", "aws"].contains(&backend.as_str()) {
        bail!("--backend is embedded or aws, not {backend}");
    }
    let dataset = value("--dataset");
    if let Some(other) = dataset.as_deref().filter(|d| *d != "cdnow") {
        bail!("--dataset is cdnow, not {other}");
    }
    Ok(Options {
        rows,
        backend,
        dataset,
        progress_every: if benchmarking {
            Duration::from_secs(300)
        } else {
            Duration::from_millis(500)
        },
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut options = options()?;
    let dir = tempfile::tempdir()?;
    let (export, key) = match options.dataset {
        Some(_) => {
            let path = std::env::var_os("STRATA_CDNOW_PATH").context(
                "STRATA_CDNOW_PATH is not set: `cargo xtask bench-ingest` names the CDNOW log of the lifetimes package",
            )?;
            options.rows = CDNOW_ROWS;
            println!("dataset     CDNOW log, {}", Path::new(&path).display());
            (path.into(), CDNOW_KEY)
        }
        None => {
            let export = dir.path().join("orders.csv");
            let started = Instant::now();
            let size = generate(&export, options.rows)?;
            println!(
                "generated   {} rows, {:.1} MB in {:.1} s",
                options.rows,
                size as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            (export, KEY)
        }
    };

    let backend = match options.backend.as_str() {
        "aws" => Backend::aws().await?,
        _ => Backend::embedded().await?,
    };
    // The embedded table opened here, so its page cache can be read.
    let embedded = match options.backend.as_str() {
        "aws" => None,
        _ => Some(EmbeddedTable::open_with(
            &dir.path().join("table.redb"),
            &EmbeddedOptions::from_env()?,
        )?),
    };
    let inner: Arc<dyn Table> = match &embedded {
        Some(table) => Arc::new(table.clone()),
        None => backend.fresh_table().await?,
    };
    let counting = Arc::new(CountingTable::new(inner.clone()));
    let table: Arc<dyn Table> = counting.clone();
    let blobs = backend.fresh_store(false).await?;
    let receipt = blobs
        .put(key, file_body(&export)?, PutOptions::default())
        .await?;
    let object = ImportedObject {
        bucket: "bench".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    };
    // Customers' keys from a counted key service (KMS in AWS) and a key
    // table of their own, with a cache of unwrapped keys as a cold-started
    // function has.
    let keys = Arc::new(CountingKeys::new(backend.fresh_keys().await?));
    let privacy = Privacy::open(keys.clone(), backend.fresh_table().await?).await?;
    let importer = Importer::new(
        Ingestor::new(table.clone(), privacy, ReadOptions::default()),
        blobs.clone(),
        ImportRepository::new(table),
    );

    reset_peak_memory();
    let heap_before = heap::live_bytes();
    let sampler = heap::Sampler::start(Duration::from_millis(200));
    let cpu_before = strata_tests::cpu::process_time();
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(
        ImportRepository::new(inner.clone()),
        counting.clone(),
        strata_ingest::import::run::import_id(&object),
        options.progress_every,
    ));
    let mut outcomes = match options.dataset {
        Some(_) => {
            let event = event_for(&object)?;
            trigger::handle(&importer, blobs.as_ref(), event, "bench", None).await?
        }
        None => vec![importer.run(object, "bench", None).await?],
    };
    let elapsed = started.elapsed();
    let cpu = strata_tests::cpu::process_time().saturating_sub(cpu_before);
    let heap_samples = sampler.finish();
    progress.abort();
    let (Some(RunOutcome::Completed(state)), true) = (outcomes.pop(), outcomes.is_empty()) else {
        bail!("the import did not complete in one run");
    };
    let counts = state.counts;
    if !counts.reconciles() || counts.rows_read != options.rows {
        bail!("the counts do not reconcile: {counts:?}");
    }
    if options.dataset.is_some()
        && (
            counts.accepted,
            counts.customers_created,
            counts.orders_created,
        ) != (CDNOW_ROWS, CDNOW_CUSTOMERS, CDNOW_ROWS)
    {
        bail!(
            "CDNOW must give {CDNOW_ROWS} accepted rows, {CDNOW_CUSTOMERS} customers and \
             {CDNOW_ROWS} orders: {counts:?}"
        );
    }
    let per_k = |n: u64| n as f64 * 1000.0 / options.rows as f64;
    let requests = counting.counts();
    println!("backend     {}", options.backend);
    println!(
        "rows        read {} = accepted {} + merged {} + duplicates {} + rejected {}",
        counts.rows_read, counts.accepted, counts.merged, counts.duplicates, counts.rejected
    );
    println!(
        "stored      {} customers, {} orders",
        counts.customers_created, counts.orders_created
    );
    println!(
        "throughput  {:.0} rows/s ({:.1} s)",
        options.rows as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "cpu         {:.1} ms per 1,000 rows (this process; user + system)",
        cpu.as_secs_f64() * 1000.0 * 1000.0 / options.rows as f64
    );
    let peak = peak_memory_mib();
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    match &embedded {
        Some(table) => {
            let cache = mib(table.cache_bytes());
            println!(
                "memory      peak RSS during the import {peak:.0} MiB: the embedded table's page cache \
                 {cache:.0} MiB (cap {:.0} MiB), the rest (the importer) {:.0} MiB",
                mib(EmbeddedOptions::from_env()?.table_cache_bytes),
                peak - cache
            );
        }
        None => println!("memory      peak RSS during the import {peak:.0} MiB (the importer)"),
    }
    // Rows go by at a steady pace, so each tenth of the time is about a
    // tenth of the file: flat memory shows as flat peaks.
    let tenths: Vec<String> = heap::peaks_by_tenth(&heap_samples)
        .into_iter()
        .map(|bytes| format!("{:.0}", mib(bytes.saturating_sub(heap_before))))
        .collect();
    println!(
        "heap        live allocations above the start, largest in each tenth of the import: {} MiB \
         (start {:.0} MiB{})",
        tenths.join(" "),
        mib(heap_before),
        if embedded.is_some() {
            "; includes the embedded table's page cache"
        } else {
            ""
        }
    );
    println!(
        "requests    {:.1} DynamoDB requests per 1,000 rows: {:.1} BatchWriteItem, {:.1} BatchGetItem, \
         {:.1} TransactWriteItems, {:.1} PutItem, {:.1} UpdateItem, {:.1} GetItem, {:.1} Query",
        per_k(requests.total()),
        per_k(requests.batch_write_item),
        per_k(requests.batch_get_item),
        per_k(requests.transact_write_items),
        per_k(requests.put_item),
        per_k(requests.update_item),
        per_k(requests.get_item),
        per_k(requests.query),
    );
    let (generated, decrypted, encrypted) = keys.calls();
    println!(
        "keys        {:.1} key-service (KMS) requests per 1,000 rows: {:.1} GenerateDataKey, \
         {:.1} Decrypt, {:.1} Encrypt",
        per_k(generated + decrypted + encrypted),
        per_k(generated),
        per_k(decrypted),
        per_k(encrypted),
    );
    Ok(())
}

/// Prints the import's figures so far from its checkpoint, read through the
/// uncounted table: a run too long to wait for (a million rows at moto's
/// pace) still leaves figures when it is stopped.
async fn report_progress(
    imports: ImportRepository,
    counting: Arc<CountingTable>,
    id: String,
    every: Duration,
) {
    let (started, cpu_before) = (Instant::now(), strata_tests::cpu::process_time());
    loop {
        tokio::time::sleep(every).await;
        let Ok(Some(state)) = imports.get(&id).await else {
            continue;
        };
        if state.rows_done == 0 {
            continue;
        }
        let rows = state.rows_done as f64;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "progress    {} rows in {seconds:.0} s: {:.0} rows/s, {:.0} CPU-ms and {:.0} DynamoDB \
             requests per 1,000 rows, live heap {:.0} MiB, peak RSS {:.0} MiB",
            state.rows_done,
            rows / seconds,
            strata_tests::cpu::process_time()
                .saturating_sub(cpu_before)
                .as_secs_f64()
                * 1e6
                / rows,
            counting.counts().total() as f64 * 1000.0 / rows,
            heap::live_bytes() as f64 / (1024.0 * 1024.0),
            peak_memory_mib(),
        );
    }
}

/// The ObjectCreated fixture from `events/`, naming the uploaded object.
fn event_for(object: &ImportedObject) -> anyhow::Result<S3Event> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/s3-object-created-import.json");
    let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let record = &mut event["Records"][0]["s3"];
    record["bucket"]["name"] = object.bucket.as_str().into();
    record["bucket"]["arn"] = format!("arn:aws:s3:::{}", object.bucket).into();
    record["object"]["key"] = object.key.as_str().into();
    record["object"]["size"] = object.size.into();
    record["object"]["eTag"] = object.etag.trim_matches('"').into();
    record["object"]["versionId"] = serde_json::Value::Null;
    Ok(serde_json::from_value(event)?)
}

/// Writes an order export in the generic `orders` layout; returns its size.
fn generate(path: &Path, rows: u64) -> anyhow::Result<u64> {
    let customers = rows.div_ceil(ORDERS_PER_CUSTOMER).max(1);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "customer_id,email,name,order_id,order_date,amount")?;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for row in 0..rows {
        // xorshift: a reproducible spread of customers, dates and amounts.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let customer = state % customers;
        let day = 1 + (state >> 20) % 28;
        let month = 1 + (state >> 30) % 12;
        let cents = 100 + (state >> 40) % 50_000;
        let amount = if row % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
            "twelve".to_string()
        } else {
            format!("{}.{:02}", cents / 100, cents % 100)
        };
        writeln!(
            out,
            "c{customer},shopper{customer}@example.com,Shopper {customer},o{row},2025-{month:02}-{day:02},{amount}"
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The file as a body streamed in 1 MiB chunks, so the upload stays small in memory.
fn file_body(path: &Path) -> anyhow::Result<ByteStream> {
    let file = std::fs::File::open(path)?;
    Ok(Box::pin(futures::stream::unfold(
        file,
        |mut file| async move {
            let mut chunk = vec![0; 1 << 20];
            match file.read(&mut chunk) {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok(bytes::Bytes::from(chunk)), file))
                }
                Err(e) => Some((
                    Err(BlobError::Unavailable(format!("reading the export: {e}"))),
                    file,
                )),
            }
        },
    )))
}

/// Resets the kernel's peak-RSS mark (Linux) to the current RSS, so the
/// import's own peak is what gets reported.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory (VmHWM) in MiB.
fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
