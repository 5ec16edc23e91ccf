//! The daily value refresh: every profile assessed again as of the run
//! (parallel scan segments, profiles read without their personal fields).
//! With relative tier bounds a first pass counts every coefficient and
//! calibrates the bounds (stored for the write paths) before the second
//! pass assesses with them;
//! only customers whose tier or premium flag moves are written — read
//! whole, reassessed from what was read, saved conditionally on their
//! version (a conflicting write retried), the change recorded in the tier
//! history, and the coupons a move up grants issued. A customer whose
//! standing holds keeps the assessment of their last move: one read per
//! customer, no write. Then the rewards' passage of time: points and
//! coupons that expired by the run are expired, and bulk coupon issues
//! left unfinished are run on.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use std::time::Duration;
use strata_domain::customer::{Customer, Tier};
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::ports::table::{Cursor, Table};
use strata_domain::rewards::RewardsPolicy;
use strata_domain::value::{
    AssessmentCause, Calibration, Histogram, RelativeBounds, TierChange, ValuePolicy, moved,
};

use strata_store::{
    CountsSnapshot, CustomerRepository, Privacy, Rewards, StoreError, StoredCalibration,
    TierChangeRecord, TierCounts, ValueRepository,
};

/// How long one run spends on unfinished bulk coupon issues.
const ISSUE_BUDGET: Duration = Duration::from_secs(300);

/// How far back a first run (no earlier counts) looks for lost grants.
const FIRST_SWEEP: chrono::Duration = chrono::Duration::days(31);

