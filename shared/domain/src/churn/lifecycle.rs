//! Monthly counts of converted, churned and reactivated customers, under the
//! same definition of churn as the model's label: no purchase for
//! `horizon_days`.
//!
//! - converted: the month of a customer's first purchase (intent → formal);
//! - churned: the month in which `horizon_days` without a purchase run out
//!   (counted only once they have run out by `as_of`);
//! - reactivated: the month of the first purchase after such a gap.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::order::Order;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyCounts {
    /// `YYYY-MM`.
    pub month: String,
    pub converted: u64,
    pub churned: u64,
    pub reactivated: u64,
}

/// Counts per month, gathered customer by customer; tallies of disjoint sets
/// of customers (scan segments) merge into the whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthlyTally {
    months: BTreeMap<(i32, u32), (u64, u64, u64)>,
}

impl MonthlyTally {
    pub fn add_customer(&mut self, orders: &[Order], horizon_days: u32, as_of: DateTime<Utc>) {
        let mut days: Vec<NaiveDate> = orders
            .iter()
            .filter(|o| o.status.is_purchase() && o.placed_at < as_of)
            .map(|o| o.placed_at.date_naive())
            .collect();
        days.sort_unstable();
        days.dedup();
        let Some(first) = days.first() else {
            return;
        };
        self.bump(*first, |c| c.0 += 1);
        let horizon = Duration::days(i64::from(horizon_days));
        let today = as_of.date_naive();
        for (i, day) in days.iter().enumerate() {
            let lapse = *day + horizon;
            match days.get(i + 1) {
                Some(next) if *next < lapse => {}
                Some(next) => {
                    self.bump(lapse, |c| c.1 += 1);
                    self.bump(*next, |c| c.2 += 1);
                }
                None if lapse <= today => self.bump(lapse, |c| c.1 += 1),
                None => {}
            }
        }
    }

    pub fn merge(&mut self, other: MonthlyTally) {
        for (month, (a, b, c)) in other.months {
            let entry = self.months.entry(month).or_default();
            entry.0 += a;
            entry.1 += b;
            entry.2 += c;
        }
    }

    pub fn counts(&self) -> Vec<MonthlyCounts> {
        self.months
            .iter()
            .map(
                |((year, month), (converted, churned, reactivated))| MonthlyCounts {
                    month: format!("{year:04}-{month:02}"),
                    converted: *converted,
                    churned: *churned,
                    reactivated: *reactivated,
                },
            )
            .collect()
    }

    fn bump(&mut self, day: NaiveDate, change: impl FnOnce(&mut (u64, u64, u64))) {
        change(self.months.entry((day.year(), day.month())).or_default());
    }
}

/// Counts for many customers' orders at once.
pub fn monthly_counts<'a>(
    customers: impl IntoIterator<Item = &'a [Order]>,
    horizon_days: u32,
    as_of: DateTime<Utc>,
) -> Vec<MonthlyCounts> {
    let mut tally = MonthlyTally::default();
    for orders in customers {
        tally.add_customer(orders, horizon_days, as_of);
    }
    tally.counts()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, OrderId};
    use crate::money::{Currency, Money};
    use crate::order::OrderStatus;

    fn order(day: &str, status: OrderStatus) -> Order {
        Order {
            id: OrderId::generate(),
            customer_id: CustomerId::generate(),
            placed_at: format!("{day}T10:00:00Z").parse().unwrap(),
            status,
            lines: Vec::new(),
            item_count: 1,
            total: Money::zero(Currency::USD),
            coupon: None,
        }
    }

    #[test]
    fn counts_conversion_churn_and_return_by_month() {
        let as_of: DateTime<Utc> = "2026-12-31T00:00:00Z".parse().unwrap();
        let loyal = [
            order("2026-01-05", OrderStatus::Paid),
            order("2026-02-01", OrderStatus::Paid),
        ];
        let comeback = [
            order("2026-01-20", OrderStatus::Paid),
            order("2026-01-20", OrderStatus::Shipped), // same day: one purchase day
            order("2026-07-01", OrderStatus::Paid),
        ];
        let cancelled_only = [order("2026-03-01", OrderStatus::Cancelled)];
        let recent = [order("2026-12-01", OrderStatus::Paid)];
        let counts = monthly_counts(
            [&loyal[..], &comeback[..], &cancelled_only[..], &recent[..]],
            90,
            as_of,
        );
        let by_month: BTreeMap<&str, (u64, u64, u64)> = counts
            .iter()
            .map(|c| (c.month.as_str(), (c.converted, c.churned, c.reactivated)))
            .collect();
        // loyal: converted 01, lapsed 90 days after 02-01 = 05-02.
        // comeback: converted 01, lapsed 04-20, back 07-01, lapsed 09-29.
        // recent: converted 12, still inside its 90 days.
        assert_eq!(by_month["2026-01"], (2, 0, 0));
        assert_eq!(by_month["2026-04"], (0, 1, 0));
        assert_eq!(by_month["2026-05"], (0, 1, 0));
        assert_eq!(by_month["2026-07"], (0, 0, 1));
        assert_eq!(by_month["2026-09"], (0, 1, 0));
        assert_eq!(by_month["2026-12"], (1, 0, 0));
        assert_eq!(counts.len(), 6);

        let mut halves = MonthlyTally::default();
        halves.add_customer(&loyal, 90, as_of);
        let mut other = MonthlyTally::default();
        other.add_customer(&comeback, 90, as_of);
        other.add_customer(&recent, 90, as_of);
        halves.merge(other);
        assert_eq!(halves.counts(), counts);
    }
}
