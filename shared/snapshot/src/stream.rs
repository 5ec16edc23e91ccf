//! Snapshot objects as streams: records go in, are compressed (zstd),
//! sealed (AES-256-GCM chunks) and uploaded while they are produced; on the
//! way back they are opened, inflated and split into records, and checked
//! against their manifest entry. Memory stays at about one chunk and one
//! upload part per stream, whatever the object's size.

use std::sync::Arc;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use strata_domain::backup::SnapshotId;
use strata_domain::ports::blob::{BlobError, BlobStore, ByteStream, PutOptions, PutReceipt};
use tokio::task::JoinHandle;

use crate::compress::{Compressor, Decompressor};
use crate::error::SnapshotError;
use crate::manifest::{StreamEntry, StreamRole};
use crate::records::Framing;
use crate::seal::{Opener, Sealer, StreamCipher};

/// How sealed streams are cut and packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// Plaintext bytes (compressed) per sealed chunk.
    pub chunk_bytes: u32,
    pub zstd_level: i32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            chunk_bytes: 1024 * 1024,
            zstd_level: 3,
        }
    }
}

/// Inflated bytes gathered before a reader hands a block of records on.
const READ_BLOCK_BYTES: usize = 256 * 1024;

/// One stream being written and uploaded.
pub struct SealedUpload {
    snapshot: SnapshotId,
    object: String,
    stream: u32,
    compressor: Compressor,
    sealer: Sealer,
    chunk_bytes: usize,
    sender: mpsc::Sender<Result<Bytes, BlobError>>,
    upload: Option<JoinHandle<Result<PutReceipt, BlobError>>>,
    records: u64,
    plain: Sha256,
    plain_bytes: u64,
    sealed: Sha256,
    sealed_bytes: u64,
}

impl SealedUpload {
    /// Starts the upload of `role`'s object of `snapshot` to `key`.
    pub fn start(
        store: Arc<dyn BlobStore>,
        key: String,
        snapshot: &SnapshotId,
        role: StreamRole,
        cipher: &StreamCipher,
        settings: StreamSettings,
        options: PutOptions,
    ) -> Result<Self, SnapshotError> {
        // One chunk in the channel: the producer waits for the upload.
        let (sender, receiver) = mpsc::channel::<Result<Bytes, BlobError>>(1);
        let body: ByteStream = Box::pin(receiver);
        let upload = tokio::spawn(async move { store.put(&key, body, options).await });
        Ok(SealedUpload {
            snapshot: snapshot.clone(),
            object: role.object(),
            stream: role.stream_id(),
            compressor: Compressor::new(settings.zstd_level)
                .map_err(|e| SnapshotError::Encode(format!("zstd: {e}")))?,
            sealer: cipher.sealer(role.stream_id(), settings.chunk_bytes),
            chunk_bytes: settings.chunk_bytes as usize,
            sender,
            upload: Some(upload),
            records: 0,
            plain: Sha256::new(),
            plain_bytes: 0,
            sealed: Sha256::new(),
            sealed_bytes: 0,
        })
    }

    /// Adds plaintext holding `records` whole records.
    pub async fn write(&mut self, bytes: &[u8], records: u64) -> Result<(), SnapshotError> {
        self.records += records;
        self.plain.update(bytes);
        self.plain_bytes += bytes.len() as u64;
        self.compressor
            .write(bytes)
            .map_err(|e| SnapshotError::Encode(format!("zstd: {e}")))?;
        if self.compressor.ready() >= self.chunk_bytes {
            let compressed = self.compressor.take();
            let sealed = self.sealer.push(&compressed).map_err(|e| self.damage(e))?;
            self.send(sealed).await?;
        }
        Ok(())
    }

