//! What access control stores: which salesperson a customer is assigned to,
//! and the append-only audit log of who touched which customer's data.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::audit::AuditEntry;
use strata_domain::ids::{CustomerId, SalespersonId};
use strata_domain::ports::table::{
    Condition, Cursor, Index, Query, SortCondition, Table, TableError,
};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub customer_id: CustomerId,
    pub salesperson: SalespersonId,
    pub assigned_at: DateTime<Utc>,
    /// The subject of the token that assigned.
    pub assigned_by: String,
}

/// A page of one salesperson's customers, most recently assigned first.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignedPage {
    pub assignments: Vec<Assignment>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct AssignmentRepository {
    table: Arc<dyn Table>,
}

impl AssignmentRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        AssignmentRepository { table }
    }

    /// Replaces the customer's assignment (the last one wins), which also
    /// moves the customer from the old salesperson's list to the new one's.
    pub async fn assign(&self, assignment: &Assignment) -> Result<(), StoreError> {
        let index = [
            (
                "gsi1pk",
                keys::salesperson_customers(&assignment.salesperson),
            ),
            (
                "gsi1sk",
                keys::salesperson_customers_sort(assignment.assigned_at, assignment.customer_id),
            ),
        ];
        let item = codec::encode(
            RecordKind::Assignment,
            &keys::assignment(assignment.customer_id),
            assignment,
            &index,
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    pub async fn of(&self, customer: CustomerId) -> Result<Option<Assignment>, StoreError> {
        self.table
            .get(&keys::assignment(customer))
            .await?
            .map(|item| codec::decode(RecordKind::Assignment, &item))
            .transpose()
    }

    /// The customers assigned to `salesperson`, most recently assigned
    /// first: one index query per page.
    pub async fn assigned_to(
        &self,
        salesperson: &SalespersonId,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<AssignedPage, StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::salesperson_customers(salesperson))
            .backward()
            .start(start)
            .limit(limit.max(1));
        let page = self.table.query(query).await?;
        let assignments = page
            .items
            .iter()
            .map(|item| codec::decode(RecordKind::Assignment, item))
            .collect::<Result<_, _>>()?;
        Ok(AssignedPage {
            assignments,
            next: page.next,
        })
    }
}

/// An entry as stored: the TTL attribute beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEntry {
    #[serde(flatten)]
    entry: AuditEntry,
    /// Epoch seconds; the table's TTL removes the entry after it.
    expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct AuditLog {
    table: Arc<dyn Table>,
    retention: Duration,
}

impl AuditLog {
    /// Entries are kept for `retention`, then the table's TTL removes them.
    pub fn new(table: Arc<dyn Table>, retention: Duration) -> Self {
        AuditLog { table, retention }
    }

    /// Appends an entry; an entry already stored under the same customer,
    /// time and request is never replaced (`AlreadyExists`).
    pub async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let key = keys::audit_entry(entry.customer_id, entry.at, &entry.request_id);
        let stored = StoredEntry {
            entry: entry.clone(),
            expires_at: (entry.at + self.retention).timestamp(),
        };
        let item = codec::encode(RecordKind::Audit, &key, &stored, &[])?;
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed) => Err(StoreError::AlreadyExists {
                what: format!("audit entry {}/{}", key.pk, key.sk),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// A customer's entries from `from` to `to` (inclusive), oldest first.
    pub async fn of(
        &self,
        customer: CustomerId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        let query = Query::partition(keys::audit_partition(customer))
            .sort(SortCondition::Between(
                keys::audit_from(from),
                keys::audit_to(to),
            ))
            .start(start)
            .limit(limit.max(1));
        let page = self.table.query(query).await?;
        let entries = page
            .items
            .iter()
            .map(|item| codec::decode::<StoredEntry>(RecordKind::Audit, item).map(|s| s.entry))
            .collect::<Result<_, _>>()?;
        Ok(AuditPage {
            entries,
            next: page.next,
        })
    }
}
