//! The tiering job's storage steps: whole customer partitions from a scan
//! segment, the facts the policy needs, and moving a pack of cold records
//! into an object and out of the table so that no record is ever in neither.
//!
//! Moving one object:
//! 1. a journal item names the object and its expected count and SHA-256;
//! 2. the object is written;
//! 3. it is read back and checked against the journal;
//! 4. per chunk of at most 99 records of one customer, one transaction puts
//!    the pointer and deletes the records, each delete conditional on the
//!    record being unchanged since it was read (a record written meanwhile
//!    keeps its whole chunk hot);
//! 5. an object no chunk ended up in is deleted; the journal item goes.
//!
//! A crash anywhere leaves each record hot, or cold with its pointer, and a
//! journal item that the next run's `finish` completes from the object
//! itself (steps 3–5 are the same code), so nothing is written twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::churn::RiskBand;
use strata_domain::ports::blob::{self, BlobError, PutOptions};
use strata_domain::ports::table::{
    Condition, Cursor, Item, Key, Query, Table, TableError, TransactOp, Value,
};
use strata_domain::tiering::{CustomerFacts, TierableKind};

use crate::batch::{self, BatchPolicy};
use crate::codec::{self, READ_AT, RecordKind, WRITTEN_AT};
use crate::cold::{ColdLine, ColdPointer, ColdTier, ObjectContent, SealedPack};
use crate::error::StoreError;
use crate::keys;
use crate::repo::partitions::{Partition, PartitionScan};
use crate::repo::retention::{RetentionKeys, RetentionRepository};

/// An object the job has started to move records into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub object: String,
    pub object_id: String,
    pub records: u64,
    /// SHA-256 of the uncompressed content.
    pub sha256: String,
}

/// What finishing one object did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub objects: u64,
    pub object_bytes: u64,
    pub records: u64,
    pub chunks: u64,
    /// Chunks left hot because a record changed after it was read.
    pub chunks_changed: u64,
    /// Objects deleted because nothing ended up in them.
    pub objects_dropped: u64,
}

impl Moved {
    pub fn add(&mut self, other: Moved) {
        self.objects += other.objects;
        self.object_bytes += other.object_bytes;
        self.records += other.records;
        self.chunks += other.chunks;
        self.chunks_changed += other.chunks_changed;
        self.objects_dropped += other.objects_dropped;
    }
}

/// A record the policy may move, with what it is judged by.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub kind: TierableKind,
    /// When it happened (placed, sent, written as a review).
    pub at: DateTime<Utc>,
    /// The latest of `at`, its last write and its customer's last read.
    pub last_touched: DateTime<Utc>,
    pub line: ColdLine,
}

impl Partition {
    /// What the policy judges the customer by. Only the profile and the
    /// activity count as touches: scores and pointers are rewritten by jobs.
    pub fn facts(&self) -> CustomerFacts {
        let mut facts = CustomerFacts::default();
        let mut touch = |at: Option<DateTime<Utc>>| {
            facts.last_touched = facts.last_touched.max(at);
        };
        for item in &self.items {
            match RecordKind::of(item) {
                Some(RecordKind::Customer) => {
                    touch(time_attr(item, "updated_at"));
                    touch(time_attr(item, WRITTEN_AT));
                    touch(time_attr(item, READ_AT));
                }
                Some(kind) if tierable(kind).is_some() => {
                    touch(event_time(item));
                    touch(time_attr(item, WRITTEN_AT));
                }
                _ => {}
            }
        }
        for item in &self.items {
            match RecordKind::of(item) {
                Some(RecordKind::ChurnScore) => {
                    facts.band = item
                        .get("band")
                        .and_then(Value::as_str)
                        .and_then(RiskBand::from_name);
                }
                Some(RecordKind::Interaction)
                    if item.get("kind").and_then(Value::as_str) == Some("complaint") =>
                {
                    facts.last_complaint_at = facts.last_complaint_at.max(event_time(item));
                }
                _ => {}
            }
        }
        facts
    }

