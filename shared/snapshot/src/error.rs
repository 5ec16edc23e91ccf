use strata_domain::backup::SnapshotId;
use strata_domain::ports::blob::BlobError;
use strata_domain::ports::keys::KeyError;
use strata_domain::ports::table::TableError;
use strata_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("snapshot {0} does not exist (it has no manifest)")]
    NotFound(SnapshotId),
    /// The snapshot is damaged or was tampered with; it must not be used.
    #[error("snapshot {snapshot} is damaged: {object}: {reason}")]
    Corrupt {
        snapshot: SnapshotId,
        object: String,
        reason: String,
    },
    /// The snapshot is intact but cannot be restored (its chain is broken).
    #[error("snapshot {snapshot} cannot be restored: {reason}")]
    Unrestorable {
        snapshot: SnapshotId,
        reason: String,
    },
    #[error(
        "the restore target already holds items; restore into a new, empty table, or allow a non-empty target explicitly"
    )]
    TargetNotEmpty,
    #[error("after restoring snapshot {snapshot} the target does not match it: {reason}")]
    TargetMismatch {
        snapshot: SnapshotId,
        reason: String,
    },
    #[error("{0}")]
    Encode(String),
}

impl SnapshotError {
    /// Whether running the same operation again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SnapshotError::Blob(e) => e.is_retryable(),
            SnapshotError::Table(e) => e.is_retryable(),
            SnapshotError::Key(e) => e.is_retryable(),
            SnapshotError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn corrupt(
        snapshot: &SnapshotId,
        object: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        SnapshotError::Corrupt {
            snapshot: snapshot.clone(),
            object: object.into(),
            reason: reason.into(),
        }
    }
}
