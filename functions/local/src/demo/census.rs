//! What the store holds, read back customer by customer in a parallel scan
//! that completes each history from the cold tier: customers, orders and
//! cold records per customer, the last order's time and revenue per year.
//! The demo takes one before and one after tiering.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use strata_domain::ids::CustomerId;
use strata_domain::money::{Currency, Money};
use strata_domain::ports::table::Table;
use strata_store::CustomerScan;
use strata_store::cold::ColdTier;
use tokio::task::JoinSet;

const SEGMENTS: u32 = 4;
const PAGE_SIZE: u32 = 1_000;

#[derive(Debug, Clone, Default)]
pub struct Census {
    pub customers: u64,
    /// Orders per customer, hot and cold.
    pub orders: HashMap<CustomerId, u64>,
    /// Customers with records in the cold tier, and how many.
    pub with_cold: HashMap<CustomerId, u64>,
    /// Cold records not read: their objects are in an archive class.
    pub cold_unread: u64,
    pub interactions: u64,
    pub reviews: u64,
    pub last_order_at: Option<DateTime<Utc>>,
    /// Orders and their total per year and currency.
    pub revenue: BTreeMap<(i32, Currency), (u64, Money)>,
}

impl Census {
    pub fn orders(&self) -> u64 {
        self.orders.values().sum()
    }

    pub fn cold_records(&self) -> u64 {
        self.with_cold.values().sum()
    }

    fn absorb(&mut self, other: Census) {
        self.customers += other.customers;
        self.orders.extend(other.orders);
        self.with_cold.extend(other.with_cold);
        self.cold_unread += other.cold_unread;
        self.interactions += other.interactions;
        self.reviews += other.reviews;
        self.last_order_at = self.last_order_at.max(other.last_order_at);
        for (year, (orders, total)) in other.revenue {
            self.add_revenue(year, orders, total);
        }
    }

    fn add_revenue(&mut self, year: (i32, Currency), orders: u64, total: Money) {
        let entry = self
            .revenue
            .entry(year)
            .or_insert((0, Money::zero(total.currency)));
        entry.0 += orders;
        entry.1 = entry.1.checked_add(total).unwrap_or(entry.1);
    }
}

pub async fn take(table: Arc<dyn Table>, cold: &ColdTier) -> anyhow::Result<Census> {
    let mut segments = JoinSet::new();
    for segment in 0..SEGMENTS {
        let scan = CustomerScan::new(table.clone(), cold.clone(), segment, SEGMENTS, PAGE_SIZE);
        segments.spawn(scan_segment(scan));
    }
    let mut census = Census::default();
    while let Some(joined) = segments.join_next().await {
        census.absorb(joined??);
    }
    Ok(census)
}

async fn scan_segment(mut scan: CustomerScan) -> anyhow::Result<Census> {
    let mut census = Census::default();
    while let Some(customer) = scan.next().await? {
        if customer.profile.is_some() {
            census.customers += 1;
        }
        let history = &customer.history;
        if !history.orders.is_empty() {
            census
                .orders
                .insert(customer.id, history.orders.len() as u64);
        }
        let cold: u64 = customer
            .cold_pointers
            .iter()
            .map(|p| p.sort_keys.len() as u64)
            .sum();
        if cold > 0 {
            census.with_cold.insert(customer.id, cold);
        }
        census.cold_unread += customer.cold_unread;
        census.interactions += history.interactions.len() as u64;
        census.reviews += history.reviews.len() as u64;
        for order in &history.orders {
            census.last_order_at = census.last_order_at.max(Some(order.placed_at));
            census.add_revenue(
                (order.placed_at.year(), order.total.currency),
                1,
                order.total,
            );
        }
    }
    Ok(census)
}