    /// The records that could move, in sort-key order. Records a cold line
    /// cannot carry exactly, or without a readable time, are left out.
    pub fn candidates(&self) -> Result<Vec<Candidate>, StoreError> {
        let read_at = self
            .items
            .iter()
            .find(|i| RecordKind::of(i) == Some(RecordKind::Customer))
            .and_then(|profile| time_attr(profile, READ_AT));
        let mut candidates = Vec::new();
        for item in &self.items {
            let Some(kind) = RecordKind::of(item).and_then(tierable) else {
                continue;
            };
            let Some(at) = event_time(item) else {
                continue;
            };
            let last_touched = at
                .max(time_attr(item, WRITTEN_AT).unwrap_or(at))
                .max(read_at.unwrap_or(at));
            if let Some(line) = ColdLine::of(item.clone())? {
                candidates.push(Candidate {
                    kind,
                    at,
                    last_touched,
                    line,
                });
            }
        }
        Ok(candidates)
    }
}

fn tierable(kind: RecordKind) -> Option<TierableKind> {
    match kind {
        RecordKind::Order => Some(TierableKind::Order),
        RecordKind::Interaction => Some(TierableKind::Interaction),
        RecordKind::Review => Some(TierableKind::Review),
        _ => None,
    }
}

fn event_time(item: &Item) -> Option<DateTime<Utc>> {
    time_attr(item, "placed_at").or_else(|| time_attr(item, "at"))
}

fn time_attr(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)?.as_str()?.parse().ok()
}

/// The condition that a record is still as it was read.
fn unchanged(item: &Item) -> Condition {
    match item.get(WRITTEN_AT) {
        Some(stamp) => Condition::Equals(WRITTEN_AT.into(), stamp.clone()),
        None => Condition::All(vec![
            Condition::Exists,
            Condition::AttributeAbsent(WRITTEN_AT.into()),
        ]),
    }
}

#[derive(Clone)]
pub struct TieringRepository {
    table: Arc<dyn Table>,
    cold: ColdTier,
    retention_keys: Option<RetentionKeys>,
}

impl TieringRepository {
    pub fn new(table: Arc<dyn Table>, cold: ColdTier) -> Self {
        TieringRepository {
            table,
            cold,
            retention_keys: None,
        }
    }

    /// Lets the run destroy the retention keys of texts past their limit
    /// (the key table's; without it, copies outside the table keep them).
    pub fn with_retention_keys(mut self, key_table: Arc<dyn Table>) -> Self {
        self.retention_keys = Some(RetentionKeys::new(key_table));
        self
    }

    pub fn retention_keys(&self) -> Option<&RetentionKeys> {
        self.retention_keys.as_ref()
    }

    /// The markers of customers inactive past the retention limit.
    pub fn inactive(&self) -> crate::repo::inactive::InactiveCustomers {
        crate::repo::inactive::InactiveCustomers::new(self.table.clone())
    }

    /// The retention policy's steps on the same table.
    pub fn retention(&self) -> RetentionRepository {
        RetentionRepository::new(self.table.clone())
    }

    pub fn scan(&self, segment: u32, total_segments: u32, page_size: u32) -> PartitionScan {
        PartitionScan::new(self.table.clone(), segment, total_segments, page_size)
    }

    /// Objects a run started and did not finish, oldest first.
    pub async fn unfinished(&self) -> Result<Vec<String>, StoreError> {
        let query = Query::partition(keys::TIERING_JOURNAL_PARTITION);
        let mut objects = Vec::new();
        let mut start: Option<Cursor> = None;
        loop {
            let page = self.table.query(query.clone().start(start)).await?;
            for item in &page.items {
                let entry: JournalEntry = codec::decode(RecordKind::TieringJournal, item)?;
                objects.push(entry.object);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(objects),
            }
        }
    }

