//! The shop's rewards policy: what earns points and how many, when they
//! expire, and what each tier brings.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::Tier;
use crate::error::{Collector, FieldError, Invalid};
use crate::money::Currency;

const MAX_PER_UNIT: u32 = 10_000;
const MAX_MONTHS: u32 = 120;
const MAX_FIXED: u32 = 1_000_000;
/// 10× the base rate at most.
const MAX_MULTIPLIER_PERMILLE: u32 = 10_000;
const MAX_TIER_COUPONS: usize = 10;

/// What each tier brings its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBenefits {
    /// Points earned on purchases, in thousandths of the base rate (1000 = ×1).
    pub multiplier_permille: u32,
    /// Coupon templates granted on reaching the tier, once per benefit period.
    #[serde(default)]
    pub coupons: Vec<String>,
}

/// How often reaching a tier grants its coupons again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenefitPeriod {
    Month,
    Quarter,
    Year,
}

impl BenefitPeriod {
    /// The period `at` falls in, e.g. `2026`, `2026-q4`, `2026-12`.
    pub fn name(self, at: DateTime<Utc>) -> String {
        match self {
            BenefitPeriod::Year => format!("{:04}", at.year()),
            BenefitPeriod::Quarter => format!("{:04}-q{}", at.year(), at.month0() / 3 + 1),
            BenefitPeriod::Month => format!("{:04}-{:02}", at.year(), at.month()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardsPolicy {
    /// Points per whole unit of the shop's currency spent (before the tier's multiplier).
    pub points_per_unit: u32,
    /// Points expire this many months after they were earned.
    pub expiry_months: u32,
    /// Points for each review written.
    pub review_points: u32,
    /// Points to the referrer when a referred customer's first purchase lands.
    pub referral_points: u32,
    /// Every tier's benefits; all five are required.
    pub tiers: BTreeMap<Tier, TierBenefits>,
    pub benefit_period: BenefitPeriod,
}

impl Default for RewardsPolicy {
    /// One point per unit spent, kept two years; diamond members earn
    /// double. No coupons are granted until the shop makes templates.
    fn default() -> Self {
        let tiers = [
            (Tier::Diamond, 2000),
            (Tier::Platinum, 1500),
            (Tier::Gold, 1250),
            (Tier::Silver, 1100),
            (Tier::Bronze, 1000),
        ]
        .into_iter()
        .map(|(tier, multiplier_permille)| {
            (
                tier,
                TierBenefits {
                    multiplier_permille,
                    coupons: Vec::new(),
                },
            )
        })
        .collect();
        RewardsPolicy {
            points_per_unit: 1,
            expiry_months: 24,
            review_points: 20,
            referral_points: 200,
            tiers,
            benefit_period: BenefitPeriod::Year,
        }
    }
}

impl RewardsPolicy {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Collector::default();
        let mut range = |field: &str, value: u32, low: u32, high: u32| {
            if !(low..=high).contains(&value) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    format!("must be {low} to {high}"),
                ));
            }
        };
        range("points_per_unit", self.points_per_unit, 0, MAX_PER_UNIT);
        range("expiry_months", self.expiry_months, 1, MAX_MONTHS);
        range("review_points", self.review_points, 0, MAX_FIXED);
        range("referral_points", self.referral_points, 0, MAX_FIXED);
        for tier in Tier::ALL {
            let field = format!("tiers.{}", tier.name());
            match self.tiers.get(&tier) {
                None => errors.push(FieldError::required(field)),
                Some(benefits) => {
                    if !(0..=MAX_MULTIPLIER_PERMILLE).contains(&benefits.multiplier_permille) {
                        errors.push(FieldError::new(
                            format!("{field}.multiplier_permille"),
                            "out_of_range",
                            format!("must be 0 to {MAX_MULTIPLIER_PERMILLE}"),
                        ));
                    }
                    if benefits.coupons.len() > MAX_TIER_COUPONS {
                        errors.push(FieldError::new(
                            format!("{field}.coupons"),
                            "too_many",
                            format!("at most {MAX_TIER_COUPONS} templates"),
                        ));
                    }
                    for (i, template) in benefits.coupons.iter().enumerate() {
                        if let Err(e) = super::coupon::check_template_id(template) {
                            errors.push(e.under(&format!("{field}.coupons[{i}]")));
                        }
                    }
                }
            }
        }
        errors.finish(|| ())
    }

    /// Points a purchase of `total_minor` in `currency` earns at `tier` (no
    /// tier: the base rate). Orders in another currency than the shop's
    /// earn nothing: there is no rate to convert them by.
    pub fn purchase_points(
        &self,
        total_minor: i64,
        currency: Currency,
        shop_currency: Currency,
        tier: Option<Tier>,
    ) -> i64 {
        if currency != shop_currency || total_minor <= 0 {
            return 0;
        }
        let unit = 10i128.pow(currency.exponent());
        let multiplier = tier
            .and_then(|t| self.tiers.get(&t))
            .map_or(1000, |b| b.multiplier_permille);
        let points =
            i128::from(total_minor) * i128::from(self.points_per_unit) * i128::from(multiplier)
                / (unit * 1000);
        i64::try_from(points).unwrap_or(i64::MAX)
    }

    /// When points earned at `at` expire.
    pub fn expiry_of(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_add_months(chrono::Months::new(self.expiry_months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The coupon templates reaching `tier` grants.
    pub fn coupons_of(&self, tier: Tier) -> &[String] {
        self.tiers.get(&tier).map_or(&[], |b| b.coupons.as_slice())
    }
}
