//! The merge log: every time data about a person was folded into an existing
//! profile, which fields changed and where the values came from. Kept in the
//! customer's partition so a review reads it with the profile.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::customer::MergedField;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Query, SortCondition, Table, WriteRequest};

use crate::batch::{self, BatchPolicy};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeEntry {
    pub id: String,
    pub customer_id: CustomerId,
    pub at: DateTime<Utc>,
    /// What caused it: `api`, or `import:<import id> row <n>`.
    pub cause: String,
    pub fields: Vec<MergedField>,
    /// Identifiers in the input that belong to another customer and were left there.
    pub conflicts: Vec<String>,
}

#[derive(Clone)]
pub struct MergeLog {
    table: Arc<dyn Table>,
}

impl MergeLog {
    pub fn new(table: Arc<dyn Table>) -> Self {
        MergeLog { table }
    }

    pub async fn append(&self, entries: &[MergeEntry]) -> Result<(), StoreError> {
        let writes = entries
            .iter()
            .map(|e| {
                codec::encode(
                    RecordKind::Merge,
                    &keys::merge(e.customer_id, e.at, &e.id),
                    e,
                    &[],
                )
                .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !writes.is_empty() {
            batch::write_all(self.table.as_ref(), writes, BatchPolicy::default()).await?;
        }
        Ok(())
    }

    /// Every merge of a customer, newest first (as many pages as it takes).
    pub async fn all(&self, customer: CustomerId) -> Result<Vec<MergeEntry>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::MERGE_PREFIX.into()))
            .backward();
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(query.clone().start(start)).await?;
            for item in &page.items {
                entries.push(codec::decode(RecordKind::Merge, item)?);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(entries),
            }
        }
    }

    /// A customer's merges, newest first.
    pub async fn of(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> Result<Vec<MergeEntry>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::MERGE_PREFIX.into()))
            .backward()
            .limit(limit.max(1));
        let page = self.table.query(query).await?;
        page.items
            .iter()
            .map(|item| codec::decode(RecordKind::Merge, item))
            .collect()
    }
}
