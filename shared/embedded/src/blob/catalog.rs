//! The catalog: object metadata in a redb table keyed by object key, so a
//! prefix listing is one ordered range read.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{Builder, Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use strata_domain::ports::{
    BlobError, ObjectMeta, ObjectSummary, RestoreState, Retention, StorageClass,
};

use crate::error::{EmbeddedError, blob_storage_error, join_failure};
use crate::options::CATALOG_CACHE_BYTES;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");

/// What the catalog knows of one object. Stored as JSON: the records are
/// small, and named fields let later builds add some without a migration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size: u64,
    pub etag: String,
    /// Stored under its S3 name, which unlike the Rust variant name never changes.
    #[serde(with = "s3_storage_class")]
    pub storage_class: StorageClass,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub last_modified: DateTime<Utc>,
    /// The name of the content file holding the object's bytes.
    pub file: String,
    /// Absent in records written before object locks existed.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Until when a restored copy of an archived object can be read.
    #[serde(default)]
    pub restored_until: Option<DateTime<Utc>>,
}

impl ObjectRecord {
    pub fn meta(&self, key: &str) -> ObjectMeta {
        ObjectMeta {
            key: key.to_owned(),
            size: self.size,
            etag: self.etag.clone(),
            storage_class: self.storage_class,
            content_type: self.content_type.clone(),
            metadata: self.metadata.clone(),
            last_modified: self.last_modified,
            retention: self.retention,
        }
    }

    fn summary(&self, key: String) -> ObjectSummary {
        ObjectSummary {
            key,
            size: self.size,
            storage_class: self.storage_class,
            last_modified: self.last_modified,
        }
    }
}

mod s3_storage_class {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use strata_domain::ports::StorageClass;

    pub fn serialize<S: Serializer>(class: &StorageClass, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(class.s3_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<StorageClass, D::Error> {
        let name = String::deserialize(input)?;
        StorageClass::from_s3_name(&name)
            .ok_or_else(|| D::Error::custom(format!("unknown storage class `{name}`")))
    }
}

/// One page of a listing, before it becomes the port's `ListPage`.
pub struct Listing {
    pub objects: Vec<ObjectSummary>,
    pub truncated: bool,
}

#[derive(Clone)]
pub struct Catalog {
    db: Arc<Database>,
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        let db = Builder::new()
            .set_cache_size(CATALOG_CACHE_BYTES)
            .create(path)
            .map_err(|error| EmbeddedError::database(path, error))?;
        create_table(&db).map_err(|error| EmbeddedError::database(path, error))?;
        Ok(Catalog { db: Arc::new(db) })
    }

    /// Every content file some object points at, read once at open to find
    /// files a crash left behind; `None` if a record is unreadable, since
    /// then nobody can tell which files are orphans.
    pub fn referenced_files(&self) -> Result<Option<HashSet<String>>, redb::Error> {
        let txn = self.db.begin_read()?;
        let objects = txn.open_table(OBJECTS)?;
        let mut files = HashSet::new();
        for entry in objects.iter()? {
            let (key, stored) = entry?;
            match decode(stored.value()) {
                Ok(record) => {
                    files.insert(record.file);
                }
                Err(error) => {
                    tracing::warn!(key = key.value(), %error, "unreadable object record");
                    return Ok(None);
                }
            }
        }
        Ok(Some(files))
    }

    pub async fn get(&self, key: &str) -> Result<Option<ObjectRecord>, BlobError> {
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(blob_storage_error)?;
            let objects = txn.open_table(OBJECTS).map_err(blob_storage_error)?;
            let stored = objects.get(key.as_str()).map_err(blob_storage_error)?;
            stored.map(|stored| decode(stored.value())).transpose()
        })
        .await
    }

    /// Stores a record and returns the one it replaced, if readable. A key
    /// whose object is locked is not replaced: this store keeps no older
    /// versions, so replacing it would lose the locked bytes.
    pub async fn insert(
        &self,
        key: &str,
        record: ObjectRecord,
    ) -> Result<Option<ObjectRecord>, BlobError> {
        let key = key.to_owned();
        self.write(move |objects| {
            refuse_if_locked(objects, &key, "replaced")?;
            let previous = objects
                .insert(key.as_str(), encode(&record)?.as_slice())
                .map_err(blob_storage_error)?;
            Ok(previous.and_then(|stored| replaced(&key, stored.value())))
        })
        .await
    }

    /// Removes a record and returns it, if readable; refuses while the
    /// object is locked.
    pub async fn remove(&self, key: &str) -> Result<Option<ObjectRecord>, BlobError> {
        let key = key.to_owned();
        self.write(move |objects| {
            refuse_if_locked(objects, &key, "deleted")?;
            let previous = objects.remove(key.as_str()).map_err(blob_storage_error)?;
            Ok(previous.and_then(|stored| replaced(&key, stored.value())))
        })
        .await
    }

    /// Makes an archived object readable for `days`, at once: there is no
    /// slow medium behind this store (moto behaves the same). Asking while a
    /// restored copy exists extends it, as S3 does, and reports `Ready`.
    pub async fn restore(&self, key: &str, days: u32) -> Result<RestoreState, BlobError> {
        let key = key.to_owned();
        self.write(move |objects| {
            let stored = objects.get(key.as_str()).map_err(blob_storage_error)?;
            let current = stored.map(|stored| decode(stored.value())).transpose()?;
            let Some(mut record) = current else {
                return Err(BlobError::NotFound(key));
            };
            if record.storage_class.is_instantly_readable() {
                return Ok(RestoreState::Ready);
            }
            let now = Utc::now();
            let state = match record.restored_until {
                Some(until) if until > now => RestoreState::Ready,
                _ => RestoreState::Started,
            };
            record.restored_until = Some(now + chrono::Duration::days(i64::from(days)));
            objects
                .insert(key.as_str(), encode(&record)?.as_slice())
                .map_err(blob_storage_error)?;
            Ok(state)
        })
        .await
    }

    /// Moves an object to another storage class without touching its bytes.
    /// Read, check and write happen in one transaction, so a concurrent put
    /// is never overwritten with stale metadata.
    pub async fn change_class(&self, key: &str, class: StorageClass) -> Result<(), BlobError> {
        let key = key.to_owned();
        self.write(move |objects| {
            let stored = objects.get(key.as_str()).map_err(blob_storage_error)?;
            let current = stored.map(|stored| decode(stored.value())).transpose()?;
            let Some(mut record) = current else {
                return Err(BlobError::NotFound(key));
            };
            readable(&key, &record)?;
            if record.storage_class == class {
                // S3 refuses a copy onto itself that changes nothing.
                return Err(BlobError::Refused(format!(
                    "copying `{key}` onto itself must change its storage class"
                )));
            }
            record.storage_class = class;
            record.last_modified = Utc::now();
            record.restored_until = None;
            objects
                .insert(key.as_str(), encode(&record)?.as_slice())
                .map_err(blob_storage_error)?;
            Ok(())
        })
        .await
    }

    /// Up to `max_keys` objects under `prefix`, strictly after `after`.
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<String>,
        max_keys: usize,
    ) -> Result<Listing, BlobError> {
        let prefix = prefix.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(blob_storage_error)?;
            let objects = txn.open_table(OBJECTS).map_err(blob_storage_error)?;
            let start = match &after {
                Some(after) if after.as_str() >= prefix.as_str() => Excluded(after.as_str()),
                _ => Included(prefix.as_str()),
            };
            let mut listed = Vec::with_capacity(max_keys);
            for entry in objects
                .range::<&str>((start, Unbounded))
                .map_err(blob_storage_error)?
            {
                let (key, stored) = entry.map_err(blob_storage_error)?;
                let key = key.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                if listed.len() == max_keys {
                    return Ok(Listing {
                        objects: listed,
                        truncated: true,
                    });
                }
                listed.push(decode(stored.value())?.summary(key.to_owned()));
            }
            Ok(Listing {
                objects: listed,
                truncated: false,
            })
        })
        .await
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut redb::Table<&str, &[u8]>) -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(blob_storage_error)?;
            let outcome = work(&mut txn.open_table(OBJECTS).map_err(blob_storage_error)?)?;
            txn.commit().map_err(blob_storage_error)?;
            Ok(outcome)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|error| BlobError::Unavailable(join_failure(error)))?
    }
}

