//! The service on the embedded backend, for `strata backup` and `strata
//! restore`: the data directory's table and objects are backed up into
//! `<data>/backup/snapshots`, archived into a second directory (point it at
//! removable or remote storage to keep it offline), each under its own
//! master key file.

use std::path::Path;
use std::sync::Arc;

use strata_embedded::{EmbeddedBackend, EmbeddedBlobStore, EmbeddedError, LocalKeyService};
use strata_snapshot::{SnapshotSource, Vault};

use crate::service::{Archive, BackupService};
use crate::settings::BackupSettings;
use crate::targets::EmbeddedTargets;

/// Where backups of `data_dir` go unless told otherwise.
pub fn default_backup_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("backup")
}

/// Objects under these prefixes of the data store go into every snapshot.
pub const OBJECT_PREFIXES: [&str; 1] = ["cold/manifests/"];

/// Opens the data directory and both vaults; restores go into directories
/// under `restore_root`.
pub fn service(
    data_dir: &Path,
    backup_dir: &Path,
    archive_dir: &Path,
    restore_root: &Path,
    settings: BackupSettings,
) -> Result<BackupService, EmbeddedError> {
    let data = EmbeddedBackend::open(data_dir)?;
    let (snapshots, archive) = vaults(backup_dir, archive_dir)?;
    Ok(BackupService {
        source: SnapshotSource {
            table: Arc::new(data.table),
            blobs: Some(Arc::new(data.blobs)),
            blob_prefixes: OBJECT_PREFIXES.iter().map(|p| (*p).to_owned()).collect(),
            description: format!("embedded:{}", data_dir.display()),
        },
        snapshots,
        archive: Archive { vault: archive },
        targets: Arc::new(EmbeddedTargets {
            root: restore_root.to_owned(),
        }),
        settings,
    })
}

/// The snapshot vault (`<backup_dir>/snapshots`) and the archive vault, each
/// with its master key file under `<backup_dir>/keys/`.
pub fn vaults(backup_dir: &Path, archive_dir: &Path) -> Result<(Vault, Vault), EmbeddedError> {
    let vault = |dir: &Path, key: &str| -> Result<Vault, EmbeddedError> {
        Ok(Vault::new(
            Arc::new(EmbeddedBlobStore::open(dir)?),
            Arc::new(LocalKeyService::open_in(backup_dir, key)?),
        ))
    };
    Ok((
        vault(&backup_dir.join("snapshots"), "snapshots")?,
        vault(archive_dir, "archive")?,
    ))
}
