//! Relative tier bounds: instead of fixed coefficients, each tier holds a
//! share of the shop's own customers (the top 2 % diamond, the next 8 %
//! platinum, …). Shops' customers differ too much for one absolute scale to
//! rank them alike (docs/customer-value.md): on the default scale CDNOW's
//! median customer scores 301 and Superstore's 722. The daily refresh counts
//! every coefficient into a [`Histogram`] and [`RelativeBounds::calibrate`]
//! turns it into the coefficients that cut the shares; the write paths then
//! assess with those bounds until the next run.

use serde::{Deserialize, Serialize};

use super::{FULL, TierBounds};
use crate::error::{Collector, FieldError};

/// Each tier's share of the customers with a tier, in ‰, top down (bronze:
/// the rest), and the share that is premium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelativeBounds {
    pub diamond: u32,
    pub platinum: u32,
    pub gold: u32,
    pub silver: u32,
    pub premium: u32,
    /// Below this many customers with a tier, shares mean little (one
    /// customer is 10 % of ten): the absolute bounds stay in force.
    pub min_customers: u64,
}

impl Default for RelativeBounds {
    /// A loyalty pyramid: 2 % diamond, 8 % platinum, 20 % gold, 30 % silver,
    /// 40 % bronze; the top 10 % premium.
    fn default() -> Self {
        RelativeBounds {
            diamond: 20,
            platinum: 80,
            gold: 200,
            silver: 300,
            premium: 100,
            min_customers: 100,
        }
    }
}

/// How many customers hold each coefficient (0 to 1,000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; FULL as usize + 1],
        }
    }
}

impl Histogram {
    pub fn add(&mut self, coefficient: u32) {
        self.counts[coefficient.min(FULL) as usize] += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Customers at or above each coefficient: `above[c]` = count(≥ c).
    fn at_or_above(&self) -> Vec<u64> {
        let mut above = vec![0; self.counts.len() + 1];
        for c in (0..self.counts.len()).rev() {
            above[c] = above[c + 1] + self.counts[c];
        }
        above
    }
}

/// The absolute bounds one refresh derived from the shop's coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calibration {
    pub tiers: TierBounds,
    pub premium_at: u32,
    /// Customers with a tier the shares were taken of.
    pub customers: u64,
}

impl RelativeBounds {
    /// Checks the shares an admin sent, naming every bad field.
    pub(super) fn validate(&self, errors: &mut Collector) {
        let shares = [
            ("diamond", self.diamond),
            ("platinum", self.platinum),
            ("gold", self.gold),
            ("silver", self.silver),
            ("premium", self.premium),
        ];
        for (name, share) in shares {
            if !(1..FULL).contains(&share) {
                errors.push(FieldError::new(
                    format!("relative.{name}"),
                    "out_of_range",
                    format!("must be 1 to {} ‰", FULL - 1),
                ));
            }
        }
        let tiers = u64::from(self.diamond)
            + u64::from(self.platinum)
            + u64::from(self.gold)
            + u64::from(self.silver);
        if tiers >= u64::from(FULL) {
            errors.push(FieldError::new(
                "relative.silver",
                "out_of_range",
                format!(
                    "diamond, platinum, gold and silver share {tiers} ‰: \
                     they must leave bronze some of the {FULL} ‰"
                ),
            ));
        }
        if self.min_customers < 1 {
            errors.push(FieldError::new(
                "relative.min_customers",
                "out_of_range",
                "must be 1 or more",
            ));
        }
    }

