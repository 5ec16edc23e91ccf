//! The demo: loads the CDNOW transaction log into the embedded store through
//! the repositories, then reads the store back and reports what it holds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, Utc};
use futures::future::try_join_all;
use strata_domain::ReadOptions;
use strata_domain::customer::{
    Customer, CustomerInput, Identifier, Origin, SourceInput, SourceRef,
};
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderStatus};
use strata_domain::ports::table::Table;
use strata_embedded::EmbeddedBackend;
use strata_store::{ActivityRepository, BatchPolicy, CustomerRepository, RecordKind};

use crate::cdnow::{self, Purchase};

const SOURCE: &str = "cdnow";
const SCAN_SEGMENTS: u32 = 4;

pub async fn run(cdnow_path: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    println!("Strata demo — embedded backend in {}", data_dir.display());
    let backend = EmbeddedBackend::open(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let table: Arc<dyn Table> = Arc::new(backend.table);
    let customers = CustomerRepository::new(table.clone());
    let activity = ActivityRepository::new(table.clone());

    let step = Instant::now();
    let file =
        File::open(cdnow_path).with_context(|| format!("opening {}", cdnow_path.display()))?;
    let (purchases, rejected) = cdnow::read(BufReader::new(file))?;
    println!(
        "1/3 read {} ({} rows: {} accepted, {} rejected) in {:.2?}",
        cdnow_path.display(),
        purchases.len() + rejected.len(),
        purchases.len(),
        rejected.len(),
        step.elapsed()
    );
    for bad in rejected.iter().take(10) {
        println!("    line {}: {} ({:?})", bad.line, bad.error, bad.raw);
    }

    let step = Instant::now();
    let by_customer = group_by_customer(&purchases);
    let mut ids = BTreeMap::new();
    let mut new_customers = Vec::new();
    for external_id in by_customer.keys() {
        let source = SourceRef {
            source: SOURCE.into(),
            external_id: (*external_id).to_owned(),
        };
        let id = match customers.find(&Identifier::External(source)).await? {
            Some(existing) => existing,
            None => {
                let customer = new_customer(external_id)?;
                let id = customer.id;
                new_customers.push(customer);
                id
            }
        };
        ids.insert(*external_id, id);
    }
    let orders: Vec<Order> = by_customer
        .iter()
        .flat_map(|(external, bought)| orders_of(ids[external], external, bought))
        .collect();
    let policy = BatchPolicy::default();
    let customer_writes = customers.put_many(&new_customers, policy).await?;
    let order_writes = activity.put_orders(&orders, policy).await?;
    println!(
        "2/3 stored {} customers ({} new, {} already known) and {} orders in {:.2?} ({} batch writes)",
        ids.len(),
        new_customers.len(),
        ids.len() - new_customers.len(),
        orders.len(),
        step.elapsed(),
        customer_writes.requests + order_writes.requests,
    );

    let step = Instant::now();
    let counts = count_by_kind(table.as_ref()).await?;
    let count = |kind: RecordKind| counts.get(&kind).copied().unwrap_or(0);
    println!(
        "3/3 read the store back by a {SCAN_SEGMENTS}-segment parallel scan in {:.2?}: {} customers, {} orders, {} lookup items",
        step.elapsed(),
        count(RecordKind::Customer),
        count(RecordKind::Order),
        count(RecordKind::Lookup),
    );
    report_revenue(&orders);
    report_best_customers(&activity, &ids, &by_customer).await?;
    println!("done in {:.2?}", started.elapsed());
    anyhow::ensure!(
        count(RecordKind::Customer) == ids.len() && count(RecordKind::Order) == purchases.len(),
        "the store does not hold what was loaded"
    );
    Ok(())
}

fn group_by_customer(purchases: &[Purchase]) -> BTreeMap<&str, Vec<&Purchase>> {
    let mut groups: BTreeMap<&str, Vec<&Purchase>> = BTreeMap::new();
    for purchase in purchases {
        groups
            .entry(purchase.customer.as_str())
            .or_default()
            .push(purchase);
    }
    groups
}

fn new_customer(external_id: &str) -> anyhow::Result<Customer> {
    let input = CustomerInput {
        source: Some(SourceInput {
            source: SOURCE.into(),
            external_id: external_id.into(),
        }),
        ..CustomerInput::default()
    };
    let now = Utc::now();
    let valid = input
        .validate(&ReadOptions::default(), now)
        .map_err(|e| anyhow::anyhow!("customer {external_id}: {e}"))?;
    let origin = Origin {
        source: format!("import:{SOURCE}"),
        at: now,
    };
    Ok(Customer::create(CustomerId::generate(), valid, &origin))
}

/// Orders get stable numbers (customer, day, n-th purchase that day), so a
/// second run writes the same items instead of new ones.
fn orders_of(customer_id: CustomerId, external_id: &str, purchases: &[&Purchase]) -> Vec<Order> {
    let mut per_day: BTreeMap<String, u32> = BTreeMap::new();
    purchases
        .iter()
        .map(|p| {
            let day = p.at.format("%Y%m%d").to_string();
            let n = per_day.entry(day.clone()).or_insert(0);
            *n += 1;
            let id = format!("CDNOW-{external_id}-{day}-{n}");
            Order {
                id: OrderId::parse("id", &id).expect("generated order numbers are valid"),
                customer_id,
                placed_at: p.at,
                status: OrderStatus::Paid,
                lines: Vec::new(),
                item_count: p.cds,
                total: p.amount,
            }
        })
        .collect()
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

fn report_revenue(orders: &[Order]) {
    let mut by_year: BTreeMap<i32, (usize, Money)> = BTreeMap::new();
    for order in orders {
        let entry = by_year
            .entry(order.placed_at.year())
            .or_insert((0, Money::zero(Currency::USD)));
        entry.0 += 1;
        entry.1 = entry.1.checked_add(order.total).unwrap_or(entry.1);
    }
    for (year, (count, revenue)) in by_year {
        println!("    {year}: {count:>6} orders, {revenue:>14}");
    }
}

/// Reads the five biggest spenders' histories back through the repository.
async fn report_best_customers(
    activity: &ActivityRepository,
    ids: &BTreeMap<&str, CustomerId>,
    by_customer: &BTreeMap<&str, Vec<&Purchase>>,
) -> anyhow::Result<()> {
    let mut spend: Vec<(&str, i64)> = by_customer
        .iter()
        .map(|(id, bought)| (*id, bought.iter().map(|p| p.amount.minor).sum()))
        .collect();
    spend.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("    top customers, read back from their partitions:");
    let reads = spend.iter().take(5).map(|(external, _)| async move {
        let history = activity.history(ids[external]).await?;
        Ok::<_, anyhow::Error>((external, history))
    });
    for (external, history) in try_join_all(reads).await? {
        let total = history
            .orders
            .iter()
            .try_fold(Money::zero(Currency::USD), |sum, o| {
                sum.checked_add(o.total)
            });
        let first = history.orders.first().map(|o| o.placed_at.date_naive());
        let last = history.orders.last().map(|o| o.placed_at.date_naive());
        println!(
            "    cdnow {external}: {} orders, {}, {} → {}",
            history.orders.len(),
            total.map_or_else(|| "overflow".to_owned(), |t| t.to_string()),
            first.map_or_else(String::new, |d| d.to_string()),
            last.map_or_else(String::new, |d| d.to_string()),
        );
    }
    Ok(())
}
