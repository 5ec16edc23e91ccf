//! The churn model as the rest of Strata sees it: its card (what it takes,
//! how it was trained, how good it is), the score it gives a customer, the
//! risk bands, and the rule that decides whether a retrained model replaces
//! the one in service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::features::Feature;

/// Written by the training pipeline next to `model.onnx`. Only the fields
/// serving needs are read; the card holds more (calibration, baselines…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub name: String,
    /// Content-addressed: the first hex digits of the ONNX file's SHA-256.
    pub version: String,
    pub created_at: String,
    /// The model's inputs, in order; names from `Feature::name`.
    pub features: Vec<String>,
    /// A typical value per input (training medians), in the same order; a
    /// reason is how far the probability moves when a feature is set to it.
    pub reference: Vec<f32>,
    pub label: Label,
    pub risk_bands: RiskBands,
    pub onnx: OnnxSignature,
    pub holdout: HoldoutMetrics,
    pub data: DataSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub definition: String,
    pub horizon_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnnxSignature {
    pub input: String,
    pub output: String,
    /// Column of `output` holding the churn probability.
    pub churn_column: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutMetrics {
    pub cutoff: String,
    pub rows: u64,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub source: String,
    pub features_sha256: String,
    /// Formal customers at the holdout cut-off; the retraining trigger
    /// compares today's count with it.
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("the model card names a feature this build does not know: `{0}`")]
    UnknownFeature(String),
    #[error("the model card lists {features} features but {references} reference values")]
    ReferenceMismatch { features: usize, references: usize },
}

impl ModelCard {
    /// The model's inputs as features, checked against this build's definitions.
    pub fn feature_order(&self) -> Result<Vec<Feature>, CardError> {
        if self.reference.len() != self.features.len() {
            return Err(CardError::ReferenceMismatch {
                features: self.features.len(),
                references: self.reference.len(),
            });
        }
        self.features
            .iter()
            .map(|name| {
                Feature::from_name(name).ok_or_else(|| CardError::UnknownFeature(name.clone()))
            })
            .collect()
    }
}

/// Risk bands of a formal customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskBand {
    /// Already churned by the label's definition (no purchase for the whole
    /// horizon): a case for win-back, not for early warning.
    Lapsed,
    /// Still active and likely to churn: the early-warning list.
    High,
    Medium,
    Low,
}

impl RiskBand {
    pub const ALL: [RiskBand; 4] = [
        RiskBand::Lapsed,
        RiskBand::High,
        RiskBand::Medium,
        RiskBand::Low,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RiskBand::Lapsed => "lapsed",
            RiskBand::High => "high",
            RiskBand::Medium => "medium",
            RiskBand::Low => "low",
        }
    }

    pub fn from_name(name: &str) -> Option<RiskBand> {
        RiskBand::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Probability thresholds of the bands, chosen at training time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskBands {
    pub high: f64,
    pub medium: f64,
}

impl RiskBands {
    pub fn classify(&self, probability: f64, recency_days: f32, horizon_days: u32) -> RiskBand {
        if recency_days >= horizon_days as f32 {
            RiskBand::Lapsed
        } else if probability >= self.high {
            RiskBand::High
        } else if probability >= self.medium {
            RiskBand::Medium
        } else {
            RiskBand::Low
        }
    }
}

/// Why a score is high: how much the probability would drop if this
/// feature had its typical value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: String,
    pub value: f64,
    pub typical: f64,
    /// Probability points this feature adds (positive raises the risk).
    pub contribution: f64,
}

/// A formal customer's churn score, kept apart from the profile so scoring
/// never races the profile's optimistic locking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnScore {
    pub customer_id: crate::ids::CustomerId,
    pub probability: f64,
    pub band: RiskBand,
    pub reasons: Vec<Reason>,
    pub model_version: String,
    /// The instant the features were computed as of.
    pub as_of: DateTime<Utc>,
    /// False when the customer withdrew consent to marketing: the risk is
    /// theirs to know about, but nobody may reach out to them with offers
    /// to keep them. Scores stored before this field read as contactable.
    #[serde(default = "contactable_by_default")]
    pub contactable: bool,
}

fn contactable_by_default() -> bool {
    true
}

/// Which model serves, and what it was measured at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPointer {
    pub version: String,
    pub roc_auc: f64,
    /// Formal customers when it was trained.
    pub customers: u64,
    pub promoted_at: DateTime<Utc>,
    /// The version it replaced, for rollback.
    pub previous: Option<String>,
}

/// What to do with a retrained model.
#[derive(Debug, Clone, PartialEq)]
pub enum Promotion {
    Promote { reason: String },
    Keep { reason: String },
}

/// Promotes a challenger only if its holdout ROC AUC is not worse than the
/// champion's on the *same* holdout (the training run scores both), and it
/// is better than chance. `champion` is `None` when nothing serves yet.
pub fn decide(champion: Option<f64>, challenger: f64) -> Promotion {
    if !challenger.is_finite() || challenger <= 0.5 {
        return Promotion::Keep {
            reason: format!("the challenger's ROC AUC {challenger:.4} is no better than chance"),
        };
    }
    match champion {
        None => Promotion::Promote {
            reason: format!("no model serves yet; the challenger's ROC AUC is {challenger:.4}"),
        },
        Some(champion) if challenger >= champion => Promotion::Promote {
            reason: format!(
                "challenger {challenger:.4} ≥ champion {champion:.4} on the same holdout"
            ),
        },
        Some(champion) => Promotion::Keep {
            reason: format!(
                "challenger {challenger:.4} < champion {champion:.4} on the same holdout"
            ),
        },
    }
}

/// Whether the formal customers have grown enough since the serving model
/// was trained to train again.
pub fn retraining_due(customers_now: u64, customers_at_training: u64, growth: f64) -> bool {
    customers_now as f64 >= customers_at_training as f64 * (1.0 + growth.max(0.0))
        && customers_now > customers_at_training
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotes_only_a_challenger_at_least_as_good_on_the_same_holdout() {
        assert!(matches!(decide(None, 0.7), Promotion::Promote { .. }));
        assert!(matches!(
            decide(Some(0.80), 0.80),
            Promotion::Promote { .. }
        ));
        assert!(matches!(
            decide(Some(0.80), 0.81),
            Promotion::Promote { .. }
        ));
        assert!(matches!(decide(Some(0.80), 0.7999), Promotion::Keep { .. }));
        assert!(matches!(decide(None, 0.5), Promotion::Keep { .. }));
        assert!(matches!(decide(None, f64::NAN), Promotion::Keep { .. }));
    }

    #[test]
    fn bands_put_lapsed_customers_apart_from_early_warning() {
        let bands = RiskBands {
            high: 0.7,
            medium: 0.4,
        };
        assert_eq!(bands.classify(0.99, 120.0, 90), RiskBand::Lapsed);
        assert_eq!(bands.classify(0.75, 30.0, 90), RiskBand::High);
        assert_eq!(bands.classify(0.70, 30.0, 90), RiskBand::High);
        assert_eq!(bands.classify(0.5, 89.9, 90), RiskBand::Medium);
        assert_eq!(bands.classify(0.1, 0.0, 90), RiskBand::Low);
        for band in RiskBand::ALL {
            assert_eq!(RiskBand::from_name(band.name()), Some(band));
        }
    }

    #[test]
    fn retraining_is_due_after_the_set_growth() {
        assert!(!retraining_due(1_090, 1_000, 0.1));
        assert!(retraining_due(1_100, 1_000, 0.1));
        assert!(!retraining_due(0, 0, 0.1));
        assert!(retraining_due(1, 0, 0.1));
    }
}
