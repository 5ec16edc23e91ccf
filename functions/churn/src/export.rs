//! The training export: every formal customer's features at each cut-off,
//! with the label, as CSV. The training pipeline reads only this file, so
//! the features it learns from are the ones serving computes.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::try_join_all;
use strata_domain::churn::{Feature, History, TrainingCutoffs};
use strata_domain::ports::table::Table;
use strata_store::cold::ColdTier;
use strata_store::{CustomerRecords, CustomerScan, StoreError};

/// Customers read per scan request.
const SCAN_PAGE: u32 = 1_000;

/// Reads every customer, history whole (hot and cold), with a parallel scan.
pub async fn read_customers(
    table: Arc<dyn Table>,
    cold: ColdTier,
    segments: u32,
) -> Result<Vec<CustomerRecords>, StoreError> {
    let readers = (0..segments).map(|segment| {
        let (table, cold) = (table.clone(), cold.clone());
        async move {
            let mut scan = CustomerScan::new(table, cold, segment, segments, SCAN_PAGE);
            let mut customers = Vec::new();
            while let Some(customer) = scan.next().await? {
                customers.push(customer);
            }
            Ok::<_, StoreError>(customers)
        }
    });
    Ok(try_join_all(readers).await?.into_iter().flatten().collect())
}

/// The first and last day with a purchase in the data.
pub fn purchase_span(customers: &[CustomerRecords]) -> Option<(NaiveDate, NaiveDate)> {
    let days = customers
        .iter()
        .flat_map(|c| &c.history.orders)
        .filter(|o| o.status.is_purchase())
        .map(|o| o.placed_at.date_naive());
    let (mut first, mut last): (Option<NaiveDate>, Option<NaiveDate>) = (None, None);
    for day in days {
        first = Some(first.map_or(day, |f| f.min(day)));
        last = Some(last.map_or(day, |l| l.max(day)));
    }
    Some((first?, last?))
}

/// A stable name for a customer in the export: the first source id when
/// there is one (stable across reloads of the same data), else Strata's id.
fn export_key(customer: &CustomerRecords) -> String {
    customer
        .profile
        .as_ref()
        .and_then(|p| p.sources.first())
        .map_or_else(
            || customer.id.to_string(),
            |s| format!("{}:{}", s.source, s.external_id),
        )
}

pub struct ExportSummary {
    pub rows: usize,
    pub holdout_rows: usize,
    /// Holdout rows whose customer churned within the horizon.
    pub holdout_churned: usize,
    pub cutoffs: TrainingCutoffs,
}

impl ExportSummary {
    /// Share of the holdout that churned (0 for an empty holdout).
    pub fn holdout_churned_share(&self) -> f64 {
        if self.holdout_rows == 0 {
            0.0
        } else {
            self.holdout_churned as f64 / self.holdout_rows as f64
        }
    }

    /// A warning when the share makes the label nearly constant (below 5 %
    /// or above 95 % churned), as train.py warns.
    pub fn label_warning(&self) -> Option<String> {
        let share = self.holdout_churned_share();
        (self.holdout_rows > 0 && !(0.05..=0.95).contains(&share)).then(|| {
            format!(
                "{:.1}% of the holdout's customers churned within {} days: the label is nearly \
                 constant at this horizon; choose a horizon from the shop's purchase cycle",
                share * 100.0,
                self.cutoffs.horizon_days
            )
        })
    }
}

/// Writes `customer,cutoff,split,<features…>,churned`, sorted by cut-off
/// and customer so the same data always gives the same bytes.
pub fn write_csv(
    customers: &[CustomerRecords],
    cutoffs: TrainingCutoffs,
    out: &mut impl Write,
) -> std::io::Result<ExportSummary> {
    let header: Vec<&str> = ["customer", "cutoff", "split"]
        .into_iter()
        .chain(Feature::ALL.iter().map(|f| f.name()))
        .chain(["churned"])
        .collect();
    writeln!(out, "{}", header.join(","))?;
    let mut keyed: Vec<(String, &CustomerRecords)> =
        customers.iter().map(|c| (export_key(c), c)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut rows, mut holdout_rows, mut holdout_churned) = (0, 0, 0);
    for cutoff in cutoffs.all() {
        let split = if cutoff == cutoffs.holdout {
            "holdout"
        } else {
            "train"
        };
        for (key, customer) in &keyed {
            let history = History {
                orders: &customer.history.orders,
                interactions: &customer.history.interactions,
                reviews: &customer.history.reviews,
            };
            let Some(features) = history.features(cutoff) else {
                continue;
            };
            write!(out, "{key},{},{split}", day(cutoff))?;
            for feature in Feature::ALL {
                write!(out, ",{}", features.get(feature))?;
            }
            let churned = history.churned_after(cutoff, cutoffs.horizon_days);
            writeln!(out, ",{}", u8::from(churned))?;
            rows += 1;
            if split == "holdout" {
                holdout_rows += 1;
                holdout_churned += usize::from(churned);
            }
        }
    }
    Ok(ExportSummary {
        rows,
        holdout_rows,
        holdout_churned,
        cutoffs,
    })
}

fn day(at: DateTime<Utc>) -> String {
    at.date_naive().to_string()
}
