//! Segment figures (release build): `cargo bench -p strata-engage --bench engage --
//! [--backend embedded|aws]` (`STRATA_BENCH_CUSTOMERS`, default 1,000,000;
//! `aws` is moto at `STRATA_TEST_AWS_ENDPOINT`, as `cargo xtask
//! bench-engage` runs it).
//!
//! Generates customers with a year of orders and a churn score each, then
//! runs the nightly segment run three times: the first puts everyone in a
//! segment (every customer written), the second as of the same instant is
//! the steady state (nobody moves, nothing written), the third 120 days on
//! (recency moved some). Prints customers per second and the table requests
//! per customer, split into reads and writes, and per mover.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use strata_domain::activity::ActivitySummary;
use strata_domain::churn::{ChurnScore, RiskBand};
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::order::Order;
use strata_domain::ports::table::Table;
use strata_engage::{SegmentSettings, Segmenter};
use strata_store::{BatchPolicy, ChurnRepository, CustomerRepository};
use strata_tests::backend::Backend;
use strata_tests::counting::CountingTable;
use strata_tests::dataset;

const ORDERS_PER_CUSTOMER: usize = 3;
/// Customers generated and stored at a time, so memory stays bounded.
const SLICE: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let customers: usize = std::env::var("STRATA_BENCH_CUSTOMERS")
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context("STRATA_BENCH_CUSTOMERS")?
        // `cargo test` runs this without `--bench`: a small shop keeps it working.
        .unwrap_or(if bench { 1_000_000 } else { 2_000 });
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
    println!(
        "segment benchmark: {} backend, {customers} customers with {ORDERS_PER_CUSTOMER} orders and a churn score each",
        backend.name
    );
    let counting = Arc::new(CountingTable::new(backend.table.clone()));
    let table: Arc<dyn Table> = counting.clone();
    let profiles = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let churn = ChurnRepository::new(table.clone());
    let now = Utc::now();
    let started = Instant::now();
    let mut stored = 0;
    while stored < customers {
        let count = SLICE.min(customers - stored);
        let shop = dataset::generate(count, ORDERS_PER_CUSTOMER, stored as u64)?;
        let mut by_customer: HashMap<CustomerId, Vec<Order>> = HashMap::new();
        for order in &shop.orders {
            by_customer
                .entry(order.customer_id)
                .or_default()
                .push(order.clone());
        }
        let mut scores = Vec::with_capacity(count);
        let mut list = Vec::with_capacity(count);
        for (n, mut customer) in shop.customers.into_iter().enumerate() {
            let orders = by_customer
                .get(&customer.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            customer.activity = ActivitySummary::of(orders, &[], &[]);
            // A spread of risk: one in ten high, three in ten medium.
            let probability = ((n * 7919) % 100) as f64 / 100.0;
            scores.push(ChurnScore {
                customer_id: customer.id,
                probability,
                band: match probability {
                    p if p >= 0.9 => RiskBand::High,
                    p if p >= 0.6 => RiskBand::Medium,
                    _ => RiskBand::Low,
                },
                reasons: Vec::new(),
                model_version: "bench".into(),
                as_of: now,
                contactable: true,
            });
            list.push(customer);
        }
        profiles.put_many(&list, BatchPolicy::default()).await?;
        churn.put_scores(&scores, BatchPolicy::default()).await?;
        stored += count;
    }
    println!(
        "stored      {stored} customers in {:.1?}",
        started.elapsed()
    );

    let segmenter = Segmenter::new(table.clone());
    let settings = SegmentSettings {
        currency: Currency::USD,
        ..SegmentSettings::default()
    };
    for (label, as_of) in [
        ("first run", now),
        ("same day", now),
        ("120 days on", now + Duration::days(120)),
    ] {
        run(&segmenter, &counting, settings, label, as_of).await?;
    }
    Ok(())
}

async fn run(
    segmenter: &Segmenter,
    counting: &CountingTable,
    settings: SegmentSettings,
    label: &str,
    as_of: DateTime<Utc>,
) -> anyhow::Result<()> {
    counting.reset();
    let cpu = strata_tests::cpu::process_time();
    let report = segmenter.run(settings, as_of).await?;
    let cpu = strata_tests::cpu::process_time().saturating_sub(cpu);
    let counts = counting.counts();
    let customers = report.customers.max(1) as f64;
    let movers = report.moved.max(1) as f64;
    println!(
        "run         {label}: {} customers in {:.1} s = {:.0} customers/s ({:.1} CPU-µs each); {} moved",
        report.customers,
        report.seconds,
        report.customers as f64 / report.seconds.max(1e-9),
        cpu.as_secs_f64() * 1e6 / customers,
        report.moved
    );
    let sizes: Vec<String> = report
        .sizes
        .sizes
        .iter()
        .map(|(id, n)| format!("{id} {n}"))
        .collect();
    println!("            sizes: {}", sizes.join(", "));
    println!(
        "            requests per customer: {:.4} reads ({} Scan, {} GetItem, {} Query) + {:.4} writes ({} PutItem, {} TransactWriteItems); per mover {:.2} reads + {:.2} writes beyond the scan",
        counts.reads() as f64 / customers,
        counts.scan,
        counts.get_item,
        counts.query,
        counts.writes() as f64 / customers,
        counts.put_item,
        counts.transact_write_items,
        (counts.reads() - counts.scan) as f64 / movers,
        counts.writes() as f64 / movers,
    );
    Ok(())
}
