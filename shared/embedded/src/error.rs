use std::path::{Path, PathBuf};

use strata_domain::ports::{BlobError, TableError};

/// Why an embedded store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Database {
        path: PathBuf,
        source: Box<redb::Error>,
    },
    #[error("the key file {path} {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("{path} holds data in format {found}; this build reads format {expected}")]
    UnsupportedFormat {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("{name}={value:?} is not valid: expected {reason}")]
    Setting {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl EmbeddedError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EmbeddedError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn database(path: &Path, source: impl Into<redb::Error>) -> Self {
        EmbeddedError::Database {
            path: path.to_owned(),
            source: Box::new(source.into()),
        }
    }
}

/// Maps a redb failure inside a table operation: corruption cannot be
/// retried away, anything else (I/O, a poisoned transaction) might.
pub(crate) fn table_storage_error(error: impl Into<redb::Error>) -> TableError {
    match error.into() {
        redb::Error::Corrupted(detail) => TableError::Corrupt(detail),
        other => TableError::Unavailable(format!("redb: {other}")),
    }
}

pub(crate) fn blob_storage_error(error: impl Into<redb::Error>) -> BlobError {
    BlobError::Unavailable(format!("object catalog: {}", error.into()))
}

/// A blocking task that died (panicked or was cancelled at shutdown).
pub(crate) fn join_failure(error: tokio::task::JoinError) -> String {
    format!("the storage task did not finish: {error}")
}
