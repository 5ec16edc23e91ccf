//! Referrals: who may be linked to whom. Identities are de-duplicated into
//! one profile per person, so the same identity is the same customer id.

use crate::ids::CustomerId;

/// How long a chain of referrers is followed when looking for a loop.
pub const MAX_CHAIN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferralRefusal {
    #[error("no customer has this referral code")]
    UnknownCode,
    #[error("the referrer's account was erased; their code no longer refers anyone")]
    ErasedReferrer,
    #[error("a customer cannot refer themself")]
    SelfReferral,
    #[error("the referrer was referred, directly or down the chain, by this customer")]
    Loop,
    #[error("the customer was referred already")]
    AlreadyReferred,
    #[error("only a customer who has not bought yet can be referred")]
    NotNew,
}

impl ReferralRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ReferralRefusal::UnknownCode => "unknown_code",
            ReferralRefusal::ErasedReferrer => "referrer_erased",
            ReferralRefusal::SelfReferral => "self_referral",
            ReferralRefusal::Loop => "referral_loop",
            ReferralRefusal::AlreadyReferred => "already_referred",
            ReferralRefusal::NotNew => "not_a_new_customer",
        }
    }
}

/// Whether `referred` (with `purchases` so far and the referrer already
/// linked, if any) may be linked to `referrer`, whose own referrers up the
/// chain are `chain` (nearest first).
pub fn check(
    referred: CustomerId,
    purchases: u32,
    linked: Option<CustomerId>,
    referrer: CustomerId,
    chain: &[CustomerId],
) -> Result<(), ReferralRefusal> {
    if referrer == referred {
        return Err(ReferralRefusal::SelfReferral);
    }
    if let Some(linked) = linked {
        return if linked == referrer {
            Ok(())
        } else {
            Err(ReferralRefusal::AlreadyReferred)
        };
    }
    if purchases > 0 {
        return Err(ReferralRefusal::NotNew);
    }
    if chain.contains(&referred) {
        return Err(ReferralRefusal::Loop);
    }
    Ok(())
}

/// A customer's referral code, derived from 60 bits of their id's hash by
/// the store (`seed`): 10 characters, without look-alikes.
pub fn code_from(seed: u64) -> String {
    super::coupon::code_from(seed)[..10].to_owned()
}
