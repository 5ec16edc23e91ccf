//! The blob port on S3.

mod convert;
mod errors;
mod upload;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    GlacierJobParameters, MetadataDirective, RestoreRequest, Tier, VersioningConfiguration,
};
use strata_domain::ports::blob::{
    BlobError, BlobStore, ByteStream, ListPage, ObjectMeta, ObjectSummary, PutOptions, PutReceipt,
    RestoreState, RestoreTier, StorageClass, StoredObject, validate_key,
};

use crate::SetupError;
use convert::{copy_source, domain_class, object_meta, sdk_class, size, timestamp};
use errors::blob_error;

pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3 refuses smaller parts, except the last.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;

/// One bucket of S3. Cheap to clone: the client is shared.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    part_size: usize,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3BlobStore {
            client,
            bucket: bucket.into(),
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Bodies larger than one part go up as a multipart upload; an upload
    /// holds about one part in memory.
    pub fn with_part_size(mut self, part_size: usize) -> Result<Self, SetupError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(SetupError::PartSize(part_size));
        }
        self.part_size = part_size;
        Ok(self)
    }

    /// The error for an object that must be restored first. GetObject's
    /// error carries the class, but not from every server; HEAD still works
    /// on archived objects.
    async fn archived(&self, key: &str, reported: Option<&str>) -> BlobError {
        let storage_class = match reported.and_then(StorageClass::from_s3_name) {
            Some(class) => class,
            None => match self.head(key).await {
                Ok(Some(meta)) => meta.storage_class,
                _ => StorageClass::GlacierFlexibleRetrieval,
            },
        };
        BlobError::Archived {
            key: key.to_owned(),
            storage_class,
        }
    }
}

impl S3BlobStore {
    /// The version id of the current object if S3 reports an active lock on it.
    async fn locked_version(&self, key: &str) -> Result<Option<String>, BlobError> {
        let head = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => head,
            Err(err) => {
                return match blob_error(err, key) {
                    BlobError::NotFound(_) => Ok(None),
                    other => Err(other),
                };
            }
        };
        let lock = convert::retention(
            head.object_lock_mode(),
            head.object_lock_retain_until_date(),
        );
        Ok(match lock {
            Some(lock) if lock.is_active(chrono::Utc::now()) => head.version_id,
            _ => None,
        })
    }
}