    /// Seals the rest, completes the upload and describes the object.
    pub async fn finish(mut self) -> Result<StreamEntry, SnapshotError> {
        let rest = self
            .compressor
            .finish()
            .map_err(|e| SnapshotError::Encode(format!("zstd: {e}")))?;
        let mut sealed = self.sealer.push(&rest).map_err(|e| self.damage(e))?;
        sealed.extend(self.sealer.finish().map_err(|e| self.damage(e))?);
        self.send(sealed).await?;
        self.sender.close_channel();
        let receipt = self.wait_for_upload().await?;
        if receipt.size != self.sealed_bytes {
            return Err(SnapshotError::corrupt(
                &self.snapshot,
                &self.object,
                format!(
                    "the store took {} bytes of {} sent",
                    receipt.size, self.sealed_bytes
                ),
            ));
        }
        Ok(StreamEntry {
            object: std::mem::take(&mut self.object),
            stream: self.stream,
            records: self.records,
            plain_bytes: self.plain_bytes,
            plain_sha256: hex::encode(std::mem::take(&mut self.plain).finalize()),
            object_bytes: self.sealed_bytes,
            object_sha256: hex::encode(std::mem::take(&mut self.sealed).finalize()),
        })
    }

    async fn send(&mut self, sealed: Vec<u8>) -> Result<(), SnapshotError> {
        if sealed.is_empty() {
            return Ok(());
        }
        self.sealed.update(&sealed);
        self.sealed_bytes += sealed.len() as u64;
        if self.sender.send(Ok(Bytes::from(sealed))).await.is_err() {
            // The upload stopped reading: it failed; report why.
            return Err(match self.wait_for_upload().await {
                Err(error) => error,
                Ok(_) => SnapshotError::Blob(BlobError::Unavailable(format!(
                    "the upload of {} ended early",
                    self.object
                ))),
            });
        }
        Ok(())
    }

    async fn wait_for_upload(&mut self) -> Result<PutReceipt, SnapshotError> {
        let Some(upload) = self.upload.take() else {
            return Err(SnapshotError::Blob(BlobError::Unavailable(format!(
                "the upload of {} already ended",
                self.object
            ))));
        };
        match upload.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(SnapshotError::Blob(BlobError::Unavailable(format!(
                "the upload task of {} failed: {join}",
                self.object
            )))),
        }
    }

    fn damage(&self, damage: crate::seal::Damage) -> SnapshotError {
        SnapshotError::corrupt(&self.snapshot, &self.object, damage.0)
    }
}

/// An upload dropped before `finish` (its snapshot failed) is failed on
/// purpose, so the store discards the partial object rather than keeping
/// a truncated one.
impl Drop for SealedUpload {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            let abandoned = BlobError::Unavailable(format!("{} was abandoned", self.object));
            if self.sender.try_send(Err(abandoned)).is_err() {
                upload.abort();
            }
        }
    }
}

/// One stream being read back and checked.
pub struct SealedReader {
    snapshot: SnapshotId,
    entry: StreamEntry,
    framing: Framing,
    body: ByteStream,
    opener: Option<Opener>,
    decompressor: Option<Decompressor>,
    pending: Vec<u8>,
    records: u64,
    plain: Sha256,
    plain_bytes: u64,
    sealed: Sha256,
    sealed_bytes: u64,
    done: bool,
}

impl SealedReader {
    pub async fn open(
        store: &dyn BlobStore,
        key: &str,
        snapshot: &SnapshotId,
        entry: &StreamEntry,
        cipher: &StreamCipher,
        framing: Framing,
    ) -> Result<Self, SnapshotError> {
        let object = match store.get(key).await {
            Ok(object) => object,
            Err(BlobError::NotFound(_)) => {
                return Err(SnapshotError::corrupt(
                    snapshot,
                    &entry.object,
                    "the object is missing",
                ));
            }
            Err(other) => return Err(other.into()),
        };
        if object.meta.size != entry.object_bytes {
            return Err(SnapshotError::corrupt(
                snapshot,
                &entry.object,
                format!(
                    "the object has {} bytes where the manifest says {} (truncated or replaced)",
                    object.meta.size, entry.object_bytes
                ),
            ));
        }
        Ok(SealedReader {
            snapshot: snapshot.clone(),
            entry: entry.clone(),
            framing,
            body: object.body,
            opener: Some(cipher.opener(entry.stream)),
            decompressor: Some(
                Decompressor::new().map_err(|e| SnapshotError::Encode(format!("zstd: {e}")))?,
            ),
            pending: Vec::new(),
            records: 0,
            plain: Sha256::new(),
            plain_bytes: 0,
            sealed: Sha256::new(),
            sealed_bytes: 0,
            done: false,
        })
    }

