//! Embedded adapters for Strata's storage ports: everything lives in files
//! under one data directory, with no server to run, and survives restarts.
//!
//! - [`EmbeddedTable`] implements the table port on a redb database.
//! - [`EmbeddedBlobStore`] implements the blob port with one file per object
//!   and a redb catalog of their metadata.
//! - [`LocalKeyService`] implements the key port on a master key file.
//! - [`EmbeddedBackend`] opens the table and blob store in the layout a
//!   service expects.
//! - [`EmbeddedOptions`] caps the table's page cache
//!   (`STRATA_EMBEDDED_CACHE_MB`, default 64 MiB).

mod blob;
mod error;
mod keys;
mod options;
mod table;

use std::path::Path;

pub use blob::EmbeddedBlobStore;
pub use error::EmbeddedError;
pub use keys::LocalKeyService;
pub use options::{CACHE_MB_VAR, DEFAULT_TABLE_CACHE_BYTES, EmbeddedOptions};
pub use table::EmbeddedTable;

/// The adapters a service needs, opened under one data directory.
#[derive(Clone)]
pub struct EmbeddedBackend {
    pub table: EmbeddedTable,
    pub blobs: EmbeddedBlobStore,
    /// Customers' wrapped data keys: a table of its own, so that backups of
    /// `table` never carry them and erasure can destroy them.
    pub key_table: EmbeddedTable,
    /// The master key that wraps customers' data keys.
    pub personal_keys: LocalKeyService,
}

impl EmbeddedBackend {
    /// Opens (creating when missing) `data_dir/table.redb` and
    /// `data_dir/blobs/`, with the options `STRATA_EMBEDDED_CACHE_MB` sets.
    pub fn open(data_dir: &Path) -> Result<Self, EmbeddedError> {
        Self::open_with(data_dir, &EmbeddedOptions::from_env()?)
    }

    pub fn open_with(data_dir: &Path, options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        Ok(EmbeddedBackend {
            table: EmbeddedTable::open_with(&data_dir.join("table.redb"), options)?,
            blobs: EmbeddedBlobStore::open(&data_dir.join("blobs"))?,
            key_table: EmbeddedTable::open_with(
                &data_dir.join("keys").join("customer-keys.redb"),
                options,
            )?,
            personal_keys: LocalKeyService::open_in(data_dir, "personal")?,
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
        assert!(data_dir.join("keys/customer-keys.redb").is_file());
        assert!(data_dir.join("keys/personal.key").is_file());
    }
}