/// Attempts at saving one customer another writer changed meanwhile.
const SAVE_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("customer {0} kept changing; the next run assesses them again")]
    Contended(CustomerId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSettings {
    /// Parallel scan segments, scanned in turn.
    pub segments: u32,
    /// Items per scan page.
    pub page: u32,
    /// The shop's currency: spend in others does not count.
    pub currency: Currency,
}

impl Default for RefreshSettings {
    fn default() -> Self {
        RefreshSettings {
            segments: 4,
            page: 500,
            currency: Currency::CNY,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RefreshReport {
    pub policy_revision: u64,
    /// The bounds this run calibrated from the policy's relative shares
    /// (none: an absolute policy, or too few customers).
    pub calibration: Option<Calibration>,
    /// Profiles read.
    pub customers: u64,
    /// Of those, customers with a tier after the run.
    pub with_tier: u64,
    /// Customers whose tier or premium flag moved, each written once.
    pub moved: u64,
    /// Saves retried after another writer changed the customer.
    pub retried: u64,
    /// Coupons the moves up granted.
    pub coupons_granted: u64,
    /// Coupons of moves up recorded since the last run whose grant a crash
    /// had lost (a move is recorded with its profile; its grant follows).
    pub missed_grants: u64,
    /// Customers whose points expired, and how many points.
    pub points_expired_customers: u64,
    pub points_expired: i64,
    pub coupons_expired: u64,
    /// Bulk coupon issues run on, and of those, finished.
    pub issues_resumed: u64,
    pub issues_finished: u64,
    pub seconds: f64,
}

#[derive(Clone)]
pub struct ValueRefresh {
    /// Profiles without personal fields: the scan.
    profiles: CustomerRepository,
    /// Whole profiles: the few that are written.
    customers: CustomerRepository,
    values: ValueRepository,
    table: Arc<dyn Table>,
}

impl ValueRefresh {
    pub fn new(table: Arc<dyn Table>, privacy: Arc<Privacy>) -> Self {
        ValueRefresh {
            profiles: CustomerRepository::pseudonymous(table.clone()),
            customers: CustomerRepository::new(table.clone(), privacy),
            values: ValueRepository::new(table.clone()),
            table,
        }
    }

    /// Assesses every customer as of `as_of` under the stored policy.
    pub async fn run(
        &self,
        settings: RefreshSettings,
        as_of: DateTime<Utc>,
    ) -> Result<RefreshReport, RefreshError> {
        let started = Instant::now();
        let taken_at = Utc::now();
        let mut counts = TierCounts::default();
        let stored = self.values.policy().await?;
        let calibration = match stored.policy.relative {
            Some(relative) => {
                self.calibrate(&relative, &stored.policy, settings, as_of, stored.revision)
                    .await?
            }
            None => None,
        };
        let policy = stored.policy.in_force(calibration.as_ref());
        let rewards = Rewards::new(self.table.clone(), settings.currency);
        let benefits = rewards.policies.policy().await?.policy;
        let mut report = RefreshReport {
            policy_revision: stored.revision,
            calibration,
            ..RefreshReport::default()
        };
        report.missed_grants = self.grant_missed(&rewards, &benefits).await?;
        let mut scan = ProfileScan::new(&self.profiles, settings);
        while let Some(page) = scan.next_page().await? {
            for profile in &page {
                report.customers += 1;
                let value = policy.assess(&profile.activity, settings.currency, as_of);
                if let Some(value) = &value {
                    report.with_tier += 1;
                    counts.add(value.tier, value.premium);
                }
                if moved(profile.value.as_ref(), value.as_ref()) {
                    let (retried, change) = self
                        .write(profile.id, &policy, settings.currency, as_of)
                        .await?;
                    report.retried += retried;
                    report.moved += 1;
                    if let Some(change) = change {
                        report.coupons_granted +=
                            rewards.grant_tier_benefits(&benefits, &[change]).await?;
                    }
                }
            }
        }
        self.values
            .save_counts(&CountsSnapshot { counts, taken_at })
            .await?;
        self.rewards_over_time(&rewards, as_of, &mut report).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Grants again what the moves up recorded since the last run earn:
    /// grants are idempotent per tier, template and period, so only those a
    /// crash lost (after the move's profile and record were saved) are
    /// issued now. Nothing is read when no tier grants coupons.
    async fn grant_missed(
        &self,
        rewards: &Rewards,
        benefits: &RewardsPolicy,
    ) -> Result<u64, RefreshError> {
        if Tier::ALL
            .iter()
            .all(|&tier| benefits.coupons_of(tier).is_empty())
        {
            return Ok(0);
        }
        let since = match self.values.counted_at().await? {
            Some(at) => at,
            None => Utc::now() - FIRST_SWEEP,
        };
        let moves = self.values.recorded_since(since).await?;
        Ok(rewards.grant_tier_benefits(benefits, &moves).await?)
    }

    /// The first pass of a relative policy: every coefficient as of the
    /// run counted, the shares cut, the bounds stored before the second
    /// pass so the write paths move to them with it. Too few customers:
    /// nothing stored, the absolute bounds stay in force.
    async fn calibrate(
        &self,
        relative: &RelativeBounds,
        policy: &ValuePolicy,
        settings: RefreshSettings,
        as_of: DateTime<Utc>,
        revision: u64,
    ) -> Result<Option<Calibration>, RefreshError> {
        let mut histogram = Histogram::default();
        let mut scan = ProfileScan::new(&self.profiles, settings);
        while let Some(page) = scan.next_page().await? {
            for profile in &page {
                if let Some(value) = policy.assess(&profile.activity, settings.currency, as_of) {
                    histogram.add(value.coefficient);
                }
            }
        }
        let Some(calibration) = relative.calibrate(&histogram) else {
            return Ok(None);
        };
        self.values
            .save_calibration(&StoredCalibration {
                calibration,
                policy_revision: revision,
                as_of,
            })
            .await?;
        Ok(Some(calibration))
    }

    /// Expires points and coupons due by `as_of` and runs on unfinished
    /// bulk coupon issues.
    async fn rewards_over_time(
        &self,
        rewards: &Rewards,
        as_of: DateTime<Utc>,
        report: &mut RefreshReport,
    ) -> Result<(), RefreshError> {
        let expired = rewards.expire(as_of).await?;
        report.points_expired_customers = expired.customers;
        report.points_expired = expired.points;
        report.coupons_expired = expired.coupons;
        let started = Instant::now();
        for issue in rewards.coupons.unfinished_issues().await? {
            let left = ISSUE_BUDGET.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            report.issues_resumed += 1;
            if rewards.run_issue(issue, &self.profiles, left).await?.done {
                report.issues_finished += 1;
            }
        }
        Ok(())
    }

    /// Reads the customer whole, reassesses and saves; returns the retries
    /// and the change recorded.
    async fn write(
        &self,
        id: CustomerId,
        policy: &ValuePolicy,
        currency: Currency,
        as_of: DateTime<Utc>,
    ) -> Result<(u64, Option<TierChangeRecord>), RefreshError> {
        for attempt in 0..SAVE_ATTEMPTS {
            // Erased meanwhile: nothing to do.
            let Some(before) = self.customers.get(id).await? else {
                return Ok((attempt as u64, None));
            };
            let value = policy.assess(&before.activity, currency, as_of);
            if !moved(before.value.as_ref(), value.as_ref()) {
                return Ok((attempt as u64, None));
            }
            let mut after: Customer = before.clone();
            after.set_value(value);
            let record = TierChange::between(
                before.value.as_ref(),
                value.as_ref(),
                as_of,
                AssessmentCause::Refresh,
            )
            .map(|change| TierChangeRecord {
                customer_id: id,
                change,
            });
            // The record goes in the profile's transaction.
            let with = record
                .iter()
                .map(ValueRepository::record_op)
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .customers
                .save_many_with(&[(before.clone(), after)], vec![with])
                .await
                .pop()
            {
                Some(Ok(_)) => return Ok((attempt as u64, record)),
                Some(Err(StoreError::Conflict { .. })) => continue,
                Some(Err(other)) => return Err(other.into()),
                None => return Ok((attempt as u64, None)),
            }
        }
        Err(RefreshError::Contended(id))
    }
}

/// Every profile (without its personal fields), segment by segment, a page
/// at a time.
struct ProfileScan<'a> {
    profiles: &'a CustomerRepository,
    segments: u32,
    page: u32,
    segment: u32,
    start: Option<Cursor>,
}

impl<'a> ProfileScan<'a> {
    fn new(profiles: &'a CustomerRepository, settings: RefreshSettings) -> Self {
        ProfileScan {
            profiles,
            segments: settings.segments.max(1),
            page: settings.page.max(1),
            segment: 0,
            start: None,
        }
    }

    /// The next page; `None` once every segment is read.
    async fn next_page(&mut self) -> Result<Option<Vec<Customer>>, StoreError> {
        if self.segment >= self.segments {
            return Ok(None);
        }
        let page = self
            .profiles
            .scan_profiles(self.segment, self.segments, self.start.take(), self.page)
            .await?;
        match page.next {
            Some(next) => self.start = Some(next),
            None => self.segment += 1,
        }
        Ok(Some(page.customers))
    }
}
