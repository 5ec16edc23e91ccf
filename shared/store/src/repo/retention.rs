//! Applies the retention policy to one customer partition as the tiering
//! job reads it: expired texts of interactions and reviews are removed from
//! their records (the records stay, so summaries do not change), expired
//! merge-log entries are deleted. Each change is conditional on the record
//! being as it was read, so a record written meanwhile waits for the next run.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::ports::table::{
    Condition, Item, Key, PK, Query, SK, Table, TableError, Update, Value,
};
use strata_domain::retention::{RetainedData, RetentionPolicy};

use crate::codec::{self, RecordKind, WRITTEN_AT};
use crate::error::StoreError;
use crate::keys;
use crate::repo::partitions::Partition;

/// The attribute holding a record's text before sealing (older records).
const TEXT: &str = "text";

/// What applying the policy to partitions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Expired {
    pub interaction_texts: u64,
    pub review_texts: u64,
    pub merge_entries: u64,
    /// Records changed since they were read, left for the next run.
    pub skipped_changed: u64,
}

impl Expired {
    pub fn add(&mut self, other: Expired) {
        self.interaction_texts += other.interaction_texts;
        self.review_texts += other.review_texts;
        self.merge_entries += other.merge_entries;
        self.skipped_changed += other.skipped_changed;
    }
}

/// The retention keys texts are sealed under besides their customer's
/// (see `crate::personal`), as the scheduled job sees them: it never holds
/// a key, it only destroys those of months past their limit, which reaches
/// every copy of those texts (cold objects, snapshots, the locked archive).
#[derive(Clone)]
pub struct RetentionKeys {
    key_table: Arc<dyn Table>,
}

/// When a retention key was destroyed; the tombstone stays so that no
/// writer makes that month's key again.
const DESTROYED_AT: &str = "destroyed_at";

impl RetentionKeys {
    pub fn new(key_table: Arc<dyn Table>) -> Self {
        RetentionKeys { key_table }
    }

    /// Destroys the keys of the months wholly past their limit on `as_of`;
    /// returns how many.
    pub async fn expire(
        &self,
        policy: &RetentionPolicy,
        as_of: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut destroyed = 0;
        for data in [
            RetainedData::InteractionText,
            RetainedData::ReviewText,
            RetainedData::NetworkTrace,
        ] {
            let mut query = Query::partition(keys::retention_month_partition(data));
            loop {
                let page = self.key_table.query(query.clone()).await?;
                for item in &page.items {
                    let Some(key) = Key::of(item) else { continue };
                    let Some(month) = keys::retention_month_of(&key) else {
                        continue;
                    };
                    if item.contains_key(DESTROYED_AT) || !policy.month_expired(month, as_of) {
                        continue;
                    }
                    let tombstone = Item::from([
                        (PK.to_owned(), Value::S(key.pk.clone())),
                        (SK.to_owned(), Value::S(key.sk.clone())),
                        (DESTROYED_AT.to_owned(), Value::S(keys::time(as_of))),
                    ]);
                    self.key_table.put(tombstone, None).await?;
                    tracing::info!(month = %month.label(), "destroyed a retention key");
                    destroyed += 1;
                }
                match page.next {
                    Some(next) => query.start = Some(next),
                    None => break,
                }
            }
        }
        Ok(destroyed)
    }
}

#[derive(Clone)]
pub struct RetentionRepository {
    table: Arc<dyn Table>,
}

impl RetentionRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RetentionRepository { table }
    }

    /// Expires what the policy says is past its limit on `as_of`, in the
    /// table and in `partition` (so later steps see the partition as stored).
    pub async fn apply(
        &self,
        partition: &mut Partition,
        policy: &RetentionPolicy,
        as_of: DateTime<Utc>,
    ) -> Result<Expired, StoreError> {
        let mut expired = Expired::default();
        let mut deleted = Vec::new();
        for (index, item) in partition.items.iter_mut().enumerate() {
            let Some(key) = Key::of(item) else { continue };
            // Interactions, reviews and merge entries all keep their time in `at`.
            let at = item
                .get("at")
                .and_then(|v| v.as_str())
                .and_then(|t| t.parse::<DateTime<Utc>>().ok());
            let Some(at) = at else { continue };
            let has_text = item.contains_key(codec::SEALED) || item.contains_key(TEXT);
            let action = match RecordKind::of(item) {
                Some(RecordKind::Interaction) if has_text => Some(RetainedData::InteractionText),
                Some(RecordKind::Review) if has_text => Some(RetainedData::ReviewText),
                Some(RecordKind::Merge) => Some(RetainedData::MergeLog),
                _ => None,
            };
            let Some(data) = action.filter(|data| policy.expired(*data, at, as_of)) else {
                continue;
            };
            let unchanged = match item.get(WRITTEN_AT) {
                Some(stamp) => Condition::Equals(WRITTEN_AT.into(), stamp.clone()),
                None => Condition::Exists,
            };
            let outcome = match data {
                RetainedData::MergeLog => self.table.delete(&key, Some(unchanged)).await,
                _ => {
                    let update = Update::default().remove(codec::SEALED).remove(TEXT);
                    self.table
                        .update(&key, update, Some(unchanged))
                        .await
                        .map(drop)
                }
            };
            match outcome {
                Ok(()) => match data {
                    RetainedData::InteractionText => expired.interaction_texts += 1,
                    RetainedData::ReviewText => expired.review_texts += 1,
                    RetainedData::MergeLog => expired.merge_entries += 1,
                    // Sealed in the profile: expired by its month's key alone.
                    RetainedData::NetworkTrace => {}
                },
                Err(TableError::ConditionFailed) => {
                    expired.skipped_changed += 1;
                    continue;
                }
                Err(other) => return Err(other.into()),
            }
            if data == RetainedData::MergeLog {
                deleted.push(index);
            } else {
                item.remove(codec::SEALED);
                item.remove(TEXT);
            }
        }
        for index in deleted.into_iter().rev() {
            partition.items.remove(index);
        }
        Ok(expired)
    }
}
