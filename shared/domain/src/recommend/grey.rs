//! Grey relational analysis of customer features.
//!
//! 1. Dimensionless: each feature is range-normalised over the customer
//!    base, benefit features `(x − min)/(max − min)`, cost features (recency:
//!    fewer days is better) `(max − x)/(max − min)`; a constant feature
//!    normalises to 1 for everyone (no one is worse).
//! 2. Coefficients: against the ideal customer (1 on every feature),
//!    `Δ = 1 − x'` and `ξ = (Δmin + ρ·Δmax) / (Δ + ρ·Δmax)`, with Δmin and
//!    Δmax over every customer and feature and the distinguishing
//!    coefficient ρ = 0.5.
//! 3. Grade: the mean of a customer's coefficients, in (0, 1]; 1 is the
//!    ideal.
//! 4. Levels: `high`, `medium`, `low` by the grades' tertiles in the run.

use serde::{Deserialize, Serialize};

use super::signals::CustomerFeatures;

pub const DISTINGUISHING_COEFFICIENT: f64 = 0.5;
pub const FEATURES: usize = 6;
/// Rating read for a customer who never reviewed.
const NEUTRAL_RATING: f64 = 3.0;

/// Whether more of a feature is better (benefit) or worse (cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Benefit,
    Cost,
}

/// Feature names and directions, in the order of `raw`.
pub const FEATURE_NAMES: [(&str, Direction); FEATURES] = [
    ("recency_days", Direction::Cost),
    ("orders", Direction::Benefit),
    ("spend", Direction::Benefit),
    ("breadth", Direction::Benefit),
    ("interactions", Direction::Benefit),
    ("rating", Direction::Benefit),
];

/// The feature values in `FEATURE_NAMES` order. A customer who never
/// bought gets the worst recency seen, passed in as `worst_recency`.
fn raw(features: &CustomerFeatures, worst_recency: f64) -> [f64; FEATURES] {
    [
        features.recency_days.unwrap_or(worst_recency),
        features.orders,
        features.spend,
        features.breadth,
        features.interactions,
        features.rating.unwrap_or(NEUTRAL_RATING),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GreyLevel {
    High,
    Medium,
    Low,
}

impl GreyLevel {
    pub fn name(self) -> &'static str {
        match self {
            GreyLevel::High => "high",
            GreyLevel::Medium => "medium",
            GreyLevel::Low => "low",
        }
    }
}

/// A customer's grade and level, with the normalised features behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreyAssessment {
    pub grade: f64,
    pub level: GreyLevel,
    /// Dimensionless features in `FEATURE_NAMES` order, 1 = best.
    pub normalised: Vec<f64>,
}

/// The normalisation fitted on a customer base: per-feature ranges and the
/// Δmin/Δmax of the coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyScale {
    min: [f64; FEATURES],
    max: [f64; FEATURES],
    worst_recency: f64,
    delta_min: f64,
    delta_max: f64,
}

impl GreyScale {
    pub fn fit(customers: &[CustomerFeatures]) -> GreyScale {
        let worst_recency = customers
            .iter()
            .filter_map(|f| f.recency_days)
            .fold(0.0, f64::max);
        let mut min = [f64::INFINITY; FEATURES];
        let mut max = [f64::NEG_INFINITY; FEATURES];
        for features in customers {
            for (k, x) in raw(features, worst_recency).into_iter().enumerate() {
                min[k] = min[k].min(x);
                max[k] = max[k].max(x);
            }
        }
        let mut scale = GreyScale {
            min,
            max,
            worst_recency,
            delta_min: 0.0,
            delta_max: 1.0,
        };
        let (mut delta_min, mut delta_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for features in customers {
            for x in scale.normalise(features) {
                delta_min = delta_min.min(1.0 - x);
                delta_max = delta_max.max(1.0 - x);
            }
        }
        if delta_min.is_finite() {
            scale.delta_min = delta_min;
            scale.delta_max = delta_max;
        }
        scale
    }

    /// Range-normalised features, each in [0, 1] with 1 the best.
    pub fn normalise(&self, features: &CustomerFeatures) -> [f64; FEATURES] {
        let mut out = [1.0; FEATURES];
        for (k, x) in raw(features, self.worst_recency).into_iter().enumerate() {
            let range = self.max[k] - self.min[k];
            if range > 0.0 {
                let x = x.clamp(self.min[k], self.max[k]);
                out[k] = match FEATURE_NAMES[k].1 {
                    Direction::Benefit => (x - self.min[k]) / range,
                    Direction::Cost => (self.max[k] - x) / range,
                };
            }
        }
        out
    }

    /// Grey relational coefficients against the ideal customer.
    pub fn coefficients(&self, features: &CustomerFeatures) -> [f64; FEATURES] {
        let rho_max = DISTINGUISHING_COEFFICIENT * self.delta_max;
        self.normalise(features).map(|x| {
            let delta = 1.0 - x;
            if delta + rho_max == 0.0 {
                1.0 // everyone is ideal: no distance to grade
            } else {
                (self.delta_min + rho_max) / (delta + rho_max)
            }
        })
    }

    /// The grey relational grade: the mean coefficient.
    pub fn grade(&self, features: &CustomerFeatures) -> f64 {
        self.coefficients(features).iter().sum::<f64>() / FEATURES as f64
    }
}

/// The cut points between levels: the grades' tertiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreyLevels {
    pub high_from: f64,
    pub medium_from: f64,
}

