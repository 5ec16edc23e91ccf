//! What a customer's records say about what to push to them: seed products
//! (bought, browsed, liked) with recency-decayed weights, exclusions,
//! disliked brands, stated category preferences, and the features that the
//! grey relational grade reads.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::consent::{ConsentPolicy, Use};
use crate::customer::Customer;
use crate::ids::{CustomerId, ProductId};
use crate::interaction::{Interaction, InteractionKind};
use crate::order::Order;
use crate::review::Review;

use super::model::{Catalogue, ModelSettings};
use super::scope::CategoryScope;

/// A review at or below this many stars is a dislike; at or above
/// `LIKED_RATING` a like.
pub const DISLIKED_RATING: u8 = 2;
pub const LIKED_RATING: u8 = 4;

/// The brand of a product: the first word of its name ("Xerox 1881" →
/// "Xerox", "金龙鱼 东北大米 5kg" → "金龙鱼"), lower-cased so spellings meet.
pub fn brand_of(name: &str) -> String {
    name.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// A customer's records as the recommender reads them.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub customer: Option<&'a Customer>,
    pub orders: &'a [Order],
    pub interactions: &'a [Interaction],
    pub reviews: &'a [Review],
}

/// The features graded by grey relational analysis, as of one instant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerFeatures {
    /// Days since the last purchase; `None` without one (the worst value).
    pub recency_days: Option<f64>,
    pub orders: f64,
    /// Minor units, all currencies added (a rough scale, not an amount).
    pub spend: f64,
    /// Distinct level-3 categories bought from.
    pub breadth: f64,
    pub interactions: f64,
    /// Mean star rating; `None` without reviews (read as a neutral 3).
    pub rating: Option<f64>,
}

/// Everything the precompute keeps per customer between the scan and the
/// model: small, so a whole customer base fits in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSignals {
    pub customer_id: CustomerId,
    /// Bought products, distinct: co-purchase and popularity count these.
    pub bought: Vec<ProductId>,
    /// When each bought product was last bought (same order as `bought`).
    pub last_bought: Vec<DateTime<Utc>>,
    /// Products whose neighbours are pushed, with recency-decayed weights
    /// (purchases 1, browsing and good reviews less).
    pub seeds: BTreeMap<ProductId, f64>,
    pub exclude: BTreeSet<ProductId>,
    pub disliked_brands: BTreeSet<String>,
    pub preferences: Vec<CategoryScope>,
    pub features: CustomerFeatures,
    /// False when the customer refused personalisation: only best sellers.
    pub personalised: bool,
}

impl CustomerSignals {
    /// The signals as of `as_of`; records at or after it are ignored.
    pub fn read(
        customer_id: CustomerId,
        activity: Activity<'_>,
        catalogue: &Catalogue,
        settings: &ModelSettings,
        as_of: DateTime<Utc>,
    ) -> CustomerSignals {
        let decay = |at: DateTime<Utc>| settings.decay(as_of, at);
        let just_bought = as_of - Duration::days(settings.just_bought_days);
        let mut last: BTreeMap<ProductId, DateTime<Utc>> = BTreeMap::new();
        let mut seeds: BTreeMap<ProductId, f64> = BTreeMap::new();
        let mut exclude = BTreeSet::new();
        let mut disliked_brands = BTreeSet::new();
        let mut orders = 0.0;
        let mut spend = 0.0;
        let mut last_purchase: Option<DateTime<Utc>> = None;
        for order in activity
            .orders
            .iter()
            .filter(|o| o.status.is_purchase() && o.placed_at < as_of)
        {
            orders += 1.0;
            spend += order.total.minor as f64;
            last_purchase = last_purchase.max(Some(order.placed_at));
            for line in &order.lines {
                let at = last
                    .entry(line.product_id.clone())
                    .or_insert(order.placed_at);
                *at = (*at).max(order.placed_at);
                *seeds.entry(line.product_id.clone()).or_default() += decay(order.placed_at);
            }
        }
        for (product, at) in &last {
            let consumable = catalogue.get(product).is_some_and(|p| p.consumable);
            if *at >= just_bought && !consumable {
                exclude.insert(product.clone());
            }
        }
        let mut interactions = 0.0;
        for interaction in activity.interactions.iter().filter(|i| i.at < as_of) {
            interactions += 1.0;
            if let Some(product) = &interaction.product_id
                && shows_interest(interaction.kind)
            {
                *seeds.entry(product.clone()).or_default() +=
                    settings.browse_weight * decay(interaction.at);
            }
        }
        let mut ratings = Vec::new();
        for review in activity.reviews.iter().filter(|r| r.at < as_of) {
            ratings.push(f64::from(review.rating));
            if review.rating <= DISLIKED_RATING {
                exclude.insert(review.product_id.clone());
                seeds.remove(&review.product_id);
                if let Some(product) = catalogue.get(&review.product_id) {
                    disliked_brands.insert(brand_of(&product.name));
                }
            } else if review.rating >= LIKED_RATING {
                *seeds.entry(review.product_id.clone()).or_default() +=
                    settings.liked_weight * decay(review.at);
            }
        }
        // A product bought again after a bad review is no longer disliked by
        // its buyer; a brand stays disliked only if none of its products is
        // a seed.
        seeds.retain(|product, _| {
            !disliked(catalogue, product, &disliked_brands) || last.contains_key(product)
        });
        let breadth = last
            .keys()
            .filter_map(|p| catalogue.get(p))
            .map(|p| CategoryScope::of(&p.category, 3))
            .collect::<BTreeSet<_>>()
            .len() as f64;
        let preferences = activity
            .customer
            .map(|c| {
                c.preferences
                    .categories
                    .iter()
                    .filter_map(|raw| CategoryScope::parse("preferences", raw).ok())
                    .collect()
            })
            .unwrap_or_default();
        let personalised = activity
            .customer
            .is_none_or(|c| !refused_personalisation(c));
        let (bought, last_bought) = last.into_iter().unzip();
        CustomerSignals {
            customer_id,
            bought,
            last_bought,
            seeds,
            exclude,
            disliked_brands,
            preferences,
            features: CustomerFeatures {
                recency_days: last_purchase
                    .map(|at| (as_of - at).num_seconds().max(0) as f64 / 86_400.0),
                orders,
                spend,
                breadth,
                interactions,
                rating: (!ratings.is_empty())
                    .then(|| ratings.iter().sum::<f64>() / ratings.len() as f64),
            },
            personalised,
        }
    }

    /// Whether anything is known that could steer a recommendation.
    pub fn has_history(&self) -> bool {
        !self.seeds.is_empty() || !self.preferences.is_empty() || !self.bought.is_empty()
    }
}

fn disliked(catalogue: &Catalogue, product: &ProductId, brands: &BTreeSet<String>) -> bool {
    catalogue
        .get(product)
        .is_some_and(|p| brands.contains(&brand_of(&p.name)))
}

/// Interactions that say the customer looked at a product on purpose.
fn shows_interest(kind: InteractionKind) -> bool {
    matches!(
        kind,
        InteractionKind::Inquiry
            | InteractionKind::Chat
            | InteractionKind::Call
            | InteractionKind::Email
    )
}

/// The customer withdrew personalisation (`consent::permits`, the one rule).
/// No decision at all is not a refusal: recommendations inside the shop are
/// its legitimate interest.
fn refused_personalisation(customer: &Customer) -> bool {
    customer
        .permits(Use::Recommendations, ConsentPolicy::UntilWithdrawn)
        .is_err()
}
