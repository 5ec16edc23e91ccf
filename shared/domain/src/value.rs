//! Customer value: a points coefficient from a customer's purchase history,
//! matched against five configured intervals (the value tiers, high to
//! entry level) and one premium threshold. The rule is the shop's stored
//! policy, not code; this module computes, it does not store.
//!
//! The coefficient is 0 to 1,000 points: a weighted mean of four component
//! scores, each 0 to 1,000 (so staff see why a customer stands where they
//! do), less a share for returned orders:
//! - `tenure`: days since the first purchase, full at `tenure_full_days`;
//! - `activity`: recency halves every `recency_half_life_days` without a
//!   purchase; a one-off buyer keeps half of it, a customer whose mean
//!   purchase interval is `interval_reference_days` three quarters, and the
//!   shorter the interval the closer to all of it;
//! - `spend`: net amount bought in the shop's currency, on a log scale from
//!   `spend_unit_minor` (≈ 0) to `spend_full_minor` (full) — shops' baskets
//!   span orders of magnitude (CDNOW's median customer spent ≈ $43,
//!   Superstore's ≈ $2,300), a log scale spreads both;
//! - `quantity`: items bought, on a log scale, full at `items_full`.
//!
//! Refunded and cancelled orders count against it twice: they are not
//! purchases (their amount and items never count), and the coefficient
//! loses `returns_penalty_permille` × the share of orders returned.
//! Integers throughout, so an assessment compares exactly.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::ActivitySummary;
use crate::customer::Tier;
use crate::error::{Collector, FieldError, Invalid};
use crate::money::Currency;

mod calibration;
pub use calibration::{Calibration, Histogram, RelativeBounds};

/// The coefficient's and the components' scale.
pub const FULL: u32 = 1000;
const MAX_DAYS: u32 = 3650;
const MAX_WEIGHT: u32 = 1000;

/// How much each component weighs in the coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub tenure: u32,
    pub activity: u32,
    pub spend: u32,
    pub quantity: u32,
}

/// How raw measures become component scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    pub tenure_full_days: u32,
    pub recency_half_life_days: u32,
    pub interval_reference_days: u32,
    /// Minor units of the shop's currency.
    pub spend_unit_minor: i64,
    pub spend_full_minor: i64,
    pub items_full: u64,
    /// Points per 1,000 taken off for a history of only returned orders.
    pub returns_penalty_permille: u32,
}

/// The lowest coefficient of each tier above the entry level (bronze: the
/// rest), strictly descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBounds {
    pub diamond: u32,
    pub platinum: u32,
    pub gold: u32,
    pub silver: u32,
}

/// The shop's value policy (`GET|PUT /v1/tiers/policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuePolicy {
    pub weights: Weights,
    pub normalisation: Normalisation,
    /// Absolute bounds: in force without `relative`, and with it until the
    /// daily refresh has calibrated the shares on enough customers.
    pub tiers: TierBounds,
    /// Coefficient at or above which a customer is premium, else normal.
    pub premium_at: u32,
    /// Tiers as shares of the shop's own customers; the refresh derives the
    /// bounds in force from them ([`ValuePolicy::in_force`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<RelativeBounds>,
}

/// The four component scores, each 0 to 1,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Components {
    pub tenure: u32,
    pub activity: u32,
    pub spend: u32,
    pub quantity: u32,
}

/// Where a customer stood by the policy at one instant. Stored on the
/// profile; recomputed when the purchases change and by the daily refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueAssessment {
    /// 0 to 1,000 points.
    pub coefficient: u32,
    pub components: Components,
    pub tier: Tier,
    pub premium: bool,
    /// The instant the recency was measured from.
    pub as_of: DateTime<Utc>,
}

impl ValueAssessment {
    /// Whether `other` leaves the customer where they stand: the same tier
    /// and premium flag (a changed coefficient alone is not worth a write).
    pub fn same_standing(&self, other: &ValueAssessment) -> bool {
        !moved(Some(self), Some(other))
    }
}

/// Whether a reassessment moves the customer: another tier or premium flag,
/// into a tier or out of every tier.
pub fn moved(before: Option<&ValueAssessment>, after: Option<&ValueAssessment>) -> bool {
    let standing = |a: Option<&ValueAssessment>| a.map(|a| (a.tier, a.premium));
    standing(before) != standing(after)
}

