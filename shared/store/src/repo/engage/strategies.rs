//! Strategies, one per segment, each kept under its own revision
//! (`STRATEGY` / `<segment id>`), so admins edit one segment's strategy
//! without racing another's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::engage::{SegmentId, Strategy};
use strata_domain::ports::table::{Key, Query, Table};

use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::put_revision;

/// A segment's strategy with who changed it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredStrategy {
    pub segment: SegmentId,
    pub strategy: Strategy,
    /// Bumped by every change; a change names the revision it replaces.
    pub revision: u64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct StrategyRepository {
    table: Arc<dyn Table>,
}

impl StrategyRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        StrategyRepository { table }
    }

    pub async fn get(&self, segment: &SegmentId) -> Result<Option<StoredStrategy>, StoreError> {
        self.table
            .get(&keys::strategy(segment.as_str()))
            .await?
            .map(|item| codec::decode(RecordKind::Strategy, &item))
            .transpose()
    }

    /// Every segment's strategy, by segment id.
    pub async fn all(&self) -> Result<Vec<StoredStrategy>, StoreError> {
        let query = Query::partition(keys::STRATEGIES.to_owned());
        batch::query_all(self.table.as_ref(), query)
            .await?
            .iter()
            .map(|item| codec::decode(RecordKind::Strategy, item))
            .collect()
    }

    /// Stores a segment's strategy if the stored one is still at
    /// `expected_revision` (0: none yet).
    pub async fn put(
        &self,
        segment: SegmentId,
        strategy: Strategy,
        expected_revision: u64,
        now: DateTime<Utc>,
    ) -> Result<StoredStrategy, StoreError> {
        let stored = StoredStrategy {
            segment,
            strategy,
            revision: expected_revision + 1,
            updated_at: now,
        };
        let key: Key = keys::strategy(stored.segment.as_str());
        let item = codec::encode(RecordKind::Strategy, &key, &stored, &[])?;
        put_revision(self.table.as_ref(), item, expected_revision, "the strategy").await?;
        Ok(stored)
    }
}