/// Checked inside the write transaction, so a lock cannot be missed by a
/// concurrent writer.
fn refuse_if_locked(
    objects: &redb::Table<&str, &[u8]>,
    key: &str,
    action: &str,
) -> Result<(), BlobError> {
    let stored = objects.get(key).map_err(blob_storage_error)?;
    let Some(record) = stored.and_then(|stored| decode(stored.value()).ok()) else {
        return Ok(());
    };
    match record.retention {
        Some(lock) if lock.is_active(Utc::now()) => Err(BlobError::Refused(format!(
            "`{key}` is locked ({}) until {} and cannot be {action}",
            lock.mode.s3_name(),
            lock.retain_until.to_rfc3339()
        ))),
        _ => Ok(()),
    }
}

/// Refuses to read an object that S3 would first have to restore.
pub fn readable(key: &str, record: &ObjectRecord) -> Result<(), BlobError> {
    let restored = record
        .restored_until
        .is_some_and(|until| until > Utc::now());
    if record.storage_class.is_instantly_readable() || restored {
        Ok(())
    } else {
        Err(BlobError::Archived {
            key: key.to_owned(),
            storage_class: record.storage_class,
        })
    }
}

fn create_table(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(OBJECTS)?;
    txn.commit()?;
    Ok(())
}

fn encode(record: &ObjectRecord) -> Result<Vec<u8>, BlobError> {
    serde_json::to_vec(record)
        .map_err(|error| BlobError::Unavailable(format!("encoding object metadata: {error}")))
}

/// A record being overwritten or removed: one that cannot be read must not
/// block that, as it is how a damaged entry gets repaired. Its content file
/// is then left for the next open to sweep.
fn replaced(key: &str, bytes: &[u8]) -> Option<ObjectRecord> {
    decode(bytes)
        .inspect_err(|error| tracing::warn!(key, %error, "replacing an unreadable object record"))
        .ok()
}

fn decode(bytes: &[u8]) -> Result<ObjectRecord, BlobError> {
    serde_json::from_slice(bytes)
        .map_err(|error| BlobError::Unavailable(format!("corrupt object metadata: {error}")))
}