impl Default for ValuePolicy {
    /// The scale was chosen on CDNOW (docs/customer-value.md); the tiers are
    /// relative (2 / 8 / 20 / 30 / 40 %, the top 10 % premium) because no
    /// absolute bounds rank both CDNOW's and Superstore's customers alike.
    /// The absolute bounds apply until a refresh has calibrated the shares.
    fn default() -> Self {
        ValuePolicy {
            weights: Weights {
                tenure: 20,
                activity: 30,
                spend: 35,
                quantity: 15,
            },
            normalisation: Normalisation {
                tenure_full_days: 730,
                recency_half_life_days: 180,
                interval_reference_days: 90,
                spend_unit_minor: 1_000,
                spend_full_minor: 1_000_000,
                items_full: 200,
                returns_penalty_permille: 500,
            },
            tiers: TierBounds {
                diamond: 700,
                platinum: 550,
                gold: 400,
                silver: 250,
            },
            premium_at: 600,
            relative: Some(RelativeBounds::default()),
        }
    }
}

impl ValuePolicy {
    /// Checks a policy an admin sent, naming every bad field.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Collector::default();
        let w = self.weights;
        for (name, weight) in [
            ("tenure", w.tenure),
            ("activity", w.activity),
            ("spend", w.spend),
            ("quantity", w.quantity),
        ] {
            if weight > MAX_WEIGHT {
                errors.push(FieldError::new(
                    format!("weights.{name}"),
                    "out_of_range",
                    format!("must be 0 to {MAX_WEIGHT}"),
                ));
            }
        }
        let total = [w.tenure, w.activity, w.spend, w.quantity]
            .into_iter()
            .map(u64::from)
            .sum::<u64>();
        if total == 0 {
            errors.push(FieldError::new(
                "weights",
                "out_of_range",
                "at least one weight must be above 0",
            ));
        }
        let n = self.normalisation;
        for (name, days) in [
            ("tenure_full_days", n.tenure_full_days),
            ("recency_half_life_days", n.recency_half_life_days),
            ("interval_reference_days", n.interval_reference_days),
        ] {
            if !(1..=MAX_DAYS).contains(&days) {
                errors.push(FieldError::new(
                    format!("normalisation.{name}"),
                    "out_of_range",
                    format!("must be 1 to {MAX_DAYS} days"),
                ));
            }
        }
        if n.spend_unit_minor < 1 {
            errors.push(FieldError::new(
                "normalisation.spend_unit_minor",
                "out_of_range",
                "must be 1 or more minor units",
            ));
        }
        if n.spend_full_minor <= n.spend_unit_minor {
            errors.push(FieldError::new(
                "normalisation.spend_full_minor",
                "out_of_range",
                "must be above spend_unit_minor",
            ));
        }
        if n.items_full < 1 {
            errors.push(FieldError::new(
                "normalisation.items_full",
                "out_of_range",
                "must be 1 or more",
            ));
        }
        if n.returns_penalty_permille > FULL {
            errors.push(FieldError::new(
                "normalisation.returns_penalty_permille",
                "out_of_range",
                format!("must be 0 to {FULL}"),
            ));
        }
        let t = self.tiers;
        let bounds = [
            ("diamond", t.diamond),
            ("platinum", t.platinum),
            ("gold", t.gold),
            ("silver", t.silver),
        ];
        for (name, bound) in bounds {
            if !(1..=FULL).contains(&bound) {
                errors.push(FieldError::new(
                    format!("tiers.{name}"),
                    "out_of_range",
                    format!("must be 1 to {FULL} points"),
                ));
            }
        }
        for pair in bounds.windows(2) {
            let ((higher, above), (lower, below)) = (pair[0], pair[1]);
            if below >= above {
                errors.push(FieldError::new(
                    format!("tiers.{lower}"),
                    "not_descending",
                    format!("must be below tiers.{higher} ({above})"),
                ));
            }
        }
        if !(1..=FULL).contains(&self.premium_at) {
            errors.push(FieldError::new(
                "premium_at",
                "out_of_range",
                format!("must be 1 to {FULL} points"),
            ));
        }
        if let Some(relative) = &self.relative {
            relative.validate(&mut errors);
        }
        errors.finish(|| ())
    }

    /// The policy assessments use: with relative bounds and a calibration
    /// from the daily refresh, the calibrated bounds replace the absolute
    /// ones; otherwise the policy as it is.
    pub fn in_force(&self, calibration: Option<&Calibration>) -> ValuePolicy {
        match (self.relative, calibration) {
            (Some(_), Some(calibration)) => ValuePolicy {
                tiers: calibration.tiers,
                premium_at: calibration.premium_at,
                ..*self
            },
            _ => *self,
        }
    }

    /// The tier of a coefficient.
    pub fn tier_of(&self, coefficient: u32) -> Tier {
        let t = self.tiers;
        match coefficient {
            c if c >= t.diamond => Tier::Diamond,
            c if c >= t.platinum => Tier::Platinum,
            c if c >= t.gold => Tier::Gold,
            c if c >= t.silver => Tier::Silver,
            _ => Tier::Bronze,
        }
    }

    /// Assesses a customer's history as of an instant, spend counted in the
    /// shop's currency. `None` for a customer who has never bought: points
    /// tiers rank purchasing customers (prospects and intent customers have
    /// their stage and conversion likelihood instead).
    pub fn assess(
        &self,
        summary: &ActivitySummary,
        currency: Currency,
        as_of: DateTime<Utc>,
    ) -> Option<ValueAssessment> {
        let (first, last) = (summary.first_purchase_at?, summary.last_purchase_at?);
        if summary.purchases == 0 {
            return None;
        }
        let n = self.normalisation;
        let days = |from: DateTime<Utc>| (as_of - from).num_seconds().max(0) as f64 / 86_400.0;

        let tenure = (days(first) / f64::from(n.tenure_full_days)).min(1.0);
        let recency = 0.5_f64.powf(days(last) / f64::from(n.recency_half_life_days));
        let regularity = if summary.purchases >= 2 {
            let mean_interval = (last - first).num_seconds().max(0) as f64
                / 86_400.0
                / f64::from(summary.purchases - 1);
            let reference = f64::from(n.interval_reference_days);
            reference / (reference + mean_interval)
        } else {
            0.0
        };
        let activity = recency * (1.0 + regularity) / 2.0;
        let net_spend = summary.spent_in(currency).minor.max(0) as f64;
        let unit = n.spend_unit_minor as f64;
        let spend = ((1.0 + net_spend / unit).ln() / (1.0 + n.spend_full_minor as f64 / unit).ln())
            .min(1.0);
        let quantity =
            ((1.0 + summary.items_bought as f64).ln() / (1.0 + n.items_full as f64).ln()).min(1.0);

        let components = Components {
            tenure: scaled(tenure),
            activity: scaled(activity),
            spend: scaled(spend),
            quantity: scaled(quantity),
        };
        let w = self.weights;
        let weighted = u64::from(w.tenure) * u64::from(components.tenure)
            + u64::from(w.activity) * u64::from(components.activity)
            + u64::from(w.spend) * u64::from(components.spend)
            + u64::from(w.quantity) * u64::from(components.quantity);
        let total_weight = [w.tenure, w.activity, w.spend, w.quantity]
            .into_iter()
            .map(u64::from)
            .sum::<u64>()
            .max(1);
        let orders = u64::from(summary.purchases) + u64::from(summary.returns);
        let kept_permille = u64::from(FULL).saturating_sub(
            u64::from(n.returns_penalty_permille) * u64::from(summary.returns) / orders,
        );
        let coefficient = ((weighted * kept_permille) as f64
            / (total_weight * u64::from(FULL)) as f64)
            .round() as u32;
        let coefficient = coefficient.min(FULL);
        Some(ValueAssessment {
            coefficient,
            components,
            tier: self.tier_of(coefficient),
            premium: coefficient >= self.premium_at,
            as_of,
        })
    }
}

