//! Coupons: templates the admin makes (an amount or a percentage off, a
//! minimum spend, a validity window, the tiers it is for), coupons issued
//! from them to customers, and the rules of redeeming one.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::Tier;
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::CustomerId;

const MAX_NAME: usize = 100;
const MAX_VALID_DAYS: u32 = 3650;
const MAX_PERCENT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Discount {
    /// A fixed amount off, in minor units of the shop's currency.
    Amount { minor: i64 },
    /// A percentage off the order's total.
    Percent { percent: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponTemplate {
    pub name: String,
    pub discount: Discount,
    /// The order total (minor units) the coupon needs; 0 for none.
    #[serde(default)]
    pub min_spend_minor: i64,
    /// Days a coupon stays valid once issued.
    pub valid_days: u32,
    /// No coupon of the template is issued or redeemed before / after these.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// The tiers whose members may get it; empty: every customer.
    #[serde(default)]
    pub tiers: Vec<Tier>,
}

/// A template's id: 1 to 64 lower-case letters, digits and `-`.
pub fn check_template_id(id: &str) -> Result<(), FieldError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "",
            "invalid",
            "a template id is 1 to 64 lower-case letters, digits and '-'",
        ))
    }
}

impl CouponTemplate {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Collector::default();
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                "name",
                "invalid",
                format!("must be 1 to {MAX_NAME} characters"),
            ));
        }
        match self.discount {
            Discount::Amount { minor } if minor <= 0 => errors.push(FieldError::new(
                "discount.minor",
                "out_of_range",
                "must be above 0",
            )),
            Discount::Percent { percent } if !(1..=MAX_PERCENT).contains(&percent) => {
                errors.push(FieldError::new(
                    "discount.percent",
                    "out_of_range",
                    format!("must be 1 to {MAX_PERCENT}"),
                ))
            }
            _ => {}
        }
        if self.min_spend_minor < 0 {
            errors.push(FieldError::new(
                "min_spend_minor",
                "out_of_range",
                "must be 0 or more",
            ));
        }
        if !(1..=MAX_VALID_DAYS).contains(&self.valid_days) {
            errors.push(FieldError::new(
                "valid_days",
                "out_of_range",
                format!("must be 1 to {MAX_VALID_DAYS}"),
            ));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from >= until
        {
            errors.push(FieldError::new(
                "valid_until",
                "out_of_range",
                "must be after valid_from",
            ));
        }
        errors.finish(|| ())
    }

    /// Whether a coupon of this template may be issued at `at` to a customer
    /// of `tier`.
    pub fn issuable(&self, tier: Option<Tier>, at: DateTime<Utc>) -> Result<(), CouponRefusal> {
        if self.valid_until.is_some_and(|until| at >= until) {
            return Err(CouponRefusal::TemplateEnded);
        }
        if !self.tiers.is_empty() && !tier.is_some_and(|t| self.tiers.contains(&t)) {
            return Err(CouponRefusal::NotEligible);
        }
        Ok(())
    }

    /// The coupon this template gives `customer`, issued at `at`.
    pub fn issue(
        &self,
        template: &str,
        code: String,
        customer: CustomerId,
        at: DateTime<Utc>,
        grant: Option<String>,
    ) -> IssuedCoupon {
        let mut expires_at = at + Duration::days(i64::from(self.valid_days));
        if let Some(until) = self.valid_until {
            expires_at = expires_at.min(until);
        }
        IssuedCoupon {
            code,
            template: template.to_owned(),
            customer_id: customer,
            name: self.name.clone(),
            discount: self.discount,
            min_spend_minor: self.min_spend_minor,
            issued_at: at,
            valid_from: self.valid_from,
            expires_at,
            state: CouponState::Issued,
            redeemed_at: None,
            redeemed_for: None,
            grant,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    Issued,
    Redeemed,
    Expired,
}

impl CouponState {
    pub fn name(self) -> &'static str {
        match self {
            CouponState::Issued => "issued",
            CouponState::Redeemed => "redeemed",
            CouponState::Expired => "expired",
        }
    }
}

/// One customer's coupon: the template's terms as they were when issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCoupon {
    pub code: String,
    pub template: String,
    pub customer_id: CustomerId,
    pub name: String,
    pub discount: Discount,
    pub min_spend_minor: i64,
    pub issued_at: DateTime<Utc>,
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub state: CouponState,
    #[serde(default)]
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The order number or reference it was redeemed for.
    #[serde(default)]
    pub redeemed_for: Option<String>,
    /// What granted it: a bulk issue's id, or a tier benefit (`tier:gold:2026`).
    #[serde(default)]
    pub grant: Option<String>,
}

/// Why a coupon cannot be issued or redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CouponRefusal {
    #[error("the coupon was redeemed already")]
    AlreadyRedeemed,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon is not valid yet")]
    NotYetValid,
    #[error("the order's total is below the coupon's minimum spend")]
    BelowMinimumSpend,
    #[error("the customer's tier may not have this coupon")]
    NotEligible,
    #[error("the template's validity has ended")]
    TemplateEnded,
}

impl CouponRefusal {
    pub fn code(self) -> &'static str {
        match self {
            CouponRefusal::AlreadyRedeemed => "coupon_redeemed",
            CouponRefusal::Expired => "coupon_expired",
            CouponRefusal::NotYetValid => "coupon_not_valid_yet",
            CouponRefusal::BelowMinimumSpend => "below_minimum_spend",
            CouponRefusal::NotEligible => "not_eligible",
            CouponRefusal::TemplateEnded => "template_ended",
        }
    }

    pub fn on(self, field: &str) -> FieldError {
        FieldError::new(field, self.code(), self.to_string())
    }
}

impl IssuedCoupon {
    /// Whether the coupon may be redeemed at `at` for `reference`, on an
    /// order of `spend_minor` if it is for one. Redeeming again for the
    /// same reference is not refused: it is the same redemption.
    pub fn redeemable(
        &self,
        at: DateTime<Utc>,
        reference: &str,
        spend_minor: Option<i64>,
    ) -> Result<(), CouponRefusal> {
        match self.state {
            CouponState::Redeemed if self.redeemed_for.as_deref() == Some(reference) => {
                return Ok(());
            }
            CouponState::Redeemed => return Err(CouponRefusal::AlreadyRedeemed),
            CouponState::Expired => return Err(CouponRefusal::Expired),
            CouponState::Issued => {}
        }
        if at >= self.expires_at {
            return Err(CouponRefusal::Expired);
        }
        if self.valid_from.is_some_and(|from| at < from) {
            return Err(CouponRefusal::NotYetValid);
        }
        if spend_minor.is_some_and(|spend| spend < self.min_spend_minor) {
            return Err(CouponRefusal::BelowMinimumSpend);
        }
        Ok(())
    }

    /// What the coupon takes off an order of `spend_minor`: never more than the order.
    pub fn discount_on(&self, spend_minor: i64) -> i64 {
        let off = match self.discount {
            Discount::Amount { minor } => minor,
            Discount::Percent { percent } => spend_minor * i64::from(percent) / 100,
        };
        off.clamp(0, spend_minor.max(0))
    }
}

/// A coupon code: 12 characters from an alphabet without look-alikes,
/// from 60 random or derived bits (`seed`).
pub fn code_from(seed: u64) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    (0..12)
        .map(|i| ALPHABET[((seed >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// A coupon code as customers type it: upper-cased, 4 to 32 letters and digits.
pub fn check_code(field: &str, raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if (4..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(code)
    } else {
        Err(FieldError::new(
            field,
            "invalid",
            "a coupon code is 4 to 32 letters and digits",
        ))
    }
}
