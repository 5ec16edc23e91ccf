//! Value and rewards figures (release build): `cargo bench -p strata-value
//! -- [--backend embedded|aws]` (`STRATA_BENCH_CUSTOMERS`, default
//! 1,000,000; `aws` is moto at `STRATA_TEST_AWS_ENDPOINT`, as
//! `cargo xtask bench-value` runs it).
//!
//! Prints: the tier rule's cost per call and what earning points costs per
//! order (the work the import does per row beyond storing it); the daily
//! refresh over every generated customer, in customers per second, once as
//! of the day they were assessed (nobody moves) and once 60 days later
//! (recency has decayed: some move); and the table requests per customer
//! refreshed, split into reads and writes — only movers are written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use strata_domain::activity::ActivitySummary;
use strata_domain::customer::Customer;
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::order::Order;
use strata_domain::ports::table::Table;
use strata_domain::rewards::RewardsPolicy;
use strata_domain::value::ValuePolicy;
use strata_store::{BatchPolicy, CustomerRepository, Rewards};
use strata_tests::backend::Backend;
use strata_tests::counting::CountingTable;
use strata_tests::dataset;
use strata_value::{RefreshSettings, ValueRefresh};

const ORDERS_PER_CUSTOMER: usize = 3;
/// Customers generated and stored at a time, so memory stays bounded.
const SLICE: usize = 20_000;
/// Orders earned per `Rewards::earn` call: an import chunk's worth.
const EARN_CHUNK: usize = 500;
/// Customers whose orders earn points in the benchmark: enough for a
/// steady figure per order, without a transaction per customer for all.
const EARNING_CUSTOMERS: usize = 100_000;

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
    let currency = Currency::USD;
    let policy = ValuePolicy::default();
    let assessed_at = Utc::now();
    println!(
        "value benchmark: {} backend, {customers} customers with {ORDERS_PER_CUSTOMER} orders each",
        backend.name
    );

    // Generate, assess as of `assessed_at`, store; time the rule and earning.
    let counting = Arc::new(CountingTable::new(backend.table.clone()));
    let table: Arc<dyn Table> = counting.clone();
    let profiles = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let rewards = Rewards::new(table.clone(), currency);
    let rewards_policy = RewardsPolicy::default();
    let (mut assess_time, mut assess_calls) = (Duration::ZERO, 0u64);
    let (mut earn_cpu, mut earned_orders) = (Duration::ZERO, 0u64);
    let (mut earn_requests, mut with_tier) = (0u64, 0u64);
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
        let mut assessed: Vec<Customer> = Vec::with_capacity(count);
        for mut customer in shop.customers {
            let orders = by_customer
                .get(&customer.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            customer.activity = ActivitySummary::of(orders, &[], &[]);
            let clock = Instant::now();
            let value = policy.assess(&customer.activity, currency, assessed_at);
            assess_time += clock.elapsed();
            assess_calls += 1;
            with_tier += u64::from(value.is_some());
            customer.set_value(value);
            assessed.push(customer);
        }
        profiles.put_many(&assessed, BatchPolicy::default()).await?;
        if stored >= EARNING_CUSTOMERS {
            stored += count;
            continue;
        }
        // Earning as an import does it: a chunk's orders at once.
        let tiers = assessed.iter().map(|c| (c.id, c.tier)).collect();
        let before = counting.counts().total();
        let cpu = strata_tests::cpu::process_time();
        for chunk in shop.orders.chunks(EARN_CHUNK) {
            rewards.earn(&rewards_policy, chunk, &[], &tiers).await?;
        }
        earn_cpu += strata_tests::cpu::process_time().saturating_sub(cpu);
        earn_requests += counting.counts().total() - before;
        earned_orders += shop.orders.len() as u64;
        stored += count;
    }
    println!(
        "stored      {stored} customers ({with_tier} with a tier) in {:.1?}",
        started.elapsed()
    );
    println!(
        "assess      {:.2} µs per call (ValuePolicy::assess, {assess_calls} calls)",
        assess_time.as_secs_f64() * 1e6 / assess_calls as f64
    );
    println!(
        "earn        {:.1} CPU-µs and {:.2} table requests per order ({earned_orders} orders, chunks of {EARN_CHUNK}, this process; user + system)",
        earn_cpu.as_secs_f64() * 1e6 / earned_orders as f64,
        earn_requests as f64 / earned_orders as f64
    );

    let refresh = ValueRefresh::new(table.clone(), backend.privacy.clone());
    let settings = RefreshSettings {
        currency,
        ..RefreshSettings::default()
    };
    // The profiles were assessed with the absolute bounds (nothing was
    // calibrated yet): the first run calibrates the relative shares and
    // moves customers to them; the second, as of the same day, is the
    // steady state.
    for (label, as_of) in [
        ("first run (calibrates)", assessed_at),
        ("same day", assessed_at),
        ("60 days on", assessed_at + chrono::Duration::days(60)),
    ] {
        run_refresh(&refresh, &counting, settings, label, as_of).await?;
    }
    Ok(())
}

async fn run_refresh(
    refresh: &ValueRefresh,
    counting: &CountingTable,
    settings: RefreshSettings,
    label: &str,
    as_of: DateTime<Utc>,
) -> anyhow::Result<()> {
    counting.reset();
    let cpu = strata_tests::cpu::process_time();
    let report = refresh.run(settings, as_of).await?;
    let cpu = strata_tests::cpu::process_time().saturating_sub(cpu);
    let counts = counting.counts();
    let customers = report.customers.max(1) as f64;
    println!(
        "refresh     {label}: {} customers in {:.1} s = {:.0} customers/s ({:.1} CPU-µs each); {} moved",
        report.customers,
        report.seconds,
        report.customers as f64 / report.seconds.max(1e-9),
        cpu.as_secs_f64() * 1e6 / customers,
        report.moved
    );
    if let Some(c) = report.calibration {
        println!(
            "            bounds calibrated on {} customers: diamond ≥ {}, platinum ≥ {}, gold ≥ {}, silver ≥ {}, premium ≥ {}",
            c.customers,
            c.tiers.diamond,
            c.tiers.platinum,
            c.tiers.gold,
            c.tiers.silver,
            c.premium_at
        );
    }
    println!(
        "            requests per customer: {:.4} reads ({} Scan, {} GetItem, {} Query) + {:.4} writes ({} PutItem, {} TransactWriteItems, {} BatchWriteItem, {} UpdateItem); per mover {:.2} reads + {:.2} writes beyond the scan",
        counts.reads() as f64 / customers,
        counts.scan,
        counts.get_item,
        counts.query,
        counts.writes() as f64 / customers,
        counts.put_item,
        counts.transact_write_items,
        counts.batch_write_item,
        counts.update_item,
        (counts.reads() - counts.scan) as f64 / report.moved.max(1) as f64,
        counts.writes() as f64 / report.moved.max(1) as f64,
    );
    Ok(())
}