/// A 0–1 score as 0–1,000 points.
fn scaled(score: f64) -> u32 {
    (score.clamp(0.0, 1.0) * f64::from(FULL)).round() as u32
}

/// Why a customer's standing was assessed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentCause {
    /// A write changed the customer's purchases (API, batch, import, merge).
    Purchases,
    /// The daily refresh: time passed without an event, or the policy
    /// changed.
    Refresh,
}

/// One move of a customer between tiers (or into or out of the premium
/// group): the tier history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// `None`: the customer had no tier (never bought, or every purchase
    /// returned).
    pub from: Option<Tier>,
    pub to: Option<Tier>,
    pub premium_before: bool,
    pub premium_after: bool,
    pub coefficient: Option<u32>,
    pub at: DateTime<Utc>,
    pub cause: AssessmentCause,
}

impl TierChange {
    /// The change from one standing to another, if it is one.
    pub fn between(
        before: Option<&ValueAssessment>,
        after: Option<&ValueAssessment>,
        at: DateTime<Utc>,
        cause: AssessmentCause,
    ) -> Option<TierChange> {
        if !moved(before, after) {
            return None;
        }
        Some(TierChange {
            from: before.map(|a| a.tier),
            to: after.map(|a| a.tier),
            premium_before: before.is_some_and(|a| a.premium),
            premium_after: after.is_some_and(|a| a.premium),
            coefficient: after.map(|a| a.coefficient),
            at,
            cause,
        })
    }

    /// `Greater`: up (toward diamond, or into a tier); `Less`: down;
    /// `Equal`: only the premium flag moved.
    pub fn direction(&self) -> std::cmp::Ordering {
        // Tier orders diamond first: a smaller tier is a better one.
        match (self.from, self.to) {
            (Some(from), Some(to)) => from.cmp(&to),
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, None) => std::cmp::Ordering::Equal,
        }
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
