//! The blob port: an object store with S3 semantics.

use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};

/// A body streamed in chunks, so no object has to fit in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>;

/// Wraps bytes already in memory as a body.
pub fn body_from(bytes: impl Into<Bytes>) -> ByteStream {
    Box::pin(futures::stream::once(futures::future::ready(Ok(
        bytes.into()
    ))))
}

/// Reads a whole body into memory; for small objects only.
pub async fn collect(body: ByteStream) -> Result<Vec<u8>, BlobError> {
    body.try_fold(Vec::new(), |mut all, chunk| async move {
        all.extend_from_slice(&chunk);
        Ok(all)
    })
    .await
}

/// S3 storage classes, cheapest to hold last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StorageClass {
    #[default]
    Standard,
    StandardIa,
    OneZoneIa,
    IntelligentTiering,
    GlacierInstantRetrieval,
    GlacierFlexibleRetrieval,
    DeepArchive,
}

impl StorageClass {
    pub const ALL: [StorageClass; 7] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::OneZoneIa,
        StorageClass::IntelligentTiering,
        StorageClass::GlacierInstantRetrieval,
        StorageClass::GlacierFlexibleRetrieval,
        StorageClass::DeepArchive,
    ];

    /// The name S3 uses in its API.
    pub fn s3_name(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OneZoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::GlacierInstantRetrieval => "GLACIER_IR",
            StorageClass::GlacierFlexibleRetrieval => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    pub fn from_s3_name(name: &str) -> Option<StorageClass> {
        StorageClass::ALL.into_iter().find(|c| c.s3_name() == name)
    }

    /// Whether a GET returns the bytes at once, without a restore first.
    pub fn is_instantly_readable(self) -> bool {
        !matches!(
            self,
            StorageClass::GlacierFlexibleRetrieval | StorageClass::DeepArchive
        )
    }
}

/// How fast an archived object is thawed (S3 RestoreObject's `Tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RestoreTier {
    /// Glacier Flexible Retrieval only: minutes, at the highest price.
    Expedited,
    #[default]
    Standard,
    /// Cheapest and slowest.
    Bulk,
}

impl RestoreTier {
    /// The name S3 uses in its API.
    pub fn s3_name(self) -> &'static str {
        match self {
            RestoreTier::Expedited => "Expedited",
            RestoreTier::Standard => "Standard",
            RestoreTier::Bulk => "Bulk",
        }
    }

    pub fn from_s3_name(name: &str) -> Option<RestoreTier> {
        [
            RestoreTier::Expedited,
            RestoreTier::Standard,
            RestoreTier::Bulk,
        ]
        .into_iter()
        .find(|t| t.s3_name().eq_ignore_ascii_case(name))
    }

    /// The longest a restore of an object in `class` takes, as AWS documents
    /// it (S3 User Guide, "Understanding archive retrieval options"):
    /// Glacier Flexible Retrieval 1–5 minutes expedited, 3–5 hours standard,
    /// 5–12 hours bulk; Deep Archive 12 hours standard, 48 hours bulk (it
    /// has no expedited tier, so S3 runs such a request as standard).
    pub fn expected_within(self, class: StorageClass) -> chrono::Duration {
        let hours = chrono::Duration::hours;
        match (class, self) {
            (StorageClass::GlacierFlexibleRetrieval, RestoreTier::Expedited) => {
                chrono::Duration::minutes(5)
            }
            (StorageClass::GlacierFlexibleRetrieval, RestoreTier::Standard) => hours(5),
            (StorageClass::GlacierFlexibleRetrieval, RestoreTier::Bulk) => hours(12),
            (StorageClass::DeepArchive, RestoreTier::Bulk) => hours(48),
            (StorageClass::DeepArchive, _) => hours(12),
            _ => chrono::Duration::zero(),
        }
    }
}

/// Where a restore of an archived object stands after asking for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreState {
    /// A restore was started by this request.
    Started,
    /// A restore asked for earlier is still running.
    InProgress,
    /// The bytes can be read now: a restored copy exists, or the object's
    /// class never needed a restore.
    Ready,
}