impl GreyLevels {
    pub fn from_grades(grades: &[f64]) -> GreyLevels {
        let mut sorted: Vec<f64> = grades.iter().copied().filter(|g| g.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            sorted
                .get(
                    ((sorted.len() as f64 * q).floor() as usize)
                        .min(sorted.len().saturating_sub(1)),
                )
                .copied()
                .unwrap_or(1.0)
        };
        GreyLevels {
            high_from: at(2.0 / 3.0),
            medium_from: at(1.0 / 3.0),
        }
    }

    pub fn level(&self, grade: f64) -> GreyLevel {
        if grade >= self.high_from {
            GreyLevel::High
        } else if grade >= self.medium_from {
            GreyLevel::Medium
        } else {
            GreyLevel::Low
        }
    }

    pub fn assess(&self, scale: &GreyScale, features: &CustomerFeatures) -> GreyAssessment {
        let grade = scale.grade(features);
        GreyAssessment {
            grade,
            level: self.level(grade),
            normalised: scale.normalise(features).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(recency: f64, orders: f64, spend: f64) -> CustomerFeatures {
        CustomerFeatures {
            recency_days: Some(recency),
            orders,
            spend,
            breadth: orders,
            interactions: 0.0,
            rating: None,
        }
    }

    #[test]
    fn coefficients_follow_the_textbook_formula() {
        let base = [
            customer(10.0, 5.0, 500.0),
            customer(100.0, 1.0, 100.0),
            customer(55.0, 3.0, 300.0),
        ];
        let scale = GreyScale::fit(&base);
        // The best customer is ideal on every feature that varies: ξ = 1.
        assert_eq!(scale.normalise(&base[0]), [1.0; FEATURES]);
        assert!((scale.grade(&base[0]) - 1.0).abs() < 1e-12);
        // The middle one is half-way on four features: Δ = 0.5, Δmin = 0,
        // Δmax = 1, ξ = (0 + 0.5)/(0.5 + 0.5) = 0.5; constant features give 1.
        let xi = scale.coefficients(&base[2]);
        assert!((xi[0] - 0.5).abs() < 1e-12, "{xi:?}");
        assert!((xi[4] - 1.0).abs() < 1e-12);
        assert!((scale.grade(&base[2]) - (4.0 * 0.5 + 2.0) / 6.0).abs() < 1e-12);
        // The worst: Δ = 1, ξ = 0.5/1.5 = 1/3.
        assert!((scale.coefficients(&base[1])[1] - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_customer_who_never_bought_has_the_worst_recency() {
        let never = CustomerFeatures {
            recency_days: None,
            ..customer(0.0, 0.0, 0.0)
        };
        let base = [customer(10.0, 2.0, 50.0), customer(40.0, 1.0, 10.0), never];
        let scale = GreyScale::fit(&base);
        assert_eq!(scale.normalise(&never)[0], 0.0);
        assert!(scale.grade(&never) < scale.grade(&base[1]));
    }

    #[test]
    fn tertiles_grade_customers_into_three_levels() {
        let grades: Vec<f64> = (0..9).map(|g| f64::from(g) / 10.0).collect();
        let levels = GreyLevels::from_grades(&grades);
        let counted = |level| grades.iter().filter(|g| levels.level(**g) == level).count();
        assert_eq!(
            (
                counted(GreyLevel::High),
                counted(GreyLevel::Medium),
                counted(GreyLevel::Low)
            ),
            (3, 3, 3)
        );
        assert_eq!(GreyLevels::from_grades(&[]).level(0.5), GreyLevel::Low);
    }
}