/// Adapts the SDK's body to the port's stream, chunk by chunk as it arrives.
fn body_stream(body: SdkByteStream, key: String) -> ByteStream {
    Box::pin(futures::stream::unfold(
        Some((body, key)),
        |state| async move {
            let (mut body, key) = state?;
            match body.next().await {
                None => None,
                Some(Ok(chunk)) => Some((Ok(chunk), Some((body, key)))),
                Some(Err(err)) => Some((
                    Err(BlobError::Unavailable(format!("reading `{key}`: {err}"))),
                    None,
                )),
            }
        },
    ))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, key = %key))]
    async fn put(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutReceipt, BlobError> {
        validate_key(key)?;
        self.upload(key, body, &options).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, key = %key))]
    async fn get(&self, key: &str) -> Result<StoredObject, BlobError> {
        validate_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                return Err(match err.as_service_error() {
                    Some(GetObjectError::InvalidObjectState(e)) => {
                        self.archived(key, e.storage_class().map(|c| c.as_str()))
                            .await
                    }
                    _ => blob_error(err, key),
                });
            }
        };
        let meta = object_meta!(key, out);
        Ok(StoredObject {
            meta,
            body: body_stream(out.body, key.to_owned()),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, key = %key))]
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, BlobError> {
        validate_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(object_meta!(key, out))),
            // A HEAD response has no body, so a 404 is all there is to go on.
            Err(err) => match blob_error(err, key) {
                BlobError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, prefix = %prefix))]
    async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Result<ListPage, BlobError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_continuation_token(continuation)
            // S3 caps a page at 1,000 keys whatever is asked.
            .max_keys(max_keys.min(1000) as i32)
            .send()
            .await
            .map_err(|e| blob_error(e, prefix))?;
        let objects = out
            .contents()
            .iter()
            .map(|o| ObjectSummary {
                key: o.key().unwrap_or_default().to_owned(),
                size: size(o.size()),
                storage_class: domain_class(o.storage_class().map(|c| c.as_str())),
                last_modified: timestamp(o.last_modified()),
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, from = %from, to = %to, class = storage_class.s3_name()))]
    async fn copy(
        &self,
        from: &str,
        to: &str,
        storage_class: StorageClass,
    ) -> Result<(), BlobError> {
        validate_key(from)?;
        validate_key(to)?;
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(copy_source(&self.bucket, from))
            .storage_class(sdk_class(storage_class))
            .metadata_directive(MetadataDirective::Copy)
            .send()
            .await;
        let Err(err) = copied else { return Ok(()) };
        match err.code() {
            Some("InvalidObjectState" | "ObjectNotInActiveTierError") => {
                Err(self.archived(from, None).await)
            }
            // S3 refuses to copy an object onto itself unchanged; when it is
            // already in the wanted class there is nothing to do.
            Some("InvalidRequest") if from == to => match self.head(from).await? {
                Some(meta) if meta.storage_class == storage_class => Ok(()),
                Some(_) => Err(blob_error(err, from)),
                None => Err(BlobError::NotFound(from.to_owned())),
            },
            _ => Err(blob_error(err, from)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, key = %key, tier = tier.s3_name()))]
    async fn restore(
        &self,
        key: &str,
        days: u32,
        tier: RestoreTier,
    ) -> Result<RestoreState, BlobError> {
        validate_key(key)?;
        // The SDK's output does not tell 202 (started) from 200 (a restored
        // copy exists), so the object's restore header is read first.
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| blob_error(e, key))?;
        let class = domain_class(head.storage_class().map(|c| c.as_str()));
        match head.restore() {
            _ if class.is_instantly_readable() => return Ok(RestoreState::Ready),
            Some(r) if r.contains("ongoing-request=\"true\"") => {
                return Ok(RestoreState::InProgress);
            }
            Some(r) if r.contains("ongoing-request=\"false\"") => return Ok(RestoreState::Ready),
            _ => {}
        }
        let job = GlacierJobParameters::builder()
            .tier(Tier::from(tier.s3_name()))
            .build()
            .map_err(|e| BlobError::Refused(e.to_string()))?;
        let request = RestoreRequest::builder()
            .days(i32::try_from(days).unwrap_or(i32::MAX))
            .glacier_job_parameters(job)
            .build();
        let asked = self
            .client
            .restore_object()
            .bucket(&self.bucket)
            .key(key)
            .restore_request(request)
            .send()
            .await;
        match asked {
            Ok(_) => Ok(RestoreState::Started),
            Err(err) if err.code() == Some("RestoreAlreadyInProgress") => {
                Ok(RestoreState::InProgress)
            }
            Err(err) => Err(blob_error(err, key)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(bucket = %self.bucket, key = %key))]
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        // In a versioned bucket a plain delete only hides a locked object
        // behind a delete marker. Deleting the locked version itself lets S3
        // enforce the lock and refuse, as the port promises.
        let version = self.locked_version(key).await?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version)
            .send()
            .await
            .map_err(|e| blob_error(e, key))?;
        Ok(())
    }
}

/// Creates a bucket in the client's region; one that this account owns
/// already is fine. For tests and local servers: deployed buckets come from
/// the SAM template.
pub async fn create_bucket(client: &Client, name: &str) -> Result<(), SetupError> {
    create(client, name, false).await
}

/// Creates a bucket with S3 Object Lock enabled (which turns versioning
/// on), as the backup archive bucket is.
pub async fn create_locked_bucket(client: &Client, name: &str) -> Result<(), SetupError> {
    create(client, name, true).await
}

/// Turns versioning on, as the snapshot bucket has it.
pub async fn enable_versioning(client: &Client, name: &str) -> Result<(), SetupError> {
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    client
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(versioning)
        .send()
        .await
        .map_err(|e| SetupError::request("PutBucketVersioning", e))?;
    Ok(())
}

async fn create(client: &Client, name: &str, object_lock: bool) -> Result<(), SetupError> {
    let mut request = client
        .create_bucket()
        .bucket(name)
        .set_object_lock_enabled_for_bucket(object_lock.then_some(true));
    // us-east-1 is the default location and must not be named.
    if let Some(region) = client
        .config()
        .region()
        .map(|r| r.as_ref())
        .filter(|r| *r != "us-east-1")
    {
        let location = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region));
        request = request.create_bucket_configuration(location.build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(err) => Err(SetupError::request("CreateBucket", err)),
    }
}
