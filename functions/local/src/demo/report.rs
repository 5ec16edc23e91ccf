//! The demo's words: one line per step, then the shop's summary table.

use strata_backup::BackupRun;
use strata_churn::batch::BatchReport;
use strata_recommend::job::JobReport;
use strata_store::ImportState;
use strata_tiering::job::RunReport;

use super::{Census, ReadBack, ShopSummary};

pub fn import_line(state: &ImportState) -> String {
    let c = &state.counts;
    format!(
        "{} rows read = {} accepted + {} merged + {} duplicates + {} rejected ({}); {} customers and {} orders created, {} product upserts",
        c.rows_read,
        c.accepted,
        c.merged,
        c.duplicates,
        c.rejected,
        if c.reconciles() {
            "reconciles"
        } else {
            "DOES NOT RECONCILE"
        },
        c.customers_created,
        c.orders_created,
        c.products_upserted,
    )
}

pub fn census_line(census: &Census) -> String {
    format!(
        "{} customers, {} orders, {} interactions, {} reviews ({} records in the cold tier); last order {}",
        census.customers,
        census.orders(),
        census.interactions,
        census.reviews,
        census.cold_records(),
        census
            .last_order_at
            .map(|at| at.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "-".into()),
    )
}

pub fn churn_line(report: &BatchReport) -> String {
    let bands: Vec<String> = report
        .bands
        .iter()
        .map(|(band, n)| format!("{band} {n}"))
        .collect();
    format!(
        "{} formal customers scored of {} (model {}): {}; {} monthly tallies",
        report.scored,
        report.customers,
        short(&report.model_version),
        bands.join(", "),
        report.months,
    )
}

pub fn recommend_line(report: &JobReport) -> String {
    let levels: Vec<String> = report
        .grey_levels
        .iter()
        .map(|(level, n)| format!("{level} {n}"))
        .collect();
    format!(
        "{} products; {} customer profiles, {} lists, {} similar-item lists; grey relational grades: {}",
        report.products,
        report.profiles,
        report.lists,
        report.similar_lists,
        if levels.is_empty() {
            "-".into()
        } else {
            levels.join(", ")
        },
    )
}

pub fn value_line(value: &super::ValueStanding) -> String {
    let tiers: Vec<String> = value
        .counts
        .tiers
        .iter()
        .map(|(tier, n)| format!("{} {n}", tier.name()))
        .collect();
    let examples: Vec<String> = value
        .examples
        .iter()
        .map(|a| {
            let c = a.components;
            format!(
                "{} {} = tenure {} activity {} spend {} quantity {}",
                a.tier.name(),
                a.coefficient,
                c.tenure,
                c.activity,
                c.spend,
                c.quantity
            )
        })
        .collect();
    let bounds = match &value.refresh.calibration {
        Some(c) => format!(
            "bounds calibrated on {} customers: diamond ≥ {}, platinum ≥ {}, gold ≥ {}, silver ≥ {}, premium ≥ {}",
            c.customers,
            c.tiers.diamond,
            c.tiers.platinum,
            c.tiers.gold,
            c.tiers.silver,
            c.premium_at
        ),
        None => "the policy's absolute bounds".to_owned(),
    };
    format!(
        "{} customers with a tier: {}; {} premium; {bounds}; {} moved when reassessed as of the day after the last order; e.g. {}",
        value.counts.customers,
        tiers.join(", "),
        value.counts.premium,
        value.refresh.moved,
        examples.join("; "),
    )
}

pub fn segments_line(report: &strata_engage::SegmentReport) -> String {
    let sizes: Vec<String> = report
        .sizes
        .sizes
        .iter()
        .map(|(id, n)| format!("{id} {n}"))
        .collect();
    format!(
        "{} customers in segments (list revision {}): {}; {} in none; {} written",
        report.customers - report.sizes.unsegmented,
        report.revision,
        sizes.join(", "),
        report.sizes.unsegmented,
        report.moved,
    )
}

pub fn rewards_line(
    rewards: &super::rewards::RewardsStanding,
    refresh: &strata_value::RefreshReport,
) -> String {
    let by_tier: Vec<String> = rewards
        .by_tier
        .iter()
        .map(|(tier, (customers, points))| {
            let name = tier.map_or("no tier", |t| t.name());
            format!("{name} {customers} holding {points}")
        })
        .collect();
    let top: Vec<String> = rewards
        .top
        .iter()
        .map(|(_, tier, balance)| format!("{} {balance}", tier.map_or("no tier", |t| t.name())))
        .collect();
    format!(
        "{} customers earned {} points from their orders and reviews; {} expired ({} customers) as of the day after the last order; {} outstanding: {}; largest balances {}",
        rewards.customers,
        rewards.earned,
        refresh.points_expired,
        refresh.points_expired_customers,
        rewards.outstanding,
        by_tier.join(", "),
        top.join(", "),
    )
}

pub fn tiering_line(report: &RunReport) -> String {
    format!(
        "{} records moved into {} objects ({} bytes in the cold tier for {} bytes in the table); {} customers inactive, {} kept hot on the early-warning list, {} records left for a later run",
        report.moved.records,
        report.moved.objects,
        report.moved.object_bytes,
        report.hot_bytes_packed,
        report.customers_inactive,
        report.exempt_early_warning,
        report.left_for_later,
    )
}

pub fn read_back_line(read_back: &ReadBack) -> String {
    if read_back.customers == 0 {
        return "no records in the cold tier to read back".into();
    }
    format!(
        "{} customers' histories read as the API reads them: {} orders of {} before tiering ({} of their records from cold objects), {:.1?} per history",
        read_back.customers,
        read_back.orders_read,
        read_back.orders_before,
        read_back.cold_records,
        read_back.took / read_back.customers as u32,
    )
}

pub fn backup_line(run: &BackupRun) -> String {
    format!(
        "{} snapshot {}: {} items, {} bytes sealed, read back and verified; {} archive copies",
        run.kind.name(),
        run.snapshot,
        run.items,
        run.bytes_stored,
        run.archived.len(),
    )
}

fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

pub fn print_summary(summary: &ShopSummary) {
    println!(
        "  scored and recommended as of {} (the day after the last order); tiered as of {} days from now",
        summary.as_of.format("%Y-%m-%d"),
        super::TIERING_AHEAD_DAYS,
    );
    for step in &summary.steps {
        println!("  {:<16} {:>9.2?}  {}", step.name, step.took, step.outcome);
    }
    for ((year, _), (orders, revenue)) in &summary.census.revenue {
        println!("    {year}: {orders:>6} orders, {revenue:>14}");
    }
}