    /// Moves a pack's records into its object (steps 1–5 above).
    pub async fn ship(&self, pack: &SealedPack) -> Result<Moved, StoreError> {
        let entry = JournalEntry {
            object: pack.key.clone(),
            object_id: pack.object_id.clone(),
            records: pack.records,
            sha256: pack.sha256.clone(),
        };
        let journal = codec::encode(
            RecordKind::TieringJournal,
            &keys::tiering_journal(&pack.key),
            &entry,
            &[],
        )?;
        self.table.put(journal, None).await?;
        let options = PutOptions {
            content_type: Some("application/x-ndjson".into()),
            metadata: [
                ("records".to_owned(), pack.records.to_string()),
                ("sha256".to_owned(), pack.sha256.clone()),
            ]
            .into(),
            ..PutOptions::default()
        };
        self.cold
            .blobs()
            .put(&pack.key, blob::body_from(pack.body.clone()), options)
            .await?;
        self.finish(&pack.key).await
    }

    /// Checks an object against its journal entry and moves whatever of it
    /// is not moved yet (steps 3–5). Does nothing for an object without one.
    pub async fn finish(&self, object: &str) -> Result<Moved, StoreError> {
        let journal_key = keys::tiering_journal(object);
        let Some(item) = self.table.get(&journal_key).await? else {
            return Ok(Moved::default());
        };
        let entry: JournalEntry = codec::decode(RecordKind::TieringJournal, &item)?;
        let bytes = match self.cold.blobs().get(object).await {
            Ok(stored) => blob::collect(stored.body).await?,
            // The run stopped before the object was written: all is hot.
            Err(BlobError::NotFound(_)) => {
                self.table.delete(&journal_key, None).await?;
                return Ok(Moved::default());
            }
            Err(other) => return Err(other.into()),
        };
        let content = ObjectContent::parse(&bytes)?;
        if content.records != entry.records || content.sha256 != entry.sha256 {
            return Err(StoreError::Corrupt {
                key: Some(journal_key),
                reason: format!(
                    "`{object}` holds {} records ({}), the journal expects {} ({})",
                    content.records, content.sha256, entry.records, entry.sha256
                ),
            });
        }
        let mut pointers = Vec::new();
        for share in &content.shares {
            pointers.extend(share.pointers(object, &entry.object_id)?);
        }
        let existing = batch::get_many(
            self.table.as_ref(),
            pointers.iter().map(ColdPointer::key).collect(),
            BatchPolicy::default(),
        )
        .await?;
        let mut moved = Moved {
            objects: 1,
            object_bytes: bytes.len() as u64,
            ..Moved::default()
        };
        for pointer in &pointers {
            if existing.contains_key(&pointer.key()) || self.commit(&content, pointer).await? {
                moved.chunks += 1;
                moved.records += pointer.sort_keys.len() as u64;
            } else {
                moved.chunks_changed += 1;
            }
        }
        if moved.chunks == 0 {
            self.cold.blobs().delete(object).await?;
            moved = Moved {
                objects_dropped: 1,
                chunks_changed: moved.chunks_changed,
                ..Moved::default()
            };
        }
        self.table.delete(&journal_key, None).await?;
        Ok(moved)
    }

    /// One chunk's pointer in, its records out, together. `false` when a
    /// record changed since it was read (the chunk stays hot).
    async fn commit(
        &self,
        content: &ObjectContent,
        pointer: &ColdPointer,
    ) -> Result<bool, StoreError> {
        let records = content.records_of(pointer)?;
        let mut ops = vec![TransactOp::Put {
            item: pointer.item()?,
            condition: Some(Condition::NotExists),
        }];
        for record in &records {
            let key = Key::of(record).ok_or_else(|| StoreError::Corrupt {
                key: None,
                reason: "a cold record without its key".into(),
            })?;
            ops.push(TransactOp::Delete {
                key,
                condition: Some(unchanged(record)),
            });
        }
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(true),
            Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {
                tracing::info!(
                    customer = %pointer.customer_id,
                    object = %pointer.object,
                    "records changed while being tiered; they stay hot"
                );
                Ok(false)
            }
            Err(other) => Err(other.into()),
        }
    }
}