    /// The next block of whole records, in order; `None` once the stream has
    /// ended and matched its manifest entry in size, checksum and count.
    pub async fn next_block(&mut self) -> Result<Option<Vec<u8>>, SnapshotError> {
        if self.done {
            return Ok(None);
        }
        loop {
            match self.body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    self.sealed.update(&chunk);
                    self.sealed_bytes += chunk.len() as u64;
                    let compressed = self
                        .opener
                        .as_mut()
                        .map(|opener| opener.push(&chunk))
                        .transpose()
                        .map_err(|e| self.damage(e.0))?
                        .unwrap_or_default();
                    self.inflate(&compressed)?;
                    if self.pending.len() >= READ_BLOCK_BYTES {
                        let whole = self.framing.whole_records(&self.pending);
                        if whole > 0 {
                            let rest = self.pending.split_off(whole);
                            let block = std::mem::replace(&mut self.pending, rest);
                            self.records += self.framing.count(&block);
                            return Ok(Some(block));
                        }
                    }
                }
                None => return self.end().map(|block| (!block.is_empty()).then_some(block)),
            }
        }
    }

    fn inflate(&mut self, compressed: &[u8]) -> Result<(), SnapshotError> {
        let Some(decompressor) = self.decompressor.as_mut() else {
            return Ok(());
        };
        let (pending, plain, plain_bytes) =
            (&mut self.pending, &mut self.plain, &mut self.plain_bytes);
        let limit = self.entry.plain_bytes;
        decompressor
            .write(compressed, |inflated| {
                *plain_bytes += inflated.len() as u64;
                if *plain_bytes > limit {
                    return Err(format!("inflates past the {limit} bytes the manifest says"));
                }
                plain.update(&inflated);
                pending.extend_from_slice(&inflated);
                Ok(())
            })
            .map_err(|reason| SnapshotError::corrupt(&self.snapshot, &self.entry.object, reason))
    }

    fn end(&mut self) -> Result<Vec<u8>, SnapshotError> {
        self.done = true;
        let last = self
            .opener
            .take()
            .map(Opener::finish)
            .transpose()
            .map_err(|e| self.damage(e.0))?
            .unwrap_or_default();
        self.inflate(&last)?;
        let tail = self
            .decompressor
            .take()
            .map(Decompressor::finish)
            .transpose()
            .map_err(|reason| self.damage(reason))?
            .unwrap_or_default();
        self.plain_bytes += tail.len() as u64;
        self.plain.update(&tail);
        self.pending.extend_from_slice(&tail);
        let block = std::mem::take(&mut self.pending);
        if self.framing.whole_records(&block) != block.len() {
            return Err(self.damage("it ends in the middle of a record".into()));
        }
        self.records += self.framing.count(&block);
        self.check()?;
        Ok(block)
    }

    fn check(&mut self) -> Result<(), SnapshotError> {
        let sealed = hex::encode(std::mem::take(&mut self.sealed).finalize());
        let plain = hex::encode(std::mem::take(&mut self.plain).finalize());
        let expected = &self.entry;
        let problems = [
            (self.sealed_bytes != expected.object_bytes).then(|| {
                format!(
                    "{} bytes read, {} expected",
                    self.sealed_bytes, expected.object_bytes
                )
            }),
            (sealed != expected.object_sha256).then(|| "the object's SHA-256 differs".to_owned()),
            (self.plain_bytes != expected.plain_bytes).then(|| {
                format!(
                    "{} bytes inflated, {} expected",
                    self.plain_bytes, expected.plain_bytes
                )
            }),
            (plain != expected.plain_sha256).then(|| "the content's SHA-256 differs".to_owned()),
            (self.framing != Framing::Raw && self.records != expected.records)
                .then(|| format!("{} records, {} expected", self.records, expected.records)),
        ];
        let found: Vec<String> = problems.into_iter().flatten().collect();
        if found.is_empty() {
            Ok(())
        } else {
            Err(self.damage(found.join("; ")))
        }
    }

    fn damage(&self, reason: String) -> SnapshotError {
        SnapshotError::corrupt(&self.snapshot, &self.entry.object, reason)
    }
}
