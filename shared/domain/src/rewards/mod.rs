//! Rewards: the shop's rewards policy (points per unit of currency, expiry,
//! what reviews and referrals earn, each tier's benefits), the points
//! ledger's rules (what a purchase earns, which lots a debit consumes,
//! which lots are due to expire), coupons (templates, eligibility,
//! redemption) and referrals (who may refer whom). Rules only; the store
//! keeps the ledger, coupons and links, with conditional writes so that no
//! balance goes negative and no coupon is redeemed twice.

pub mod coupon;
pub mod ledger;
pub mod policy;
pub mod referral;

#[cfg(test)]
mod tests;

pub use coupon::{CouponRefusal, CouponState, CouponTemplate, Discount, IssuedCoupon};
pub use ledger::{EntryKind, LedgerEntry, Lot};
pub use policy::{BenefitPeriod, RewardsPolicy, TierBenefits};
pub use referral::ReferralRefusal;

use crate::error::FieldError;

/// The largest number of points one request may move.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// A points amount a request asks to move: 1 to `MAX_POINTS`, else an
/// error naming `field`. (Whether the JSON held a whole number at all is
/// the caller's to say: see `not_whole_points`.)
pub fn check_points(field: &str, points: i64) -> Result<i64, FieldError> {
    if (1..=MAX_POINTS).contains(&points) {
        Ok(points)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("must be a whole number of points from 1 to {MAX_POINTS}"),
        ))
    }
}

/// The error for a points amount that is not a whole number.
pub fn not_whole_points(field: &str) -> FieldError {
    FieldError::new(field, "not_an_integer", "must be a whole number of points")
}

/// A reference naming what a request is for (a checkout, a ticket): 1 to
/// 100 printable characters, which make the request idempotent.
pub fn check_reference(field: &str, reference: &str) -> Result<String, FieldError> {
    let trimmed = reference.trim();
    if trimmed.is_empty() {
        return Err(FieldError::required(field));
    }
    if trimmed.len() > 100 || trimmed.chars().any(|c| c.is_control() || c == '#') {
        return Err(FieldError::new(
            field,
            "invalid",
            "must be 1 to 100 characters, without control characters or '#'",
        ));
    }
    Ok(trimmed.to_owned())
}
