//! Product recommendations: what to push to a customer, from which level of
//! the category tree, and why.
//!
//! The method, in the order it runs:
//!
//! 1. **Signals** (`signals`): a customer's purchases, browsing and inquiry
//!    interactions that name a product, stated category preferences and
//!    reviews become category weights at level 3, 2 and 1 (recent activity
//!    counts more), the products to exclude (non-consumables bought in the
//!    last `just_bought_days`, products reviewed badly) and disliked brands
//!    (the brand of a badly reviewed product: the first word of its name).
//! 2. **Grey relational grade** (`grey`): six customer features (recency,
//!    orders, spend, category breadth, interactions, mean rating) are made
//!    dimensionless by range normalisation (benefit features
//!    `(x − min)/(max − min)`, cost features `(max − x)/(max − min)`),
//!    compared with the ideal customer (all ones) by grey relational
//!    coefficients `ξ = (Δmin + ρΔmax)/(Δ + ρΔmax)` with ρ = 0.5, and
//!    averaged into a grade in (0, 1]. Grades are graded into three levels
//!    by the run's tertiles. The level chooses the ranking weights: highly
//!    graded customers (recent, frequent, broad, engaged) get rankings led
//!    by their own co-purchase signals, low-graded ones rankings led by
//!    popularity. It is an input to ranking only; it never removes a
//!    candidate.
//! 3. **Precompute** (`model`): item-to-item co-purchase similarity (cosine
//!    over distinct buyers), popularity (distinct buyers) and recent
//!    popularity (buyers decayed with a half-life), and a candidate list
//!    for every node of the tree (level 3, 2, 1 and the root's best
//!    sellers) that carries its ancestors' lists too; and per customer a
//!    profile with their category weights, exclusions, grey assessment and
//!    co-purchase neighbours already summed over what they bought.
//! 4. **Serving** (`rank`): one profile and one candidate list in, a ranked
//!    list out. Each candidate is served at the deepest level whose category
//!    the customer is strong in (level 3, then 2, then 1, then the overall
//!    best sellers), deeper levels first, and within a level by
//!    `w_sim·similarity + w_aff·affinity + w_pop·popularity + w_rec·recency`
//!    (each scaled to [0, 1]). Every item carries its level and a short
//!    reason; nothing left after exclusions is a `Miss`, which the caller
//!    records.
//! 5. **Evaluation** (`evaluate`): leave-last-order-out hit rate and NDCG.

pub mod evaluate;
pub mod grey;
pub mod model;
pub mod rank;
pub mod scope;
pub mod signals;

pub use evaluate::{LeaveLastOut, RankingMetrics};
pub use grey::{GreyAssessment, GreyLevel, GreyLevels, GreyScale};
pub use model::{
    Candidate, CandidateList, Catalogue, CoPurchase, Model, ModelSettings, Neighbour, Profile,
    ScopeWeight, SimilarList,
};
pub use rank::{
    Level, Miss, Outcome, Ranking, Recommendation, Recommendations, Request, Weights, recommend,
};
pub use scope::CategoryScope;
pub use signals::{CustomerFeatures, CustomerSignals, brand_of};
