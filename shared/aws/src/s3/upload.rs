//! Streaming uploads: one PutObject for a body that fits in a part, a
//! multipart upload otherwise, holding about one part in memory.

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use strata_domain::ports::blob::{BlobError, ByteStream, PutOptions, PutReceipt};

use super::S3BlobStore;
use super::convert::{etag, sdk_class, sdk_lock, sdk_metadata};
use super::errors::blob_error;

/// S3 numbers parts 1 to 10,000.
const MAX_PARTS: i32 = 10_000;

impl S3BlobStore {
    pub(super) async fn upload(
        &self,
        key: &str,
        mut body: ByteStream,
        options: &PutOptions,
    ) -> Result<PutReceipt, BlobError> {
        let mut multipart = None;
        let sent = self
            .send_full_parts(key, &mut body, options, &mut multipart)
            .await;
        match (sent, multipart) {
            (Ok(tail), None) => self.put_whole(key, tail, options).await,
            (Ok(tail), Some(mut upload)) => match upload.finish(tail).await {
                Ok(receipt) => Ok(receipt),
                Err(err) => {
                    upload.abort().await;
                    Err(err)
                }
            },
            (Err(err), upload) => {
                if let Some(upload) = upload {
                    upload.abort().await;
                }
                Err(err)
            }
        }
    }

    /// Reads the body and sends every full part; returns what is left, the
    /// last part. A part is sent only once a byte beyond it has arrived, so a
    /// body of exactly one part still goes up in a single PutObject.
    async fn send_full_parts<'a>(
        &'a self,
        key: &'a str,
        body: &mut ByteStream,
        options: &PutOptions,
        multipart: &mut Option<Multipart<'a>>,
    ) -> Result<Bytes, BlobError> {
        let mut buffer = BytesMut::new();
        while let Some(chunk) = body.next().await {
            buffer.extend_from_slice(&chunk?);
            while buffer.len() > self.part_size {
                let part = buffer.split_to(self.part_size).freeze();
                let upload = match multipart {
                    Some(upload) => upload,
                    None => multipart.insert(Multipart::start(self, key, options).await?),
                };
                upload.send(part).await?;
            }
        }
        Ok(buffer.freeze())
    }

    async fn put_whole(
        &self,
        key: &str,
        bytes: Bytes,
        options: &PutOptions,
    ) -> Result<PutReceipt, BlobError> {
        let size = bytes.len() as u64;
        let (lock_mode, locked_until) = sdk_lock(options.retention.as_ref());
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(SdkByteStream::from(bytes))
            .storage_class(sdk_class(options.storage_class))
            .set_content_type(options.content_type.clone())
            .set_metadata(sdk_metadata(options))
            .set_object_lock_mode(lock_mode)
            .set_object_lock_retain_until_date(locked_until)
            // S3 checks it, as it checks every part; it demands one on puts that lock.
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| blob_error(e, key))?;
        Ok(PutReceipt {
            etag: etag(out.e_tag()),
            size,
            parts: 1,
        })
    }
}

/// A multipart upload in progress. Parts carry CRC32 checksums, declared at
/// creation, so S3 verifies every part and the whole.
struct Multipart<'a> {
    store: &'a S3BlobStore,
    key: &'a str,
    upload_id: String,
    parts: Vec<CompletedPart>,
    size: u64,
}

impl<'a> Multipart<'a> {
    async fn start(
        store: &'a S3BlobStore,
        key: &'a str,
        options: &PutOptions,
    ) -> Result<Self, BlobError> {
        let (lock_mode, locked_until) = sdk_lock(options.retention.as_ref());
        let out = store
            .client
            .create_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .storage_class(sdk_class(options.storage_class))
            .set_content_type(options.content_type.clone())
            .set_metadata(sdk_metadata(options))
            .set_object_lock_mode(lock_mode)
            .set_object_lock_retain_until_date(locked_until)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| blob_error(e, key))?;
        let upload_id = out.upload_id.ok_or_else(|| {
            BlobError::Unavailable("CreateMultipartUpload returned no upload id".into())
        })?;
        tracing::debug!(key, upload_id, "started multipart upload");
        Ok(Multipart {
            store,
            key,
            upload_id,
            parts: Vec::new(),
            size: 0,
        })
    }

    async fn send(&mut self, part: Bytes) -> Result<(), BlobError> {
        let number = self.parts.len() as i32 + 1;
        if number > MAX_PARTS {
            return Err(BlobError::Refused(format!(
                "`{}` needs more than {MAX_PARTS} parts of {} bytes",
                self.key, self.store.part_size
            )));
        }
        let len = part.len() as u64;
        let out = self
            .store
            .client
            .upload_part()
            .bucket(&self.store.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(SdkByteStream::from(part))
            .send()
            .await
            .map_err(|e| blob_error(e, self.key))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .set_checksum_crc32(out.checksum_crc32)
                .build(),
        );
        self.size += len;
        Ok(())
    }

    async fn finish(&mut self, last: Bytes) -> Result<PutReceipt, BlobError> {
        self.send(last).await?;
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.clone()))
            .build();
        let out = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|e| blob_error(e, self.key))?;
        tracing::debug!(
            key = self.key,
            parts = self.parts.len(),
            size = self.size,
            "completed multipart upload"
        );
        Ok(PutReceipt {
            etag: etag(out.e_tag()),
            size: self.size,
            parts: self.parts.len() as u32,
        })
    }

    /// Best effort: a failed abort leaves parts that the bucket's lifecycle
    /// rule for incomplete uploads removes later.
    async fn abort(self) {
        let aborted = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => tracing::debug!(
                key = self.key,
                upload_id = self.upload_id,
                "aborted multipart upload"
            ),
            Err(err) => tracing::warn!(
                key = self.key,
                upload_id = self.upload_id,
                error = %aws_sdk_s3::error::DisplayErrorContext(&err),
                "could not abort multipart upload"
            ),
        }
    }
}
