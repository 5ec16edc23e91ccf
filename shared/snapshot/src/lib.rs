//! Snapshots of Strata's data, for backups that can be trusted:
//!
//! - [`take_snapshot`]: a full or incremental snapshot of the table (and of
//!   chosen objects) through the ports, streamed, compressed with zstd and
//!   sealed with AES-256-GCM in chunks under a data key per snapshot, with
//!   an authenticated manifest of counts and checksums per segment.
//! - [`verify_snapshot`]: reads a snapshot back and checks it all.
//! - [`restore_snapshot`]: verifies, then restores into an empty table,
//!   withholding erased customers, then checks the target.
//! - [`archive_snapshot`]: the locked offline copy under another key.
//! - [`apply_retention`]: deletes what the retention policy lets go.
//!
//! ARCHITECTURE.md describes the format and the invariants.

mod archive;
mod backup;
mod compress;
mod error;
mod manifest;
mod prune;
mod records;
mod restore;
mod seal;
mod stream;
mod vault;
mod verify;

pub use archive::{ArchiveCopy, archive_lock, archive_snapshot};
pub use backup::{SnapshotSettings, SnapshotSource, take_snapshot};
pub use error::SnapshotError;
pub use manifest::{
    BlobEntry, Manifest, SNAPSHOTS_PREFIX, SegmentEntry, StreamEntry, VerifiedMarker, object_key,
    snapshot_prefix,
};
pub use prune::{PruneReport, apply_retention};
pub use restore::{RestoreOptions, RestoreReport, RestoreTarget, restore_snapshot};
pub use stream::StreamSettings;
pub use vault::{CatalogEntry, ManifestLabels, OpenSnapshot, Vault};
pub use verify::{mark_verified, verify_snapshot};
