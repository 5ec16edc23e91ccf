//! Restore targets on the embedded backend: a new data directory per
//! target, laid out as `strata` expects (`table.redb`, `blobs/`).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_embedded::{EmbeddedBlobStore, EmbeddedTable};

use crate::service::{BackupError, RestoreTargets};

pub struct EmbeddedTargets {
    /// Targets are directories under this one, named as requested.
    pub root: PathBuf,
}

impl EmbeddedTargets {
    fn dir(&self, name: &str) -> Result<PathBuf, BackupError> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && name != "."
            && name != "..";
        if plain {
            Ok(self.root.join(name))
        } else {
            Err(BackupError::InvalidRequest(format!(
                "`{name}` is not a plain name (letters, digits, - _ .)"
            )))
        }
    }
}

#[async_trait]
impl RestoreTargets for EmbeddedTargets {
    async fn table(&self, name: &str) -> Result<Arc<dyn Table>, BackupError> {
        let path = self.dir(name)?.join("table.redb");
        let table = EmbeddedTable::open(&path).map_err(|e| BackupError::Target(e.to_string()))?;
        Ok(Arc::new(table))
    }

    async fn store(&self, name: &str) -> Result<Arc<dyn BlobStore>, BackupError> {
        let path = self.dir(name)?.join("blobs");
        let store =
            EmbeddedBlobStore::open(&path).map_err(|e| BackupError::Target(e.to_string()))?;
        Ok(Arc::new(store))
    }
}
