//! The offline copy: a verified snapshot copied into the archive vault (a
//! bucket in another account or region, with Object Lock in compliance mode
//! and a Deep Archive lifecycle), every object locked until the same date.
//! The data key is re-wrapped under the archive's own key, so the archive
//! can be restored with nothing from the primary account.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use strata_domain::backup::SnapshotId;
use strata_domain::ports::blob::{BlobError, ByteStream, PutOptions, Retention, RetentionMode};

use crate::error::SnapshotError;
use crate::manifest::{StreamEntry, VERIFIED, VerifiedMarker, encryption_context, object_key};
use crate::vault::Vault;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveCopy {
    pub snapshot: SnapshotId,
    pub objects: usize,
    pub bytes: u64,
    pub locked_until: DateTime<Utc>,
}

/// The lock put on a snapshot's archive copy: compliance mode, in whole seconds.
pub fn archive_lock(taken_at: DateTime<Utc>, days: u32) -> Retention {
    let until = taken_at + chrono::Duration::days(i64::from(days));
    Retention {
        mode: RetentionMode::Compliance,
        retain_until: DateTime::from_timestamp(until.timestamp(), 0).unwrap_or(until),
    }
}

/// Copies a verified snapshot from `source` into `archive`. Each object's
/// bytes are hashed on the way and compared with the manifest; the archive
/// store checks its own upload (S3: CRC32 per part). The manifest and the
/// verified marker go last, so an interrupted copy stays incomplete.
pub async fn archive_snapshot(
    source: &Vault,
    archive: &Vault,
    id: &SnapshotId,
    lock: Retention,
) -> Result<ArchiveCopy, SnapshotError> {
    let snapshot = source.open(id).await?;
    let marker = VerifiedMarker {
        snapshot: id.clone(),
        verified_at: Utc::now(),
        streams: snapshot.manifest.own_streams().count() as u64,
        records: snapshot.manifest.own_streams().map(|s| s.records).sum(),
        object_bytes: snapshot.manifest.stored_bytes(),
    };
    let mut objects = 0;
    for entry in snapshot.manifest.own_streams() {
        copy_object(source, archive, id, entry, lock).await?;
        objects += 1;
    }
    let mut manifest = snapshot.manifest.clone();
    let rewrapped = archive
        .keys
        .encrypt_data_key(&snapshot.key, &encryption_context(id))
        .await?;
    manifest.encryption.set_wrapped(&rewrapped);
    archive.put_manifest(&manifest, Some(lock)).await?;
    let marker_json =
        serde_json::to_vec_pretty(&marker).map_err(|e| SnapshotError::Encode(e.to_string()))?;
    archive
        .put_json(id, VERIFIED, marker_json, Some(lock))
        .await?;
    Ok(ArchiveCopy {
        snapshot: id.clone(),
        objects: objects + 2,
        bytes: marker.object_bytes,
        locked_until: lock.retain_until,
    })
}

async fn copy_object(
    source: &Vault,
    archive: &Vault,
    id: &SnapshotId,
    entry: &StreamEntry,
    lock: Retention,
) -> Result<(), SnapshotError> {
    let key = object_key(id, &entry.object);
    let object = source.blobs.get(&key).await?;
    let seen = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let tally = Arc::clone(&seen);
    let body: ByteStream = Box::pin(object.body.inspect(move |chunk| {
        if let (Ok(chunk), Ok(mut seen)) = (chunk, tally.lock()) {
            seen.0.update(chunk);
            seen.1 += chunk.len() as u64;
        }
    }));
    let options = PutOptions {
        content_type: Some("application/octet-stream".into()),
        retention: Some(lock),
        ..PutOptions::default()
    };
    let receipt = archive.blobs.put(&key, body, options).await?;
    let (hasher, size) = {
        let mut seen = seen
            .lock()
            .map_err(|_| BlobError::Unavailable("hashing the copy failed".into()))?;
        (std::mem::take(&mut seen.0), seen.1)
    };
    let digest = hex::encode(hasher.finalize());
    if size != entry.object_bytes || digest != entry.object_sha256 || receipt.size != size {
        return Err(SnapshotError::corrupt(
            id,
            &entry.object,
            format!(
                "copied {size} bytes (SHA-256 {digest}) where the manifest says {} ({})",
                entry.object_bytes, entry.object_sha256
            ),
        ));
    }
    Ok(())
}
