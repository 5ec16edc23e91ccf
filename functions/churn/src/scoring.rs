//! From customers' histories to churn scores: features, one model run per
//! batch, risk bands and reasons.
//!
//! A reason is a feature whose value makes this customer riskier than a
//! typical customer who stayed: the probability is computed again with that
//! feature set to the card's reference value, and the difference is the
//! feature's contribution. All of a batch's variants go through the model
//! in the same run.

use chrono::{DateTime, Utc};
use strata_domain::churn::{ChurnScore, Feature, FeatureVector, History, Reason};
use strata_domain::ids::CustomerId;
use strata_store::History as StoredHistory;

use crate::model::{ChurnModel, ModelError};

/// Reasons given per customer, at most.
pub const MAX_REASONS: usize = 3;
/// Contributions below this many probability points are not reasons.
pub const MIN_CONTRIBUTION: f64 = 0.01;

/// The domain's view of a stored history.
pub fn view(history: &StoredHistory) -> History<'_> {
    History {
        orders: &history.orders,
        interactions: &history.interactions,
        reviews: &history.reviews,
    }
}

/// Scores customers whose features are known, in one model run.
pub fn score(
    model: &ChurnModel,
    customers: &[(CustomerId, FeatureVector)],
    as_of: DateTime<Utc>,
) -> Result<Vec<ChurnScore>, ModelError> {
    let inputs = model.inputs();
    let card = model.card();
    let variants = inputs.len() + 1;
    let mut rows = Vec::with_capacity(customers.len() * variants * inputs.len());
    for (_, features) in customers {
        let start = rows.len();
        features.write_selected(inputs, &mut rows);
        for (i, typical) in card.reference.iter().enumerate() {
            rows.extend_from_within(start..start + inputs.len());
            let at = rows.len() - inputs.len() + i;
            rows[at] = *typical;
        }
    }
    let probabilities = model.run(rows, customers.len() * variants)?;
    Ok(customers
        .iter()
        .zip(probabilities.chunks_exact(variants))
        .map(|((id, features), p)| {
            let probability = p[0];
            let mut reasons: Vec<Reason> = inputs
                .iter()
                .zip(&card.reference)
                .zip(&p[1..])
                .filter_map(|((feature, typical), without)| {
                    let contribution = probability - without;
                    (contribution >= MIN_CONTRIBUTION).then(|| Reason {
                        feature: feature.name().to_owned(),
                        value: round(f64::from(features.get(*feature))),
                        typical: round(f64::from(*typical)),
                        contribution: round(contribution),
                    })
                })
                .collect();
            reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
            reasons.truncate(MAX_REASONS);
            ChurnScore {
                customer_id: *id,
                probability: round(probability),
                band: card.risk_bands.classify(
                    probability,
                    features.get(Feature::RecencyDays),
                    card.label.horizon_days,
                ),
                reasons,
                model_version: card.version.clone(),
                as_of,
                contactable: true,
            }
        })
        .collect())
}

/// Four decimals: what a reader can use, and small items.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}
