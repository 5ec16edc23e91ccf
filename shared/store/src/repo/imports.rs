//! Import state: one item per imported object version, holding the
//! checkpoint (rows done and counts so far) and a lease, so an import runs
//! once even when S3 delivers its event twice, and resumes where it stopped.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ports::table::{Condition, Cursor, Index, Query, Table, TableError, Value};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Completed,
    /// Stopped for a reason retrying cannot fix (e.g. an unknown mapping).
    Failed,
}

/// Row accounting. `rows_read = accepted + merged + duplicates + rejected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub rows_read: u64,
    /// Rows that stored something new.
    pub accepted: u64,
    /// Rows whose data was folded into a customer already known.
    pub merged: u64,
    /// Rows that added nothing: already stored, or repeated in the file.
    pub duplicates: u64,
    pub rejected: u64,
    pub blank_lines: u64,
    pub customers_created: u64,
    pub customers_merged: u64,
    pub orders_created: u64,
    pub interactions_created: u64,
    pub reviews_created: u64,
    pub products_upserted: u64,
}

impl ImportCounts {
    /// Whether every row read is accounted for.
    pub fn reconciles(&self) -> bool {
        self.rows_read == self.accepted + self.merged + self.duplicates + self.rejected
    }
}

/// The object an import reads: one version of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedObject {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
    pub etag: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    pub id: String,
    pub object: ImportedObject,
    pub mapping: String,
    pub status: ImportStatus,
    pub counts: ImportCounts,
    /// Rows fully processed: a resumed run skips this many.
    pub rows_done: u64,
    pub invocations: u32,
    /// Rejection files written so far (at most one per chunk), under
    /// `reports/<id>/rejected/`. A count, not their keys: the state is saved
    /// after every chunk and a table item has a size limit, so what it holds
    /// must not grow with the file.
    pub rejection_files: u64,
    pub report_key: Option<String>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Who is running it, and until when that claim holds.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub version: u64,
}

/// What `begin` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// A new import, now claimed by the caller.
    Started(ImportState),
    /// Known already; see its status and lease.
    Existing(ImportState),
}

#[derive(Clone)]
pub struct ImportRepository {
    table: Arc<dyn Table>,
}

impl ImportRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ImportRepository { table }
    }

    pub async fn get(&self, id: &str) -> Result<Option<ImportState>, StoreError> {
        let item = self.table.get(&keys::import(id)).await?;
        item.map(|item| codec::decode(RecordKind::Import, &item))
            .transpose()
    }

    /// Records a new import unless one with this id exists.
    pub async fn begin(&self, state: ImportState) -> Result<Begun, StoreError> {
        match self
            .table
            .put(item(&state)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(Begun::Started(state)),
            Err(TableError::ConditionFailed) => {
                let existing = self
                    .get(&state.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict {
                        what: format!("import {}", state.id),
                    })?;
                Ok(Begun::Existing(existing))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Stores the state if nobody changed it since it was read (its
    /// `version`); returns it with the next version. A `Conflict` means
    /// another run took the import over: the caller must stop.
    pub async fn save(&self, state: &ImportState) -> Result<ImportState, StoreError> {
        let mut next = state.clone();
        next.version += 1;
        let condition = Condition::Equals("version".into(), Value::number(state.version));
        match self.table.put(item(&next)?, Some(condition)).await {
            Ok(()) => Ok(next),
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict {
                what: format!("import {}", state.id),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// The latest imports, newest first.
    pub async fn recent(
        &self,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<(Vec<ImportState>, Option<Cursor>), StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::IMPORTS_PARTITION)
            .backward()
            .limit(limit.max(1))
            .start(start);
        let page = self.table.query(query).await?;
        let states = page
            .items
            .iter()
            .map(|i| codec::decode(RecordKind::Import, i))
            .collect::<Result<_, _>>()?;
        Ok((states, page.next))
    }
}

fn item(state: &ImportState) -> Result<strata_domain::ports::table::Item, StoreError> {
    let index = [
        ("gsi1pk", keys::IMPORTS_PARTITION.to_owned()),
        (
            "gsi1sk",
            format!("{}#{}", keys::time(state.started_at), state.id),
        ),
    ];
    codec::encode(RecordKind::Import, &keys::import(&state.id), state, &index)
}
