//! `tiering report`: what holding a shop's activity costs a month before
//! and after tiering, from published AWS prices and the per-record sizes the
//! benchmark measures.
//!
//! Prices: us-east-1, USD, as listed on the public price pages on
//! 2026-11-22 — https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard
//! table class; storage first 25 GB free is ignored; point-in-time recovery
//! per GB-month) and https://aws.amazon.com/s3/pricing/ (first 50 TB tier;
//! requests; lifecycle transitions; retrieval). Re-check them before
//! quoting the estimate: AWS changes prices (DynamoDB on-demand requests were
//! halved in November 2024).

use serde::Serialize;

/// One price list. Money here is an estimate for an operator, never stored
/// or charged, so plain floating point is fine (it is not `Money`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prices {
    pub dynamodb_gb_month: f64,
    pub dynamodb_pitr_gb_month: f64,
    pub dynamodb_write_per_million: f64,
    pub dynamodb_read_per_million: f64,
    /// Bytes DynamoDB adds to every item for storage billing.
    pub dynamodb_item_overhead: u64,
    pub s3_standard_gb_month: f64,
    pub s3_standard_ia_gb_month: f64,
    pub s3_glacier_ir_gb_month: f64,
    pub s3_deep_archive_gb_month: f64,
    pub s3_put_per_thousand: f64,
    pub s3_get_per_thousand: f64,
    pub transition_ia_per_thousand: f64,
    pub transition_glacier_ir_per_thousand: f64,
    pub transition_deep_archive_per_thousand: f64,
    /// Deep Archive keeps 8 KB per object in Standard and 32 KB in Deep Archive.
    pub deep_archive_overhead_standard_bytes: u64,
    pub deep_archive_overhead_archive_bytes: u64,
}

pub const US_EAST_1_2026_11_22: Prices = Prices {
    dynamodb_gb_month: 0.25,
    dynamodb_pitr_gb_month: 0.20,
    dynamodb_write_per_million: 0.625,
    dynamodb_read_per_million: 0.125,
    dynamodb_item_overhead: 100,
    s3_standard_gb_month: 0.023,
    s3_standard_ia_gb_month: 0.0125,
    s3_glacier_ir_gb_month: 0.004,
    s3_deep_archive_gb_month: 0.00099,
    s3_put_per_thousand: 0.005,
    s3_get_per_thousand: 0.0004,
    transition_ia_per_thousand: 0.01,
    transition_glacier_ir_per_thousand: 0.02,
    transition_deep_archive_per_thousand: 0.05,
    deep_archive_overhead_standard_bytes: 8 * 1024,
    deep_archive_overhead_archive_bytes: 32 * 1024,
};

/// The shop and what the benchmark measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Shape {
    pub customers: u64,
    /// Orders, interactions and reviews per customer.
    pub records_per_customer: f64,
    /// Hot bytes per record (DynamoDB's item size, overhead not included).
    pub hot_bytes_per_record: f64,
    /// Cold bytes per record (gzip object bytes / records).
    pub cold_bytes_per_record: f64,
    /// Records per cold object.
    pub records_per_object: f64,
    /// Share of records the policy makes cold (steady state).
    pub cold_share: f64,
    /// Bytes per customer that stay hot whatever happens (profile, lookups, score).
    pub fixed_hot_bytes_per_customer: f64,
    /// Pointer bytes a tiered customer keeps hot (the benchmark prints it).
    pub pointer_bytes_per_customer: f64,
    /// Months of cold history kept (it spreads over the lifecycle classes).
    pub cold_months: f64,
    /// Tiering runs a month (each scans the table).
    pub runs_per_month: f64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            customers: 1_000_000,
            records_per_customer: 24.0,
            hot_bytes_per_record: 400.0,
            cold_bytes_per_record: 60.0,
            records_per_object: 20_000.0,
            cold_share: 0.8,
            fixed_hot_bytes_per_customer: 900.0,
            pointer_bytes_per_customer: 600.0,
            cold_months: 36.0,
            runs_per_month: 4.3,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub shape: Shape,
    pub before: Lines,
    pub after: Lines,
    pub saved_per_month: f64,
}

/// Dollars a month, by what pays them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Lines {
    pub table_gb: f64,
    pub table_storage: f64,
    pub point_in_time_recovery: f64,
    pub cold_gb: f64,
    pub cold_storage: f64,
    /// Moving a month's newly cold records: puts, transitions, the
    /// transactional deletes and pointers, and the job's scans.
    pub tiering_requests: f64,
    pub total: f64,
}

const GB: f64 = 1e9;

