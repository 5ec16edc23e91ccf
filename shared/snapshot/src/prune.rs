//! Applying a retention policy to a vault: the domain's plan says which
//! snapshots go; a snapshot whose objects are still locked stays until its
//! lock ends (the store refuses, and the refusal is reported).

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::backup::{RetentionPolicy, SnapshotId, SnapshotInfo, plan_retention};
use strata_domain::ports::blob::BlobError;

use crate::error::SnapshotError;
use crate::vault::Vault;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PruneReport {
    pub kept: usize,
    pub deleted: Vec<SnapshotId>,
    pub freed_bytes: u64,
    /// Expired under the policy but still locked: (snapshot, the store's refusal).
    pub locked: Vec<(SnapshotId, String)>,
}

pub async fn apply_retention(
    vault: &Vault,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<PruneReport, SnapshotError> {
    let catalog = vault.catalog().await?;
    let infos: Vec<SnapshotInfo> = catalog.iter().map(|entry| entry.info()).collect();
    let plan = plan_retention(policy, &infos, now);
    let mut report = PruneReport {
        kept: plan.keep.len(),
        ..PruneReport::default()
    };
    for id in &plan.delete {
        let Some(entry) = catalog.iter().find(|e| &e.id == id) else {
            continue;
        };
        match vault.delete_snapshot(entry).await {
            Ok(()) => {
                tracing::info!(snapshot = %id, "deleted an expired snapshot");
                report.freed_bytes += entry.stored_bytes();
                report.deleted.push(id.clone());
            }
            Err(SnapshotError::Blob(BlobError::Refused(why))) => {
                tracing::info!(snapshot = %id, %why, "expired snapshot is still locked");
                report.kept += 1;
                report.locked.push((id.clone(), why));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(report)
}
