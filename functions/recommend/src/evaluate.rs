//! Offline evaluation by leave-last-order-out (see
//! `strata_domain::recommend::evaluate`): the full method against a
//! most-popular baseline and against the plain category fallback (the same
//! levels, level 3 before level 2 and so on, ranked by popularity alone,
//! no co-purchase).
//!
//! Every customer's last order with products is held out and scored with
//! the model a nightly job would have served it from: the one built at the
//! start of the held-out order's week (Monday 00:00 UTC) from everyone's
//! records before then, so popularity, "selling well lately" and
//! co-purchase never see the future. The customer is read as of the
//! held-out order (everything they did before it). All three methods get
//! the same exclusions (non-consumables bought in the last
//! `just_bought_days`, disliked products and brands).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use serde::Serialize;
use strata_domain::ids::ProductId;
use strata_domain::ports::table::Table;
use strata_domain::recommend::signals::{Activity, brand_of};
use strata_domain::recommend::{
    Catalogue, CategoryScope, CoPurchase, CustomerSignals, LeaveLastOut, Model, ModelSettings,
    Ranking, RankingMetrics, Request, recommend,
};
use strata_store::cold::ColdTier;
use strata_store::{CustomerRecords, CustomerScan, RecommendRepository, StoreError};

pub mod movielens;

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub k: usize,
    /// Customers with at least two orders with products.
    pub customers: usize,
    pub products: usize,
    pub full: RankingMetrics,
    pub most_popular: RankingMetrics,
    pub plain_fallback: RankingMetrics,
}

/// All three methods on several datasets in one table, with hits out of
/// the customers evaluated.
pub fn comparison(results: &[(&str, &Evaluation)]) -> String {
    let k = results.first().map_or(10, |(_, e)| e.k);
    let mut table = format!(
        "| dataset | method | hit rate@{k} | NDCG@{k} | hits / customers |\n|---|---|---|---|---|\n"
    );
    for (dataset, evaluation) in results {
        for (method, m) in [
            ("full method", &evaluation.full),
            ("most popular", &evaluation.most_popular),
            ("plain category fallback", &evaluation.plain_fallback),
        ] {
            table.push_str(&format!(
                "| {dataset} | {method} | {:.4} | {:.4} | {} / {} |\n",
                m.hit_rate(),
                m.ndcg(),
                m.hits,
                m.customers
            ));
        }
    }
    table
}

/// The catalogue and every customer, history whole, of a store.
pub async fn load(
    table: Arc<dyn Table>,
    cold: ColdTier,
    segments: u32,
) -> Result<(Catalogue, Vec<CustomerRecords>), StoreError> {
    let repository = RecommendRepository::new(table.clone());
    let mut products = Vec::new();
    let mut customers = Vec::new();
    for segment in 0..segments {
        products.extend(
            repository
                .products_in_segment(segment, segments, 1_000)
                .await?,
        );
        let mut scan = CustomerScan::new(table.clone(), cold.clone(), segment, segments, 1_000);
        while let Some(records) = scan.next().await? {
            customers.push(records);
        }
    }
    Ok((Catalogue::new(products), customers))
}

pub fn evaluate(
    catalogue: Catalogue,
    customers: &[CustomerRecords],
    settings: &ModelSettings,
    k: usize,
) -> Evaluation {
    let mut evaluation = Evaluation {
        k,
        customers: 0,
        products: catalogue.len(),
        full: RankingMetrics::new(k),
        most_popular: RankingMetrics::new(k),
        plain_fallback: RankingMetrics::new(k),
    };
    // Held-out customers by the week of their held-out order: each week is
    // served by the model a nightly job built at the week's start.
    let mut weeks: BTreeMap<DateTime<Utc>, Vec<(&CustomerRecords, LeaveLastOut)>> = BTreeMap::new();
    for records in customers {
        if let Some(split) = LeaveLastOut::split(&records.history.orders) {
            weeks
                .entry(week_start(split.held_out.placed_at))
                .or_default()
                .push((records, split));
        }
    }
    for (start, held_out) in weeks {
        let model = model_as_of(&catalogue, customers, settings, start);
        let best_sellers = model.candidate_list(&CategoryScope::root());
        for (records, split) in held_out {
            // The customer's own records up to the held-out order.
            let activity = Activity {
                customer: records.profile.as_ref(),
                orders: &split.train,
                interactions: &records.history.interactions,
                reviews: &records.history.reviews,
            };
            let signals = CustomerSignals::read(
                records.id,
                activity,
                &catalogue,
                settings,
                split.held_out.placed_at,
            );
            let Some(profile) = model.profile(&signals) else {
                continue;
            };
            let relevant = split.relevant();
            evaluation.customers += 1;
            let list = model.candidate_list(&profile.primary_scope(None));
            let ranked = |ranking| -> Vec<ProductId> {
                let request = Request {
                    limit: k,
                    filter: None,
                    ranking,
                };
                recommend(&profile, list.as_ref(), &request)
                    .items
                    .into_iter()
                    .map(|i| i.product_id)
                    .collect()
            };
            evaluation.full.add(&ranked(Ranking::Full), &relevant);
            evaluation
                .plain_fallback
                .add(&ranked(Ranking::PopularityOnly), &relevant);
            let popular: Vec<ProductId> = best_sellers
                .iter()
                .flat_map(|l| &l.levels)
                .flat_map(|l| &l.products)
                .filter(|c| {
                    !profile.exclude.contains(&c.id)
                        && !profile.disliked_brands.contains(&brand_of(&c.name))
                })
                .take(k)
                .map(|c| c.id.clone())
                .collect();
            evaluation.most_popular.add(&popular, &relevant);
        }
    }
    evaluation
}

/// Monday 00:00 UTC of the week holding `at`.
fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.date_naive();
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    monday.and_time(NaiveTime::MIN).and_utc()
}

/// The model a nightly job run at `as_of` builds: everyone's records
/// before that instant.
fn model_as_of(
    catalogue: &Catalogue,
    customers: &[CustomerRecords],
    settings: &ModelSettings,
    as_of: DateTime<Utc>,
) -> Model {
    let mut counts = CoPurchase::default();
    let mut features = Vec::with_capacity(customers.len());
    for records in customers {
        let activity = Activity {
            customer: records.profile.as_ref(),
            orders: &records.history.orders,
            interactions: &records.history.interactions,
            reviews: &records.history.reviews,
        };
        let signals = CustomerSignals::read(records.id, activity, catalogue, settings, as_of);
        if signals.has_history() {
            counts.add(&signals, settings, as_of);
            features.push(signals.features);
        }
    }
    let mut model = Model::build(catalogue.clone(), counts, settings.clone(), as_of);
    model.grade_customers(&features);
    model
}
