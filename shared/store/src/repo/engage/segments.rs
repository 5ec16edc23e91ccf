//! The segment list (kept under a revision like the other admin policies;
//! the built-in default until a shop saves its own), each customer's
//! segment changes and the sizes the nightly run counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strata_domain::engage::{SegmentCause, SegmentChange, SegmentId, SegmentList};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Index, Item, Query, SortCondition, Table, TransactOp};

use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::put_config;

const SEGMENTS_CONFIG: &str = "segments";

/// The segment list in force with who changed it when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSegments {
    pub list: SegmentList,
    /// 0: the built-in default, never stored.
    pub revision: u64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// As stored: the list in the JSON form an admin writes, parsed again (and
/// so checked) when read.
#[derive(Serialize, Deserialize)]
struct SegmentsItem {
    definition: Json,
    revision: u64,
    updated_at: Option<DateTime<Utc>>,
}

/// One customer's segment change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentChangeRecord {
    pub customer_id: CustomerId,
    #[serde(flatten)]
    pub change: SegmentChange,
}

/// Customers per segment, counted by a nightly run as of its start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSizes {
    pub sizes: BTreeMap<SegmentId, u64>,
    /// Customers in no segment (none matched, or profiling not allowed).
    pub unsegmented: u64,
    pub taken_at: Option<DateTime<Utc>>,
    /// The list revision the run evaluated.
    pub revision: u64,
}

impl SegmentSizes {
    fn apply(&mut self, change: &SegmentChange) {
        match &change.from {
            Some(from) => {
                let n = self.sizes.entry(from.clone()).or_default();
                *n = n.saturating_sub(1);
            }
            None => self.unsegmented = self.unsegmented.saturating_sub(1),
        }
        match &change.to {
            Some(to) => *self.sizes.entry(to.clone()).or_default() += 1,
            None => self.unsegmented += 1,
        }
    }
}

#[derive(Clone)]
pub struct SegmentRepository {
    table: Arc<dyn Table>,
}

impl SegmentRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        SegmentRepository { table }
    }

    /// The list in force: the stored one, else the built-in default.
    pub async fn definition(&self) -> Result<StoredSegments, StoreError> {
        let key = keys::config(SEGMENTS_CONFIG);
        let Some(item) = self.table.get(&key).await? else {
            return Ok(StoredSegments {
                list: SegmentList::default(),
                revision: 0,
                updated_at: None,
            });
        };
        let stored: SegmentsItem = codec::decode(RecordKind::Config, &item)?;
        let list =
            SegmentList::parse(&stored.definition).map_err(|invalid| StoreError::Corrupt {
                key: Some(key),
                reason: invalid.to_string(),
            })?;
        Ok(StoredSegments {
            list,
            revision: stored.revision,
            updated_at: stored.updated_at,
        })
    }

    /// Stores a list if the stored one is still at `expected_revision`.
    pub async fn put_definition(
        &self,
        list: SegmentList,
        expected_revision: u64,
        now: DateTime<Utc>,
    ) -> Result<StoredSegments, StoreError> {
        let stored = SegmentsItem {
            definition: list.to_json(),
            revision: expected_revision + 1,
            updated_at: Some(now),
        };
        put_config(
            self.table.as_ref(),
            SEGMENTS_CONFIG,
            &stored,
            expected_revision,
            "the segment list",
        )
        .await?;
        Ok(StoredSegments {
            list,
            revision: stored.revision,
            updated_at: stored.updated_at,
        })
    }

    /// The write recording a change, to go in the transaction saving the
    /// profile that makes it.
    pub fn record_op(record: &SegmentChangeRecord) -> Result<TransactOp, StoreError> {
        Ok(TransactOp::Put {
            item: change_item(record)?,
            condition: None,
        })
    }

    /// A customer's segment changes, newest first.
    pub async fn history(&self, customer: CustomerId) -> Result<Vec<SegmentChange>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(
                keys::SEGMENT_CHANGE_PREFIX.into(),
            ))
            .backward();
        batch::query_all(self.table.as_ref(), query)
            .await?
            .iter()
            .map(|item| {
                codec::decode::<SegmentChangeRecord>(RecordKind::SegmentChange, item)
                    .map(|r| r.change)
            })
            .collect()
    }

    /// Every change recorded on one day (`yyyy-mm-dd`).
    pub async fn changes_on(&self, day: NaiveDate) -> Result<Vec<SegmentChangeRecord>, StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::segment_movement_day(&day.to_string()));
        batch::query_all(self.table.as_ref(), query)
            .await?
            .iter()
            .map(|item| codec::decode(RecordKind::SegmentChange, item))
            .collect()
    }

    /// Stores the sizes a nightly run counted (one item per day).
    pub async fn save_sizes(&self, sizes: &SegmentSizes) -> Result<(), StoreError> {
        let day = sizes.taken_at.unwrap_or_else(Utc::now).date_naive();
        let item = codec::encode(
            RecordKind::SegmentSizes,
            &keys::segment_sizes(&day.to_string()),
            sizes,
            &[],
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// The sizes of the last nightly run (newest day first), if any.
    pub async fn last_sizes(&self) -> Result<Option<SegmentSizes>, StoreError> {
        let query = Query::partition(keys::SEGMENT_STATS.to_owned())
            .sort(SortCondition::BeginsWith("DAY#".into()))
            .backward()
            .limit(1);
        let page = self.table.query(query).await?;
        page.items
            .first()
            .map(|item| codec::decode(RecordKind::SegmentSizes, item))
            .transpose()
    }

    /// The nightly sizes of each day from `from` to `to`, oldest first.
    pub async fn sizes_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SegmentSizes>, StoreError> {
        let query = Query::partition(keys::SEGMENT_STATS.to_owned()).sort(SortCondition::Between(
            keys::segment_sizes(&from.to_string()).sk,
            keys::segment_sizes(&to.to_string()).sk,
        ));
        batch::query_all(self.table.as_ref(), query)
            .await?
            .iter()
            .map(|item| codec::decode(RecordKind::SegmentSizes, item))
            .collect()
    }

    /// Customers per segment now: the last nightly run's sizes plus the
    /// changes writes recorded since (a query per day since), or `None`
    /// before any run.
    pub async fn sizes_now(&self) -> Result<Option<SegmentSizes>, StoreError> {
        let Some(mut sizes) = self.last_sizes().await? else {
            return Ok(None);
        };
        let Some(taken_at) = sizes.taken_at else {
            return Ok(Some(sizes));
        };
        let today = Utc::now().date_naive();
        let mut day = taken_at.date_naive();
        while day <= today {
            for record in self.changes_on(day).await? {
                if record.change.at > taken_at && record.change.cause == SegmentCause::Write {
                    sizes.apply(&record.change);
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(Some(sizes))
    }
}

fn change_item(record: &SegmentChangeRecord) -> Result<Item, StoreError> {
    let at = record.change.at;
    codec::encode(
        RecordKind::SegmentChange,
        &keys::segment_change(
            record.customer_id,
            at,
            &uuid::Uuid::now_v7().simple().to_string(),
        ),
        record,
        &[
            (
                "gsi1pk",
                keys::segment_movement_day(&at.date_naive().to_string()),
            ),
            (
                "gsi1sk",
                keys::segment_movement_sort(record.customer_id, at),
            ),
        ],
    )
}
