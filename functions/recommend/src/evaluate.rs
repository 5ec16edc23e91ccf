//! Offline evaluation by leave-last-order-out (see
//! `strata_domain::recommend::evaluate`): the full method against a
//! most-popular baseline and against the plain category fallback (the same
//! levels, ranked by popularity alone, no co-purchase).
//!
//! Every customer's last order with products is held out; the model is
//! built from everything else. A held-out customer is seen as of their last
//! order (what they had bought before it); popularity and co-purchase come
//! from every customer's training orders. All three methods get the same
//! exclusions (non-consumables bought in the last `just_bought_days`,
//! disliked products and brands).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use strata_domain::ids::ProductId;
use strata_domain::ports::table::Table;
use strata_domain::recommend::signals::{Activity, brand_of};
use strata_domain::recommend::{
    Catalogue, CategoryScope, CoPurchase, CustomerSignals, LeaveLastOut, Model, ModelSettings,
    Ranking, RankingMetrics, Request, recommend,
};
use strata_store::{CustomerRecords, CustomerScan, RecommendRepository, StoreError};

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

impl Evaluation {
    pub fn table(&self) -> String {
        let row = |name: &str, m: &RankingMetrics| {
            format!(
                "| {name} | {:.4} | {:.4} | {} |\n",
                m.hit_rate(),
                m.ndcg(),
                m.hits
            )
        };
        format!(
            "{} customers, {} products, leave-last-order-out, k = {}\n\n\
             | method | hit rate@{k} | NDCG@{k} | hits |\n|---|---|---|---|\n{}{}{}",
            self.customers,
            self.products,
            self.k,
            row(
                "full (fallback + co-purchase + popularity + recency, grey-weighted)",
                &self.full
            ),
            row("most popular", &self.most_popular),
            row("plain fallback (popularity only)", &self.plain_fallback),
            k = self.k,
        )
    }
}

/// The catalogue and every customer partition of a store.
pub async fn load(
    table: Arc<dyn Table>,
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
        let mut scan = CustomerScan::new(table.clone(), segment, segments, 1_000);
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
    let Some(end) = customers
        .iter()
        .flat_map(|c| &c.history.orders)
        .map(|o| o.placed_at)
        .max()
    else {
        return Evaluation {
            k,
            customers: 0,
            products: catalogue.len(),
            full: RankingMetrics::new(k),
            most_popular: RankingMetrics::new(k),
            plain_fallback: RankingMetrics::new(k),
        };
    };
    let as_of = end + Duration::seconds(1);
    let mut counts = CoPurchase::default();
    let mut everyone = Vec::new();
    let mut held_out = Vec::new();
    for records in customers {
        let split = LeaveLastOut::split(&records.history.orders);
        let (orders, seen_at): (&[_], DateTime<Utc>) = match &split {
            Some(split) => (&split.train, split.held_out.placed_at),
            None => (&records.history.orders, as_of),
        };
        let activity = Activity {
            customer: records.profile.as_ref(),
            orders,
            interactions: &records.history.interactions,
            reviews: &records.history.reviews,
        };
        let signals = CustomerSignals::read(records.id, activity, &catalogue, settings, seen_at);
        counts.add(&signals, settings, as_of);
        if let Some(split) = split {
            held_out.push((everyone.len(), split.relevant()));
        }
        everyone.push(signals);
    }
    let products = catalogue.len();
    let mut model = Model::build(catalogue, counts, settings.clone(), as_of);
    let features: Vec<_> = everyone.iter().map(|s| s.features).collect();
    model.grade_customers(&features);
    let best_sellers = model.candidate_list(&CategoryScope::root());
    let mut evaluation = Evaluation {
        k,
        customers: held_out.len(),
        products,
        full: RankingMetrics::new(k),
        most_popular: RankingMetrics::new(k),
        plain_fallback: RankingMetrics::new(k),
    };
    for (index, relevant) in held_out {
        let Some(profile) = model.profile(&everyone[index]) else {
            continue;
        };
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
    evaluation
}
