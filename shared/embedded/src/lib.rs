//! Embedded adapters for Strata's storage ports: everything lives in files
//! under one data directory, with no server to run, and survives restarts.
//!
//! - [`EmbeddedTable`] implements the table port on a redb database.
//! - [`EmbeddedBlobStore`] implements the blob port with one file per object
//!   and a redb catalog of their metadata.
//! - [`LocalKeyService`] implements the key port on a master key file.
//! - [`EmbeddedBackend`] opens the table and blob store in the layout a
//!   service expects.

mod blob;
mod error;
mod keys;
mod table;

use std::path::Path;

pub use blob::EmbeddedBlobStore;
pub use error::EmbeddedError;
pub use keys::LocalKeyService;
pub use table::EmbeddedTable;

/// Both adapters, opened under one data directory.
#[derive(Clone)]
pub struct EmbeddedBackend {
    pub table: EmbeddedTable,
    pub blobs: EmbeddedBlobStore,
}

impl EmbeddedBackend {
    /// Opens (creating when missing) `data_dir/table.redb` and `data_dir/blobs/`.
    pub fn open(data_dir: &Path) -> Result<Self, EmbeddedError> {
        Ok(EmbeddedBackend {
            table: EmbeddedTable::open(&data_dir.join("table.redb"))?,
            blobs: EmbeddedBlobStore::open(&data_dir.join("blobs"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lays_out_its_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        EmbeddedBackend::open(&data_dir).unwrap();
        assert!(data_dir.join("table.redb").is_file());
        assert!(data_dir.join("blobs").is_dir());
    }
}
