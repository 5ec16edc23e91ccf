//! Customer value records: the admin's value policy (config item, changed
//! under its revision like the conversion criteria), each customer's tier
//! history (beside the profile, so erasure takes it with the partition;
//! indexed by month for the movements report) and the tier counts read from
//! the profiles' tier index.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::customer::{Customer, Tier};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Index, Item, Query, SortCondition, Table, TransactOp};
use strata_domain::value::{AssessmentCause, Calibration, TierChange, ValuePolicy};

use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::put_config;

const VALUE_CONFIG: &str = "value-tiers";
const COUNTS_SNAPSHOT: &str = "tier-counts";
const CALIBRATION: &str = "value-calibration";

/// The admin's value policy with who changed it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValuePolicy {
    pub policy: ValuePolicy,
    /// Bumped by every change; a change names the revision it replaces.
    /// 0: the built-in default, never stored.
    pub revision: u64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The bounds the last refresh derived from the policy's relative shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalibration {
    #[serde(flatten)]
    pub calibration: Calibration,
    /// The policy revision whose coefficients were counted.
    pub policy_revision: u64,
    /// The instant the coefficients were assessed as of.
    pub as_of: DateTime<Utc>,
}

/// The stored policy, the last calibration, and the policy they make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInForce {
    pub stored: StoredValuePolicy,
    pub calibration: Option<StoredCalibration>,
    /// What assessments use: the calibrated bounds when the policy is
    /// relative and a refresh has calibrated it (from any revision: a
    /// changed policy keeps the last bounds until the next refresh, which
    /// is closer than the absolute fallback), else the policy's own.
    pub policy: ValuePolicy,
}

fn tier_change_item(record: &TierChangeRecord) -> Result<Item, StoreError> {
    let at = record.change.at;
    codec::encode(
        RecordKind::TierChange,
        &keys::tier_change(
            record.customer_id,
            at,
            &uuid::Uuid::now_v7().simple().to_string(),
        ),
        record,
        &[
            ("gsi1pk", keys::tier_movement_month(&month_of(at))),
            ("gsi1sk", keys::tier_movement_sort(record.customer_id, at)),
        ],
    )
}

/// One recorded tier change of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChangeRecord {
    pub customer_id: CustomerId,
    #[serde(flatten)]
    pub change: TierChange,
}

/// Customers per tier and how many are premium, read now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts {
    pub tiers: BTreeMap<Tier, u64>,
    pub premium: u64,
    pub customers: u64,
}

/// The counts the daily refresh took while it read every profile, and when
/// its run began: `counts` adds the tier changes writes made since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsSnapshot {
    pub counts: TierCounts,
    pub taken_at: DateTime<Utc>,
}

impl TierCounts {
    /// Adds one customer's standing.
    pub fn add(&mut self, tier: Tier, premium: bool) {
        *self.tiers.entry(tier).or_default() += 1;
        self.customers += 1;
        if premium {
            self.premium += 1;
        }
    }

    /// Applies one change: out of the tier it left, into the one it reached.
    fn apply(&mut self, change: &TierChange) {
        if let Some(from) = change.from {
            let n = self.tiers.entry(from).or_default();
            *n = n.saturating_sub(1);
            self.customers = self.customers.saturating_sub(1);
        }
        if let Some(to) = change.to {
            *self.tiers.entry(to).or_default() += 1;
            self.customers += 1;
        }
        match (change.premium_before, change.premium_after) {
            (true, false) => self.premium = self.premium.saturating_sub(1),
            (false, true) => self.premium += 1,
            _ => {}
        }
    }
}

/// Ups and downs into and out of each tier in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MonthlyMovements {
    /// `yyyy-mm`.
    pub month: String,
    /// Customers who moved into the tier from a lower one (or from none).
    pub up: BTreeMap<Tier, u64>,
    /// Customers who moved into the tier from a higher one.
    pub down: BTreeMap<Tier, u64>,
    /// Customers who left every tier (all purchases returned).
    pub left: u64,
    pub became_premium: u64,
    pub lost_premium: u64,
}

