//! The manifest: what a snapshot holds, written last, so a snapshot without
//! one is incomplete. Plain JSON (readable without keys) and authenticated
//! with the snapshot's data key, so counts and checksums cannot be edited to
//! match damaged or altered data.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::backup::{SnapshotId, SnapshotKind};
use strata_domain::ports::keys::{EncryptionContext, WrappedKey};

use crate::error::SnapshotError;
use crate::seal::StreamCipher;

pub const FORMAT: u32 = 1;
pub const SNAPSHOTS_PREFIX: &str = "snapshots/";
pub const MANIFEST: &str = "manifest.json";
pub const VERIFIED: &str = "verified.json";

/// Stream ids: a segment's items use the segment number, its index and the
/// backed-up objects separate ranges, so no two streams share a nonce.
const INDEX_STREAMS: u32 = 0x4000_0000;
const BLOB_STREAMS: u32 = 0x8000_0000;

pub fn snapshot_prefix(id: &SnapshotId) -> String {
    format!("{SNAPSHOTS_PREFIX}{id}/")
}

pub fn object_key(id: &SnapshotId, object: &str) -> String {
    format!("{}{object}", snapshot_prefix(id))
}

/// The stream of a segment's items, its index, or a backed-up object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    Items(u32),
    Index(u32),
    Blob(u32),
}

impl StreamRole {
    pub fn stream_id(self) -> u32 {
        match self {
            StreamRole::Items(segment) => segment,
            StreamRole::Index(segment) => INDEX_STREAMS | segment,
            StreamRole::Blob(n) => BLOB_STREAMS | n,
        }
    }

    /// The object's name inside the snapshot's prefix.
    pub fn object(self) -> String {
        match self {
            StreamRole::Items(segment) => format!("table/{segment:05}.items"),
            StreamRole::Index(segment) => format!("table/{segment:05}.index"),
            StreamRole::Blob(n) => format!("blobs/{n:05}"),
        }
    }
}

/// One sealed object and what it must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// Name inside the snapshot's prefix (`table/00003.items`).
    pub object: String,
    pub stream: u32,
    /// Items or index entries in it.
    pub records: u64,
    /// Bytes and SHA-256 of the plaintext (before compression).
    pub plain_bytes: u64,
    pub plain_sha256: String,
    /// Bytes and SHA-256 of the object as stored.
    pub object_bytes: u64,
    pub object_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub segment: u32,
    /// Items new or changed since the parent (every item in a full snapshot).
    pub items: StreamEntry,
    /// One entry per item present in the segment when it was read.
    pub index: StreamEntry,
    /// Items the parent already held as they are.
    pub unchanged: u64,
    /// Items of the parent gone since.
    pub deleted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSection {
    /// The parallel scan's segment count; every snapshot of a chain uses the same.
    pub segments: u32,
    /// Items in the table when it was read (what a restore recreates).
    pub items: u64,
    pub segment_entries: Vec<SegmentEntry>,
}

/// An object copied from the data store (cold-tier manifests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// The snapshot holding its bytes: this one, or (unchanged) an ancestor.
    pub stored_in: SnapshotId,
    pub stream: StreamEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub cipher: String,
    pub compression: String,
    pub chunk_bytes: u32,
    /// The master key the data key is wrapped under; differs between the
    /// snapshot store and the archive, so it is not covered by the tag.
    pub key_id: String,
    pub wrapped_key: String,
    pub context: EncryptionContext,
}

impl Encryption {
    pub fn wrapped(&self) -> Result<WrappedKey, SnapshotError> {
        Ok(WrappedKey {
            key_id: self.key_id.clone(),
            ciphertext: BASE64
                .decode(&self.wrapped_key)
                .map_err(|e| SnapshotError::Encode(format!("wrapped key: {e}")))?,
        })
    }

    pub fn set_wrapped(&mut self, wrapped: &WrappedKey) {
        self.key_id = wrapped.key_id.clone();
        self.wrapped_key = BASE64.encode(&wrapped.ciphertext);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: SnapshotId,
    pub kind: SnapshotKind,
    pub parent: Option<SnapshotId>,
    pub taken_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// What was backed up, for people reading the manifest.
    pub source: String,
    pub encryption: Encryption,
    pub table: TableSection,
    pub blobs: Vec<BlobEntry>,
    /// Hex AES-GCM tag over the rest (wrapped key excepted).
    pub tag: String,
}

/// Written after a snapshot was read back and matched its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedMarker {
    pub snapshot: SnapshotId,
    pub verified_at: DateTime<Utc>,
    pub streams: u64,
    pub records: u64,
    pub object_bytes: u64,
}

pub fn encryption_context(id: &SnapshotId) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "strata-snapshot")
        .with("snapshot", id.as_str())
}

impl Manifest {
    /// The bytes the tag covers: the manifest without its tag and wrapped key.
    fn tagged_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut bare = self.clone();
        bare.tag.clear();
        bare.encryption.key_id.clear();
        bare.encryption.wrapped_key.clear();
        serde_json::to_vec(&bare).map_err(|e| SnapshotError::Encode(e.to_string()))
    }

    pub fn seal(&mut self, cipher: &StreamCipher) -> Result<(), SnapshotError> {
        let tag = cipher
            .tag(&self.tagged_bytes()?)
            .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        self.tag = hex::encode(tag);
        Ok(())
    }

    /// Checks the tag; a manifest edited in any covered field fails.
    pub fn check(&self, cipher: &StreamCipher) -> Result<(), SnapshotError> {
        let expected = cipher
            .tag(&self.tagged_bytes()?)
            .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        if hex::encode(expected) != self.tag {
            return Err(SnapshotError::corrupt(
                &self.id,
                MANIFEST,
                "its authentication tag does not match (edited, or not this snapshot's)",
            ));
        }
        if self.format != FORMAT {
            return Err(SnapshotError::corrupt(
                &self.id,
                MANIFEST,
                format!("format {} is not {FORMAT}", self.format),
            ));
        }
        Ok(())
    }

    pub fn to_json(&self) -> Result<Vec<u8>, SnapshotError> {
        serde_json::to_vec_pretty(self).map_err(|e| SnapshotError::Encode(e.to_string()))
    }

    pub fn from_json(id: &SnapshotId, bytes: &[u8]) -> Result<Manifest, SnapshotError> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| SnapshotError::corrupt(id, MANIFEST, e.to_string()))?;
        if &manifest.id != id {
            return Err(SnapshotError::corrupt(
                id,
                MANIFEST,
                format!("it describes snapshot {}", manifest.id),
            ));
        }
        Ok(manifest)
    }

    /// Every stream object this snapshot itself stores.
    pub fn own_streams(&self) -> impl Iterator<Item = &StreamEntry> {
        self.table
            .segment_entries
            .iter()
            .flat_map(|s| [&s.items, &s.index])
            .chain(
                self.blobs
                    .iter()
                    .filter(|b| b.stored_in == self.id)
                    .map(|b| &b.stream),
            )
    }

    pub fn stored_bytes(&self) -> u64 {
        self.own_streams().map(|s| s.object_bytes).sum()
    }

    /// Items written to item streams (all items, for a full snapshot).
    pub fn items_stored(&self) -> u64 {
        self.table
            .segment_entries
            .iter()
            .map(|s| s.items.records)
            .sum()
    }

    pub fn segment(&self, segment: u32) -> Result<&SegmentEntry, SnapshotError> {
        self.table
            .segment_entries
            .iter()
            .find(|s| s.segment == segment)
            .ok_or_else(|| {
                SnapshotError::corrupt(&self.id, MANIFEST, format!("segment {segment} is missing"))
            })
    }
}
