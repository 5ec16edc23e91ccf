//! Shared set-up for the ingest tests: an embedded backend in a temp dir and
//! the real datasets the test command installs.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::PathBuf;
use std::sync::Arc;

use strata_domain::ReadOptions;
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::Ingestor;
use strata_store::{ImportRepository, ImportState, ImportedObject, Privacy};
use tempfile::TempDir;

pub struct Local {
    pub table: Arc<dyn Table>,
    pub privacy: Arc<Privacy>,
    pub blobs: Arc<dyn BlobStore>,
    pub importer: Importer,
    _dir: TempDir,
}

pub async fn local() -> Local {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = strata_embedded::EmbeddedBackend::open(dir.path()).expect("embedded backend");
    let table: Arc<dyn Table> = Arc::new(backend.table);
    let blobs: Arc<dyn BlobStore> = Arc::new(backend.blobs);
    let privacy = Privacy::open(Arc::new(backend.personal_keys), Arc::new(backend.key_table))
        .await
        .expect("key table");
    let importer = Importer::new(
        Ingestor::new(table.clone(), privacy.clone(), ReadOptions::default()),
        blobs.clone(),
        ImportRepository::new(table.clone()),
    );
    Local {
        table,
        privacy,
        blobs,
        importer,
        _dir: dir,
    }
}

impl Local {
    pub fn importer_customers(&self) -> strata_store::CustomerRepository {
        strata_store::CustomerRepository::new(self.table.clone(), self.privacy.clone())
    }
}

/// Uploads bytes as S3 would, and describes the object as its event would.
pub async fn upload(blobs: &dyn BlobStore, key: &str, bytes: Vec<u8>) -> ImportedObject {
    let receipt = blobs
        .put(key, blob::body_from(bytes), PutOptions::default())
        .await
        .expect("upload");
    ImportedObject {
        bucket: "local".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    }
}

/// Runs an import that has no deadline, so must finish in one run, and
/// returns its record.
pub async fn import_to_end(importer: &Importer, object: ImportedObject) -> ImportState {
    match importer.run(object, "test", None).await.expect("import") {
        RunOutcome::Completed(state) => state,
        other => panic!("the import must complete in one run without a deadline: {other:?}"),
    }
}

/// A dataset file the test command installs, named by an environment variable.
pub fn dataset(var: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: the ingest tests read real datasets that `cargo xtask test` installs and names")
    });
    PathBuf::from(path)
}