#[derive(Clone)]
pub struct ValueRepository {
    table: Arc<dyn Table>,
}

impl ValueRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ValueRepository { table }
    }

    /// The policy in force: the stored one, else the built-in default
    /// (revision 0).
    pub async fn policy(&self) -> Result<StoredValuePolicy, StoreError> {
        let item = self.table.get(&keys::config(VALUE_CONFIG)).await?;
        match item {
            Some(item) => codec::decode(RecordKind::Config, &item),
            None => Ok(StoredValuePolicy {
                policy: ValuePolicy::default(),
                revision: 0,
                updated_at: None,
            }),
        }
    }

    /// Stores a policy if the stored one is still at `expected_revision`
    /// (0: the default is in force); returns what was stored.
    pub async fn put_policy(
        &self,
        policy: ValuePolicy,
        expected_revision: u64,
        now: DateTime<Utc>,
    ) -> Result<StoredValuePolicy, StoreError> {
        let stored = StoredValuePolicy {
            policy,
            revision: expected_revision + 1,
            updated_at: Some(now),
        };
        put_config(
            self.table.as_ref(),
            VALUE_CONFIG,
            &stored,
            expected_revision,
            "the value policy",
        )
        .await?;
        Ok(stored)
    }

    /// The policy with the last calibration applied; both read at once.
    pub async fn in_force(&self) -> Result<PolicyInForce, StoreError> {
        let (stored, calibration) = futures::try_join!(self.policy(), self.calibration())?;
        let policy = stored
            .policy
            .in_force(calibration.as_ref().map(|c| &c.calibration));
        Ok(PolicyInForce {
            stored,
            calibration,
            policy,
        })
    }

    /// The bounds the last refresh calibrated, if any.
    pub async fn calibration(&self) -> Result<Option<StoredCalibration>, StoreError> {
        self.table
            .get(&keys::config(CALIBRATION))
            .await?
            .map(|item| codec::decode(RecordKind::Config, &item))
            .transpose()
    }

    /// Stores a refresh's calibration: the write paths assess with it from
    /// now on.
    pub async fn save_calibration(
        &self,
        calibration: &StoredCalibration,
    ) -> Result<(), StoreError> {
        let item = codec::encode(
            RecordKind::Config,
            &keys::config(CALIBRATION),
            calibration,
            &[],
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// The write recording a tier change, to go in the transaction saving
    /// the profile that makes it (`CustomerRepository::save_many_with`):
    /// a saved move is always in the history, and only a saved one.
    pub fn record_op(record: &TierChangeRecord) -> Result<TransactOp, StoreError> {
        Ok(TransactOp::Put {
            item: tier_change_item(record)?,
            condition: None,
        })
    }

    /// A customer's tier history, newest first.
    pub async fn history(&self, customer: CustomerId) -> Result<Vec<TierChange>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::TIER_CHANGE_PREFIX.into()))
            .backward();
        let mut changes = Vec::new();
        for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
            let record: TierChangeRecord = codec::decode(RecordKind::TierChange, item)?;
            changes.push(record.change);
        }
        Ok(changes)
    }

    /// Ups and downs per tier for each month from `from` to `to`
    /// (`yyyy-mm`, both included), oldest first.
    pub async fn movements(
        &self,
        from: (i32, u32),
        to: (i32, u32),
    ) -> Result<Vec<MonthlyMovements>, StoreError> {
        let mut months = Vec::new();
        let (mut year, mut month) = from;
        while (year, month) <= to {
            let name = format!("{year:04}-{month:02}");
            let mut movements = MonthlyMovements {
                month: name.clone(),
                ..MonthlyMovements::default()
            };
            let query = Query::on_index(Index::Gsi1, keys::tier_movement_month(&name));
            for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
                let record: TierChangeRecord = codec::decode(RecordKind::TierChange, item)?;
                movements.count(&record.change);
            }
            months.push(movements);
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        Ok(months)
    }

    /// Stores the counts a refresh took.
    pub async fn save_counts(&self, snapshot: &CountsSnapshot) -> Result<(), StoreError> {
        let item = codec::encode(
            RecordKind::Config,
            &keys::config(COUNTS_SNAPSHOT),
            snapshot,
            &[],
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// Customers per tier and premium now: the last refresh's counts plus
    /// the tier changes writes recorded since it began (one read and a
    /// query per month since, however many customers there are); counted
    /// from the tier index (every profile) before any refresh ran.
    ///
    /// Exact but for customers erased since the refresh (counted until the
    /// next) and customers whose purchases moved them while the refresh read
    /// them (possibly counted twice until the next).
    pub async fn counts(&self) -> Result<TierCounts, StoreError> {
        let Some(item) = self.table.get(&keys::config(COUNTS_SNAPSHOT)).await? else {
            return self.count_index().await;
        };
        let snapshot: CountsSnapshot = codec::decode(RecordKind::Config, &item)?;
        let mut counts = snapshot.counts;
        let now = Utc::now();
        let months = self
            .changes_between(
                (snapshot.taken_at.year(), snapshot.taken_at.month()),
                (now.year(), now.month()),
            )
            .await?;
        for TierChangeRecord { change, .. } in months {
            if change.at > snapshot.taken_at && change.cause == AssessmentCause::Purchases {
                counts.apply(&change);
            }
        }
        for tier in Tier::ALL {
            counts.tiers.entry(tier).or_default();
        }
        Ok(counts)
    }

    /// When the last refresh's counts were taken (its run began), if any.
    pub async fn counted_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(item) = self.table.get(&keys::config(COUNTS_SNAPSHOT)).await? else {
            return Ok(None);
        };
        let snapshot: CountsSnapshot = codec::decode(RecordKind::Config, &item)?;
        Ok(Some(snapshot.taken_at))
    }

    /// Every tier change recorded after `since` (a query per month).
    pub async fn recorded_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<TierChangeRecord>, StoreError> {
        let now = Utc::now();
        let mut records = self
            .changes_between((since.year(), since.month()), (now.year(), now.month()))
            .await?;
        records.retain(|record| record.change.at > since);
        Ok(records)
    }

    /// Every tier change recorded in the months from `from` to `to`.
    async fn changes_between(
        &self,
        from: (i32, u32),
        to: (i32, u32),
    ) -> Result<Vec<TierChangeRecord>, StoreError> {
        let mut changes = Vec::new();
        let (mut year, mut month) = from;
        while (year, month) <= to {
            let query = Query::on_index(
                Index::Gsi1,
                keys::tier_movement_month(&format!("{year:04}-{month:02}")),
            );
            for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
                changes.push(codec::decode(RecordKind::TierChange, item)?);
            }
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        Ok(changes)
    }

    /// Customers per tier and premium, counted from the tier index now:
    /// every profile with a tier is read.
    pub async fn count_index(&self) -> Result<TierCounts, StoreError> {
        let mut counts = TierCounts::default();
        for tier in Tier::ALL {
            let query = Query::on_index(Index::Gsi1, keys::tier_partition(tier));
            let mut start = None;
            let mut in_tier = 0;
            loop {
                let page = self.table.query(query.clone().start(start)).await?;
                for item in &page.items {
                    // The index holds profiles in the clear but for their
                    // sealed personal fields, which counting does not need.
                    let profile: Customer = codec::decode(RecordKind::Customer, item)?;
                    in_tier += 1;
                    if profile.value.is_some_and(|v| v.premium) {
                        counts.premium += 1;
                    }
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
            counts.customers += in_tier;
            counts.tiers.insert(tier, in_tier);
        }
        Ok(counts)
    }
}

impl MonthlyMovements {
    fn count(&mut self, change: &TierChange) {
        match (change.direction(), change.to) {
            (std::cmp::Ordering::Greater, Some(to)) => *self.up.entry(to).or_default() += 1,
            (std::cmp::Ordering::Less, Some(to)) => *self.down.entry(to).or_default() += 1,
            (std::cmp::Ordering::Less, None) => self.left += 1,
            _ => {}
        }
        match (change.premium_before, change.premium_after) {
            (false, true) => self.became_premium += 1,
            (true, false) => self.lost_premium += 1,
            _ => {}
        }
    }
}

fn month_of(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}
