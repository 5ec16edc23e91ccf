//! Rewards records: the shop's rewards policy (a config item changed under
//! its revision), each customer's points ledger and balance, coupon
//! templates, coupons and bulk issues, and referral codes and links.
//! Everything about one customer lives in their partition, so erasure
//! takes it with the profile.

pub mod coupons;
pub mod ledger;
pub mod referrals;
pub mod service;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ports::table::Table;
use strata_domain::rewards::RewardsPolicy;

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::put_config;

pub use coupons::{CouponIssue, CouponRepository, IssueProgress, Issued, Redeemed, StoredTemplate};
pub use ledger::{Balance, LedgerPage, PointsLedger, Posted};
pub use referrals::{ReferralLink, ReferralRepository, Resolved};
pub use service::{Earned, Expired, Rewards};

const REWARDS_CONFIG: &str = "rewards";
/// Below every time an expiry index sorts by (DynamoDB refuses an empty
/// key condition value).
pub(crate) const EARLIEST: &str = "0";

/// The rewards policy with its revision (0: the built-in default, never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRewardsPolicy {
    pub policy: RewardsPolicy,
    pub revision: u64,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct RewardsPolicies {
    table: Arc<dyn Table>,
}

impl RewardsPolicies {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RewardsPolicies { table }
    }

    pub async fn policy(&self) -> Result<StoredRewardsPolicy, StoreError> {
        match self.table.get(&keys::config(REWARDS_CONFIG)).await? {
            Some(item) => codec::decode(RecordKind::Config, &item),
            None => Ok(StoredRewardsPolicy {
                policy: RewardsPolicy::default(),
                revision: 0,
                updated_at: None,
            }),
        }
    }

    /// Stores a policy if the stored one is still at `expected_revision`.
    pub async fn put_policy(
        &self,
        policy: RewardsPolicy,
        expected_revision: u64,
        now: DateTime<Utc>,
    ) -> Result<StoredRewardsPolicy, StoreError> {
        let stored = StoredRewardsPolicy {
            policy,
            revision: expected_revision + 1,
            updated_at: Some(now),
        };
        put_config(
            self.table.as_ref(),
            REWARDS_CONFIG,
            &stored,
            expected_revision,
            "the rewards policy",
        )
        .await?;
        Ok(stored)
    }
}

/// A stable 64-bit seed from text (codes derived from ids and issue ids).
pub(crate) fn seed_of(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}