/// S3 Object Lock modes. Governance can be lifted by a specially permitted
/// principal; compliance by nobody, the account root included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetentionMode {
    Governance,
    Compliance,
}

impl RetentionMode {
    /// The name S3 uses in its API.
    pub fn s3_name(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }

    pub fn from_s3_name(name: &str) -> Option<RetentionMode> {
        [RetentionMode::Governance, RetentionMode::Compliance]
            .into_iter()
            .find(|m| m.s3_name() == name)
    }
}

/// An object lock: until `retain_until` the object cannot be deleted. S3
/// keeps whole seconds, so callers should pass whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub retain_until: DateTime<Utc>,
}

impl Retention {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.retain_until
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub storage_class: StorageClass,
    /// User metadata (`x-amz-meta-*`); keys lower-case ASCII.
    pub metadata: BTreeMap<String, String>,
    /// Locks the object (S3 Object Lock; the bucket must have it enabled).
    pub retention: Option<Retention>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutReceipt {
    pub etag: String,
    pub size: u64,
    /// How many requests/parts the body was sent in (1 when not multipart).
    pub parts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub storage_class: StorageClass,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub last_modified: DateTime<Utc>,
    /// The object's lock, if it has one (expired locks included).
    pub retention: Option<Retention>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub storage_class: StorageClass,
    pub last_modified: DateTime<Utc>,
}

/// One page of a listing, in key order. `next` continues it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub next: Option<String>,
}

pub struct StoredObject {
    pub meta: ObjectMeta,
    pub body: ByteStream,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BlobError {
    #[error("no object at `{0}`")]
    NotFound(String),
    #[error("object `{key}` is in {} and must be restored before it can be read", .storage_class.s3_name())]
    Archived {
        key: String,
        storage_class: StorageClass,
    },
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    #[error("the object store is throttling requests: {0}")]
    Throttled(String),
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    #[error("object store request refused: {0}")]
    Refused(String),
}

impl BlobError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, BlobError::Throttled(_) | BlobError::Unavailable(_))
    }
}

/// Checks a key the way S3 would, plus what keeps file-backed stores safe:
/// 1 to 1024 bytes of UTF-8, no empty, `.` or `..` segments, no NUL.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key.contains('\0')
        || key.starts_with('/')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        Err(BlobError::InvalidKey(key.to_owned()))
    } else {
        Ok(())
    }
}

/// An object store with S3 semantics.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores a body streamed in chunks; large bodies go up in parts
    /// (multipart upload), so memory stays bounded by the part size.
    async fn put(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutReceipt, BlobError>;

    /// Streams an object. Objects in archive classes fail with `Archived`.
    async fn get(&self, key: &str) -> Result<StoredObject, BlobError>;

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, BlobError>;

    /// Lists keys under a prefix in key order, at most `max_keys` (1..=1000) per page.
    async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Result<ListPage, BlobError>;

    /// Copies an object (metadata included) to `to` in the given class;
    /// `to == from` changes the class in place.
    async fn copy(
        &self,
        from: &str,
        to: &str,
        storage_class: StorageClass,
    ) -> Result<(), BlobError>;

    /// Asks for a temporary readable copy of an archived object (S3
    /// RestoreObject), kept for `days`. Asking again while one runs is not
    /// an error (`InProgress`); an object that needs no restore is `Ready`.
    async fn restore(
        &self,
        key: &str,
        days: u32,
        tier: RestoreTier,
    ) -> Result<RestoreState, BlobError>;

    /// Deletes an object; deleting a missing key is not an error. An object
    /// whose retention is active cannot be deleted: `Refused`.
    ///
    /// Writing a new object over a locked key is not part of the contract:
    /// S3 keeps the locked bytes as a noncurrent version, the embedded store
    /// refuses the write. Either way the locked bytes survive.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}