pub fn estimate(shape: Shape, prices: &Prices) -> Estimate {
    let records = shape.customers as f64 * shape.records_per_customer;
    let per_item = prices.dynamodb_item_overhead as f64;
    let fixed_gb = shape.customers as f64 * shape.fixed_hot_bytes_per_customer / GB;
    let record_gb = records * (shape.hot_bytes_per_record + per_item) / GB;

    let before_gb = fixed_gb + record_gb;
    let before = table_lines(before_gb, prices, Lines::default());

    let cold_records = records * shape.cold_share;
    let pointers_gb = if shape.cold_share > 0.0 {
        shape.customers as f64 * (shape.pointer_bytes_per_customer + per_item) / GB
    } else {
        0.0
    };
    let hot_gb = fixed_gb + record_gb * (1.0 - shape.cold_share) + pointers_gb;
    let cold_gb = cold_records * shape.cold_bytes_per_record / GB;
    let objects = cold_records / shape.records_per_object.max(1.0);
    // Cold history spreads evenly over its months; the lifecycle puts the
    // first month in Standard, months 2–3 in Standard-IA, 4–6 in Glacier
    // Instant Retrieval and the rest in Deep Archive.
    let months = shape.cold_months.max(6.0);
    let share = |from: f64, to: f64| (to - from) / months;
    let deep_share = share(6.0, months);
    let cold_storage = cold_gb
        * (share(0.0, 1.0) * prices.s3_standard_gb_month
            + share(1.0, 3.0) * prices.s3_standard_ia_gb_month
            + share(3.0, 6.0) * prices.s3_glacier_ir_gb_month
            + deep_share * prices.s3_deep_archive_gb_month)
        + objects
            * deep_share
            * (prices.deep_archive_overhead_standard_bytes as f64 * prices.s3_standard_gb_month
                + prices.deep_archive_overhead_archive_bytes as f64
                    * prices.s3_deep_archive_gb_month)
            / GB;
    // Each month a month's worth of cold history arrives.
    let monthly_records = cold_records / months;
    let monthly_objects = objects / months;
    let chunks = monthly_records / 20.0; // a customer's share of a period: ~20 records here
    let s3_requests = monthly_objects
        * (prices.s3_put_per_thousand
            + prices.s3_get_per_thousand
            + prices.transition_ia_per_thousand
            + prices.transition_glacier_ir_per_thousand
            + prices.transition_deep_archive_per_thousand)
        / 1000.0;
    // Transactional writes cost two units per item.
    let dynamo_writes = 2.0 * (monthly_records + chunks) * prices.dynamodb_write_per_million / 1e6;
    // A scan reads 4 KB per eventually consistent half unit.
    let scans =
        shape.runs_per_month * hot_gb * GB / 4096.0 * 0.5 * prices.dynamodb_read_per_million / 1e6;
    let after = table_lines(
        hot_gb,
        prices,
        Lines {
            cold_gb,
            cold_storage,
            tiering_requests: s3_requests + dynamo_writes + scans,
            ..Lines::default()
        },
    );
    Estimate {
        shape,
        saved_per_month: before.total - after.total,
        before,
        after,
    }
}

fn table_lines(gb: f64, prices: &Prices, mut lines: Lines) -> Lines {
    lines.table_gb = gb;
    lines.table_storage = gb * prices.dynamodb_gb_month;
    lines.point_in_time_recovery = gb * prices.dynamodb_pitr_gb_month;
    lines.total = lines.table_storage
        + lines.point_in_time_recovery
        + lines.cold_storage
        + lines.tiering_requests;
    lines
}

/// The estimate as a plain-text table.
pub fn render(estimate: &Estimate) -> String {
    let s = &estimate.shape;
    let mut out = format!(
        "Monthly storage cost, {} customers, {} records each ({:.0} B hot, {:.0} B cold per record), {:.0}% cold\n\
         prices: us-east-1, public price pages as of 2026-11-22 (see functions/tiering/src/report.rs)\n\n",
        s.customers,
        s.records_per_customer,
        s.hot_bytes_per_record,
        s.cold_bytes_per_record,
        s.cold_share * 100.0
    );
    out.push_str("| line | before | after |\n|---|---:|---:|\n");
    let (b, a) = (&estimate.before, &estimate.after);
    for (name, before, after) in [
        ("DynamoDB table (GB)", b.table_gb, a.table_gb),
        ("DynamoDB storage ($)", b.table_storage, a.table_storage),
        (
            "point-in-time recovery ($)",
            b.point_in_time_recovery,
            a.point_in_time_recovery,
        ),
        ("cold objects (GB)", b.cold_gb, a.cold_gb),
        (
            "S3 storage over the lifecycle ($)",
            b.cold_storage,
            a.cold_storage,
        ),
        (
            "tiering requests and scans ($)",
            b.tiering_requests,
            a.tiering_requests,
        ),
        ("total ($/month)", b.total, a.total),
    ] {
        out.push_str(&format!("| {name} | {before:.3} | {after:.3} |\n"));
    }
    out.push_str(&format!(
        "\nsaved: ${:.2} a month ({:.0}%)\n",
        estimate.saved_per_month,
        100.0 * estimate.saved_per_month / estimate.before.total.max(f64::MIN_POSITIVE)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiering_pays_when_cold_bytes_are_smaller() {
        let e = estimate(Shape::default(), &US_EAST_1_2026_11_22);
        assert!(e.after.table_gb < e.before.table_gb);
        assert!(e.after.total < e.before.total, "{e:?}");
        let nothing_cold = estimate(
            Shape {
                cold_share: 0.0,
                ..Shape::default()
            },
            &US_EAST_1_2026_11_22,
        );
        assert!(nothing_cold.after.cold_gb == 0.0);
        assert!(nothing_cold.saved_per_month <= 0.0);
    }

    #[test]
    fn a_hot_table_costs_its_gigabytes_at_the_listed_price() {
        let e = estimate(
            Shape {
                customers: 1_000_000,
                records_per_customer: 9.0,
                hot_bytes_per_record: 900.0,
                fixed_hot_bytes_per_customer: 1_000.0,
                ..Shape::default()
            },
            &US_EAST_1_2026_11_22,
        );
        // 1e6 × (1000 + 9 × 1000) bytes = 10 GB at $0.25 + $0.20.
        assert!((e.before.table_gb - 10.0).abs() < 1e-9);
        assert!((e.before.total - 4.5).abs() < 1e-9);
    }
}
