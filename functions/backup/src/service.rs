//! The backup service: what a scheduled run does, and restores on demand.
//! Works on any adapters; the Lambda and the local host pick them.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::backup::{
    BackupSchedule, NextSnapshot, SnapshotId, SnapshotKind, SnapshotState, next_snapshot,
};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_snapshot::{
    ArchiveCopy, CatalogEntry, PruneReport, RestoreOptions, RestoreReport, RestoreTarget,
    SnapshotError, SnapshotSource, Vault, apply_retention, archive_lock, archive_snapshot,
    mark_verified, restore_snapshot, take_snapshot, verify_snapshot,
};
use strata_store::{ErasedCustomers, ErasureLedger, StoreError};

use crate::settings::BackupSettings;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event `{0}` is not one this function handles")]
    UnknownEvent(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("there is no verified snapshot to restore")]
    NothingToRestore,
    #[error("preparing the restore target failed: {0}")]
    Target(String),
    /// The snapshot is safe, but a later step failed.
    #[error("snapshot {snapshot} was taken and verified, but: {}", failures.join("; "))]
    Partial {
        snapshot: SnapshotId,
        failures: Vec<String>,
    },
}

/// Makes the tables and stores a restore writes into.
#[async_trait]
pub trait RestoreTargets: Send + Sync {
    /// A new, empty table called `name` (or the existing one of that name).
    async fn table(&self, name: &str) -> Result<Arc<dyn Table>, BackupError>;
    /// The object store called `name`, for backed-up objects.
    async fn store(&self, name: &str) -> Result<Arc<dyn BlobStore>, BackupError>;
}

/// The locked offline copy.
#[derive(Clone)]
pub struct Archive {
    pub vault: Vault,
}

pub struct BackupService {
    pub source: SnapshotSource,
    /// The snapshot store (versioned bucket); the erasure ledger lives in it too.
    pub snapshots: Vault,
    pub archive: Archive,
    pub targets: Arc<dyn RestoreTargets>,
    pub settings: BackupSettings,
}

/// What a scheduled run did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupRun {
    pub snapshot: SnapshotId,
    pub kind: SnapshotKind,
    pub parent: Option<SnapshotId>,
    pub items: u64,
    pub items_stored: u64,
    pub bytes_stored: u64,
    pub seconds: f64,
    pub archived: Vec<ArchiveCopy>,
    pub erasures_archived: usize,
    pub pruned: Option<PruneReport>,
    pub archive_pruned: Option<PruneReport>,
}

/// Where a restore reads from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreSource {
    #[default]
    Snapshots,
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// A snapshot id, or `latest` for the newest verified one.
    pub snapshot: String,
    /// The table to create and restore into.
    pub target_table: String,
    /// An existing object store (bucket) for backed-up objects, if wanted.
    #[serde(default)]
    pub target_store: Option<String>,
    #[serde(default)]
    pub from: RestoreSource,
    #[serde(default)]
    pub allow_non_empty: bool,
}

impl BackupService {
    /// One scheduled run: a snapshot (full or incremental as the schedule
    /// says, unless `kind` forces one), read back and marked verified; then
    /// archive copies of every verified snapshot the archive lacks, the
    /// erasure ledger mirrored, and retention applied to both stores.
    /// Steps after verification are all attempted even if one fails.
    pub async fn run(
        &self,
        scheduled_for: DateTime<Utc>,
        kind: Option<SnapshotKind>,
        metrics: &mut Metrics,
    ) -> Result<BackupRun, BackupError> {
        let started = Instant::now();
        let catalog = self.snapshots.catalog().await?;
        let infos: Vec<_> = catalog.iter().map(CatalogEntry::info).collect();
        let next = match kind {
            Some(SnapshotKind::Full) => NextSnapshot::Full,
            Some(SnapshotKind::Incremental) => {
                // Today is not the full day and no chain is too long: the
                // result is full only if nothing verified can be built on.
                let any_day = BackupSchedule {
                    full_on: scheduled_for.weekday().succ(),
                    max_chain: u32::MAX,
                };
                let next = next_snapshot(&any_day, scheduled_for, &infos);
                if next == NextSnapshot::Full {
                    tracing::warn!(
                        "nothing verified to build an incremental snapshot on; taking a full one"
                    );
                }
                next
            }
            None => next_snapshot(&self.settings.schedule, scheduled_for, &infos),
        };
        let expected_items = newest_verified(&catalog).map_or(0, |m| m.table.items);
        let manifest = take_snapshot(
            &self.source,
            &self.snapshots,
            &next,
            expected_items,
            &self.settings.snapshot,
            Utc::now(),
        )
        .await?;
        let marker = verify_snapshot(&self.snapshots, &manifest.id).await?;
        mark_verified(&self.snapshots, &marker).await?;
        let seconds = started.elapsed().as_secs_f64();
        metrics.add("SnapshotItems", manifest.table.items as f64, Unit::Count);
        metrics.add(
            "SnapshotItemsStored",
            manifest.items_stored() as f64,
            Unit::Count,
        );
        metrics.add("SnapshotBytes", manifest.stored_bytes() as f64, Unit::Bytes);
        metrics.add("SnapshotMilliseconds", seconds * 1000.0, Unit::Milliseconds);

        let mut run = BackupRun {
            snapshot: manifest.id.clone(),
            kind: manifest.kind,
            parent: manifest.parent.clone(),
            items: manifest.table.items,
            items_stored: manifest.items_stored(),
            bytes_stored: manifest.stored_bytes(),
            seconds,
            archived: Vec::new(),
            erasures_archived: 0,
            pruned: None,
            archive_pruned: None,
        };
        let mut failures = Vec::new();
        let now = Utc::now();
        match self.archive_missing().await {
            Ok(copies) => run.archived = copies,
            Err(error) => failures.push(format!("archiving: {error}")),
        }
        let ledger_lock = archive_lock(now, self.settings.archive_lock_days);
        let ledger = ErasureLedger::new(self.snapshots.blobs.clone());
        let archive_ledger = ErasureLedger::new(self.archive.vault.blobs.clone());
        match ledger
            .copy_missing_to(&archive_ledger, Some(ledger_lock))
            .await
        {
            Ok(copied) => run.erasures_archived = copied,
            Err(error) => failures.push(format!("archiving the erasure ledger: {error}")),
        }
        match apply_retention(&self.snapshots, &self.settings.retention, now).await {
            Ok(report) => run.pruned = Some(report),
            Err(error) => failures.push(format!("retention in the snapshot store: {error}")),
        }
        match apply_retention(&self.archive.vault, &self.settings.archive_retention, now).await {
            Ok(report) => run.archive_pruned = Some(report),
            Err(error) => failures.push(format!("retention in the archive: {error}")),
        }
        metrics.add("ArchivedSnapshots", run.archived.len() as f64, Unit::Count);
        let deleted = [&run.pruned, &run.archive_pruned]
            .iter()
            .filter_map(|r| r.as_ref())
            .map(|r| r.deleted.len())
            .sum::<usize>();
        metrics.add("DeletedSnapshots", deleted as f64, Unit::Count);
        metrics.add("BackupStepFailures", failures.len() as f64, Unit::Count);
        tracing::info!(run = %serde_json::to_string(&run).unwrap_or_default(), "backup run");
        if failures.is_empty() {
            Ok(run)
        } else {
            Err(BackupError::Partial {
                snapshot: run.snapshot,
                failures,
            })
        }
    }