    /// The coefficients that cut the shares on these customers, or `None`
    /// when they are fewer than `min_customers`.
    ///
    /// Many customers can share one coefficient (every one-off buyer of the
    /// same amount on the same day), so a share is met as closely as whole
    /// coefficients allow: each bound is the coefficient whose count at or
    /// above it lies nearest the share's cumulative target (the smaller
    /// group on a tie). Bounds stay strictly descending and at least 1, so
    /// a degenerate spread still yields a valid policy — with some tiers
    /// empty rather than customers in the wrong order.
    pub fn calibrate(&self, histogram: &Histogram) -> Option<Calibration> {
        let total = histogram.total();
        if total < self.min_customers.max(1) {
            return None;
        }
        let above = histogram.at_or_above();
        let cut = |share_permille: u64| -> u32 {
            let target = total * share_permille;
            let mut best = (u64::MAX, FULL + 1);
            for c in (0..=FULL).rev() {
                let distance = (above[c as usize] * u64::from(FULL)).abs_diff(target);
                // Walking down, counts only grow: `<` keeps the higher
                // coefficient (the smaller group) on a tie.
                if distance < best.0 {
                    best = (distance, c);
                }
            }
            best.1
        };
        let mut cumulative = 0u64;
        let mut bounds = [0u32; 4];
        for (slot, share) in [self.diamond, self.platinum, self.gold, self.silver]
            .into_iter()
            .enumerate()
        {
            cumulative += u64::from(share);
            bounds[slot] = cut(cumulative);
        }
        // Strictly descending within 1..=FULL: lower tiers give way first
        // (top down, each below the one above), then the floor lifts them
        // back only where the top ones left no room (bottom up).
        for slot in 0..4 {
            let ceiling = if slot == 0 {
                FULL
            } else {
                bounds[slot - 1].saturating_sub(1)
            };
            bounds[slot] = bounds[slot].min(ceiling);
        }
        for slot in (0..4).rev() {
            let floor = if slot == 3 { 1 } else { bounds[slot + 1] + 1 };
            bounds[slot] = bounds[slot].max(floor);
        }
        Some(Calibration {
            tiers: TierBounds {
                diamond: bounds[0],
                platinum: bounds[1],
                gold: bounds[2],
                silver: bounds[3],
            },
            premium_at: cut(u64::from(self.premium)).clamp(1, FULL),
            customers: total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(coefficients: impl IntoIterator<Item = u32>) -> Histogram {
        let mut h = Histogram::default();
        for c in coefficients {
            h.add(c);
        }
        h
    }

    fn in_tier(h: &[u32], low: u32, high: u32) -> usize {
        h.iter().filter(|&&c| c >= low && c < high).count()
    }

    #[test]
    fn a_uniform_spread_is_cut_at_the_shares() {
        // 1,000 customers, coefficients 0..999.
        let coefficients: Vec<u32> = (0..1000).collect();
        let c = RelativeBounds::default()
            .calibrate(&histogram(coefficients.iter().copied()))
            .expect("enough customers");
        assert_eq!(c.customers, 1000);
        let t = c.tiers;
        assert_eq!(in_tier(&coefficients, t.diamond, FULL + 1), 20);
        assert_eq!(in_tier(&coefficients, t.platinum, t.diamond), 80);
        assert_eq!(in_tier(&coefficients, t.gold, t.platinum), 200);
        assert_eq!(in_tier(&coefficients, t.silver, t.gold), 300);
        assert_eq!(in_tier(&coefficients, 0, t.silver), 400);
        assert_eq!(in_tier(&coefficients, c.premium_at, FULL + 1), 100);
    }

    #[test]
    fn the_same_shares_on_a_shop_whose_customers_all_score_high() {
        // Superstore-like: everyone between 560 and 820.
        let coefficients: Vec<u32> = (0..800).map(|i| 560 + (i * 13) % 261).collect();
        let c = RelativeBounds::default()
            .calibrate(&histogram(coefficients.iter().copied()))
            .unwrap();
        let diamond = in_tier(&coefficients, c.tiers.diamond, FULL + 1);
        let bronze = in_tier(&coefficients, 0, c.tiers.silver);
        assert!((12..=20).contains(&diamond), "diamond {diamond}, {c:?}");
        assert!((300..=340).contains(&bronze), "bronze {bronze}, {c:?}");
        assert!(c.tiers.silver > 560, "{c:?}");
    }

    #[test]
    fn ties_are_met_as_closely_as_whole_coefficients_allow() {
        // 70 % of customers at one coefficient (one-off buyers), the rest
        // spread above it.
        let mut coefficients = vec![230; 700];
        coefficients.extend((0..300).map(|i| 300 + i));
        let c = RelativeBounds::default()
            .calibrate(&histogram(coefficients.iter().copied()))
            .unwrap();
        // Diamond, platinum and gold fit above the block (300 of 1,000);
        // silver's cumulative 60 % cannot split it: nearest is 30 % (the
        // block stays bronze) rather than 100 %.
        assert_eq!(in_tier(&coefficients, c.tiers.gold, FULL + 1), 300);
        assert_eq!(in_tier(&coefficients, c.tiers.silver, c.tiers.gold), 0);
        assert!(c.tiers.silver > 230 && c.tiers.silver < c.tiers.gold);
    }

    #[test]
    fn everyone_alike_still_gives_descending_bounds() {
        let c = RelativeBounds::default()
            .calibrate(&histogram(vec![0; 500]))
            .unwrap();
        let t = c.tiers;
        assert!(t.diamond > t.platinum && t.platinum > t.gold && t.gold > t.silver);
        assert!(t.silver >= 1 && t.diamond <= FULL, "{t:?}");
        let c = RelativeBounds::default()
            .calibrate(&histogram(vec![FULL; 500]))
            .unwrap();
        let t = c.tiers;
        assert!(t.diamond > t.platinum && t.platinum > t.gold && t.gold > t.silver);
        assert!(t.diamond <= FULL, "{t:?}");
    }

    #[test]
    fn too_few_customers_calibrate_nothing() {
        let bounds = RelativeBounds::default();
        assert_eq!(bounds.calibrate(&histogram(0..99)), None);
        assert!(bounds.calibrate(&histogram(0..100)).is_some());
    }

    #[test]
    fn bad_shares_are_named() {
        let mut errors = Collector::default();
        RelativeBounds {
            diamond: 0,
            gold: 600,
            silver: 400,
            premium: 1000,
            min_customers: 0,
            ..RelativeBounds::default()
        }
        .validate(&mut errors);
        let invalid = errors.finish(|| ()).unwrap_err();
        let fields: Vec<_> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "relative.diamond",
                "relative.premium",
                "relative.silver",
                "relative.min_customers"
            ]
        );
    }
}
