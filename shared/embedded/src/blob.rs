//! The blob port on the local file system: object bytes in content files,
//! object metadata in a redb catalog.

mod catalog;
mod content;

use std::path::Path;

use async_trait::async_trait;
use chrono::Utc;
use strata_domain::ports::blob::validate_key;
use strata_domain::ports::{
    BlobError, BlobStore, ByteStream, ListPage, ObjectMeta, PutOptions, PutReceipt, RestoreState,
    RestoreTier, StorageClass, StoredObject,
};

use self::catalog::{Catalog, ObjectRecord, readable};
use self::content::Content;
use crate::error::EmbeddedError;

/// How often a read or copy retries when the object is replaced between
/// reading its metadata and opening its content file.
const REPLACED_RETRIES: usize = 3;

const MAX_LIST_KEYS: u32 = 1000;

/// An S3-like object store in a directory: `catalog.redb` holds metadata,
/// `objects/` the bytes. Cloning shares the open store; one process opens a
/// directory at a time (redb locks the catalog).
#[derive(Clone)]
pub struct EmbeddedBlobStore {
    catalog: Catalog,
    content: Content,
}

impl EmbeddedBlobStore {
    /// Opens the store in `dir`, creating it if missing, and removes files
    /// a crash may have left behind.
    pub fn open(dir: &Path) -> Result<Self, EmbeddedError> {
        std::fs::create_dir_all(dir).map_err(|error| EmbeddedError::io(dir, error))?;
        // The catalog first: its lock keeps a second process from sweeping
        // files this one is writing.
        let catalog_path = dir.join("catalog.redb");
        let catalog = Catalog::open(&catalog_path)?;
        let content = Content::open(dir)?;
        let referenced = catalog
            .referenced_files()
            .map_err(|error| EmbeddedError::database(&catalog_path, error))?;
        if let Some(referenced) = referenced {
            content.sweep(&referenced)?;
        }
        Ok(EmbeddedBlobStore { catalog, content })
    }

    /// Points `key` at a content file already written, then removes the file
    /// it replaces. If the catalog refuses, the new file is removed instead.
    async fn commit(&self, key: &str, record: ObjectRecord) -> Result<(), BlobError> {
        let file = record.file.clone();
        match self.catalog.insert(key, record).await {
            Ok(replaced) => {
                if let Some(replaced) = replaced {
                    self.content.remove(&replaced.file).await;
                }
                Ok(())
            }
            Err(error) => {
                self.content.remove(&file).await;
                Err(error)
            }
        }
    }
}

#[async_trait]
impl BlobStore for EmbeddedBlobStore {
    async fn put(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutReceipt, BlobError> {
        validate_key(key)?;
        let written = self.content.write(body).await?;
        let receipt = PutReceipt {
            etag: written.etag.clone(),
            size: written.size,
            parts: 1,
        };
        let record = ObjectRecord {
            size: written.size,
            etag: written.etag,
            storage_class: options.storage_class,
            content_type: options.content_type,
            metadata: options.metadata,
            last_modified: Utc::now(),
            file: written.file,
            retention: options.retention,
            restored_until: None,
        };
        self.commit(key, record).await?;
        Ok(receipt)
    }

    async fn get(&self, key: &str) -> Result<StoredObject, BlobError> {
        validate_key(key)?;
        for _ in 0..REPLACED_RETRIES {
            let record = self
                .catalog
                .get(key)
                .await?
                .ok_or_else(|| BlobError::NotFound(key.to_owned()))?;
            readable(key, &record)?;
            // Once open, the file stays readable even if it is replaced.
            if let Some(file) = self.content.open_file(&record.file).await? {
                return Ok(StoredObject {
                    meta: record.meta(key),
                    body: content::stream(file),
                });
            }
        }
        Err(missing_content(key))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, BlobError> {
        validate_key(key)?;
        Ok(self.catalog.get(key).await?.map(|record| record.meta(key)))
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Result<ListPage, BlobError> {
        if !(1..=MAX_LIST_KEYS).contains(&max_keys) {
            return Err(BlobError::Refused(format!(
                "a listing page holds 1 to {MAX_LIST_KEYS} keys, not {max_keys}"
            )));
        }
        let listing = self
            .catalog
            .list(prefix, continuation, max_keys as usize)
            .await?;
        // The token is the last key returned; the next page starts after it.
        let next = listing
            .truncated
            .then(|| listing.objects.last().map(|last| last.key.clone()))
            .flatten();
        Ok(ListPage {
            objects: listing.objects,
            next,
        })
    }

    async fn copy(
        &self,
        from: &str,
        to: &str,
        storage_class: StorageClass,
    ) -> Result<(), BlobError> {
        validate_key(from)?;
        validate_key(to)?;
        if from == to {
            return self.catalog.change_class(from, storage_class).await;
        }
        for _ in 0..REPLACED_RETRIES {
            let source = self
                .catalog
                .get(from)
                .await?
                .ok_or_else(|| BlobError::NotFound(from.to_owned()))?;
            readable(from, &source)?;
            if let Some(file) = self.content.link(&source.file).await? {
                // As in S3, a copy does not inherit the source's lock.
                let record = ObjectRecord {
                    storage_class,
                    last_modified: Utc::now(),
                    file,
                    retention: None,
                    restored_until: None,
                    ..source
                };
                return self.commit(to, record).await;
            }
        }
        Err(missing_content(from))
    }

    async fn restore(
        &self,
        key: &str,
        days: u32,
        _tier: RestoreTier,
    ) -> Result<RestoreState, BlobError> {
        validate_key(key)?;
        self.catalog.restore(key, days).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        if let Some(removed) = self.catalog.remove(key).await? {
            self.content.remove(&removed.file).await;
        }
        Ok(())
    }
}

/// The catalog names a content file that stays missing: not a replacement
/// race but damage (someone deleted files under the store).
fn missing_content(key: &str) -> BlobError {
    BlobError::Unavailable(format!("the content file of `{key}` is missing"))
}

#[cfg(test)]
mod tests;
