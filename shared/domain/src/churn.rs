//! Churn and conversion: the one definition of the churn model's features
//! and label, risk bands and the score record, the model card and the rule
//! that promotes a retrained model, monthly churn/conversion counts, and the
//! admin-configured criteria that rate an intent customer's conversion.
//!
//! Training (Python) reads the features this module computes (exported as
//! CSV by the churn function), and serving computes them with the same code,
//! so the two cannot drift apart.

pub mod conversion;
pub mod features;
pub mod lifecycle;
pub mod model;
pub mod retraining;

pub use conversion::{ConversionCriteria, ConversionOutcome, Signal};
pub use features::{Feature, FeatureVector, History, TrainingCutoffs};
pub use lifecycle::{MonthlyCounts, MonthlyTally, monthly_counts};
pub use model::{
    ChurnScore, ModelCard, ModelPointer, Promotion, Reason, RiskBand, RiskBands, decide,
    retraining_due,
};
pub use retraining::{
    ChampionFacts, RetrainDecision, RetrainPolicy, RetrainReason, RetrainSituation,
    decide_retraining,
};