    /// Copies into the archive, oldest first (parents before children),
    /// every verified snapshot it does not hold yet.
    async fn archive_missing(&self) -> Result<Vec<ArchiveCopy>, BackupError> {
        let archived: Vec<SnapshotId> = self
            .archive
            .vault
            .catalog()
            .await?
            .into_iter()
            // A copy whose manifest went to Deep Archive is still a copy.
            .filter(CatalogEntry::has_manifest)
            .map(|e| e.id)
            .collect();
        let mut copies = Vec::new();
        for entry in self.snapshots.catalog().await? {
            let Some(manifest) = &entry.manifest else {
                continue;
            };
            if entry.info().state != SnapshotState::Verified || archived.contains(&entry.id) {
                continue;
            }
            let lock = archive_lock(manifest.taken_at, self.settings.archive_lock_days);
            copies.push(
                archive_snapshot(&self.snapshots, &self.archive.vault, &entry.id, lock).await?,
            );
        }
        Ok(copies)
    }

    /// Restores a snapshot into a new table, withholding every customer the
    /// erasure ledger names.
    pub async fn restore(&self, request: &RestoreRequest) -> Result<RestoreReport, BackupError> {
        let (vault, ledgers) = match request.from {
            RestoreSource::Snapshots => (&self.snapshots, vec![self.snapshots.blobs.clone()]),
            // The archive holds a mirror of the ledger; the snapshot store's
            // adds erasures made since the last run, if it is reachable.
            RestoreSource::Archive => (
                &self.archive.vault,
                vec![
                    self.archive.vault.blobs.clone(),
                    self.snapshots.blobs.clone(),
                ],
            ),
        };
        let target = RestoreTarget {
            table: self.targets.table(&request.target_table).await?,
            blobs: match &request.target_store {
                Some(name) => Some(self.targets.store(name).await?),
                None => None,
            },
        };
        let options = RestoreOptions {
            allow_non_empty: request.allow_non_empty,
            ..self.settings.restore
        };
        restore_from(vault, &ledgers, &request.snapshot, &target, &options).await
    }
}

/// Restores `snapshot` (an id, or `latest` for the newest verified one)
/// from `vault` into `target`, withholding every customer named in the
/// erasure ledgers kept in `ledgers`: the first must be readable, the
/// others are added when they are.
pub async fn restore_from(
    vault: &Vault,
    ledgers: &[Arc<dyn BlobStore>],
    snapshot: &str,
    target: &RestoreTarget,
    options: &RestoreOptions,
) -> Result<RestoreReport, BackupError> {
    let id = if snapshot == "latest" {
        // By the catalog's labels: if the newest copy's manifest is still
        // archived, the restore says so rather than pick an older one.
        vault
            .catalog()
            .await?
            .iter()
            .map(CatalogEntry::info)
            .filter(|info| info.state == SnapshotState::Verified)
            .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
            .map(|info| info.id)
            .ok_or(BackupError::NothingToRestore)?
    } else {
        SnapshotId::parse(snapshot).map_err(|e| BackupError::InvalidRequest(e.to_string()))?
    };
    let mut erased = Vec::new();
    for (n, blobs) in ledgers.iter().enumerate() {
        match ErasureLedger::new(blobs.clone()).erased().await {
            Ok(set) => erased.push(set),
            Err(error) if n > 0 => {
                tracing::warn!(%error, "an erasure ledger is unreachable; restoring with the others");
            }
            Err(error) => return Err(error.into()),
        }
    }
    let erased: ErasedCustomers = erased.iter().flat_map(ErasedCustomers::ids).collect();
    Ok(restore_snapshot(vault, &id, target, &erased, options).await?)
}

fn newest_verified(catalog: &[CatalogEntry]) -> Option<&strata_snapshot::Manifest> {
    catalog
        .iter()
        .filter(|e| e.info().state == SnapshotState::Verified)
        .filter_map(|e| e.manifest.as_ref())
        .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
}
