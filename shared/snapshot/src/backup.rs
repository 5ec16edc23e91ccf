//! Taking a snapshot: a parallel scan of the table, each segment streamed
//! into two sealed objects (its items, and an index of every item present),
//! plus copies of chosen objects (cold-tier manifests), then the manifest.
//!
//! An incremental snapshot scans the whole table too (a scan is the only way
//! to see deletes) and compares each item with its parent's index: only new
//! and changed items are stored, while the new index lists everything that
//! exists, so a restore knows what was deleted. No writer has to cooperate:
//! items changed by any code path, deleted by TTL, or edited by hand are
//! all caught.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use strata_domain::backup::{NextSnapshot, SnapshotId};
use strata_domain::ports::blob::{BlobStore, PutOptions};
use strata_domain::ports::table::{Key, Table};

use crate::error::SnapshotError;
use crate::manifest::{
    BlobEntry, Encryption, FORMAT, Manifest, SegmentEntry, StreamRole, TableSection,
    encryption_context, object_key,
};
use crate::records::{
    ContentHash, Framing, INDEX_ENTRY_BYTES, KeyHash, content_hash, encode_line, index_entry,
    key_hash, split_entry,
};
use crate::seal::StreamCipher;
use crate::stream::{SealedReader, SealedUpload, StreamSettings};
use crate::vault::{OpenSnapshot, Vault};

/// What to back up.
#[derive(Clone)]
pub struct SnapshotSource {
    pub table: Arc<dyn Table>,
    /// Objects copied into every snapshot: those under `blob_prefixes` in
    /// this store (the cold tier's manifests).
    pub blobs: Option<Arc<dyn BlobStore>>,
    pub blob_prefixes: Vec<String>,
    /// Names the source in the manifest (`dynamodb:strata`, `embedded:…`).
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSettings {
    /// Least parallel-scan segments of a full snapshot.
    pub segments: u32,
    /// More segments are used when the table is big, so that no segment's
    /// index (read into memory by the next incremental) passes this.
    pub items_per_segment: u64,
    /// Segments in flight at once.
    pub concurrency: usize,
    pub stream: StreamSettings,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        SnapshotSettings {
            segments: 8,
            items_per_segment: 250_000,
            concurrency: 4,
            stream: StreamSettings::default(),
        }
    }
}

impl SnapshotSettings {
    /// Segments for a full snapshot of about `items` items: DynamoDB allows
    /// up to a million.
    pub fn segments_for(&self, items: u64) -> u32 {
        let needed = items.div_ceil(self.items_per_segment.max(1));
        u32::try_from(needed)
            .unwrap_or(u32::MAX)
            .max(self.segments)
            .clamp(1, 1_000_000)
    }
}

/// Takes a snapshot into the vault and returns its manifest. For a full
/// snapshot, `expected_items` (the last snapshot's count) sizes the segments.
pub async fn take_snapshot(
    source: &SnapshotSource,
    vault: &Vault,
    next: &NextSnapshot,
    expected_items: u64,
    settings: &SnapshotSettings,
    now: DateTime<Utc>,
) -> Result<Manifest, SnapshotError> {
    let id = SnapshotId::generate(now);
    let context = encryption_context(&id);
    let key = vault.keys.generate_data_key(&context).await?;
    let cipher = StreamCipher::new(&key.plaintext, &id);
    let parent = match next {
        NextSnapshot::Full => None,
        NextSnapshot::Incremental { parent } => Some(vault.open(parent).await?),
    };
    let segments = parent.as_ref().map_or_else(
        || settings.segments_for(expected_items),
        |p| p.manifest.table.segments,
    );
    tracing::info!(snapshot = %id, kind = next.kind().name(), segments, "taking a snapshot");

    let job = SegmentJob {
        table: source.table.as_ref(),
        vault,
        id: &id,
        cipher: &cipher,
        total: segments,
        parent: parent.as_ref(),
        stream: settings.stream,
    };
    let mut segment_entries: Vec<SegmentEntry> = stream::iter(0..segments)
        .map(|segment| job.run(segment))
        .buffer_unordered(settings.concurrency.max(1))
        .try_collect()
        .await?;
    segment_entries.sort_by_key(|s| s.segment);
    let blobs = snapshot_blobs(source, vault, &id, &cipher, parent.as_ref(), settings).await?;

    let mut manifest = Manifest {
        format: FORMAT,
        id: id.clone(),
        kind: next.kind(),
        parent: parent.as_ref().map(|p| p.manifest.id.clone()),
        taken_at: now,
        finished_at: Utc::now(),
        source: source.description.clone(),
        encryption: Encryption {
            cipher: "AES-256-GCM, chunked".into(),
            compression: format!("zstd level {}", settings.stream.zstd_level),
            chunk_bytes: settings.stream.chunk_bytes,
            key_id: String::new(),
            wrapped_key: String::new(),
            context,
        },
        table: TableSection {
            segments,
            items: segment_entries.iter().map(|s| s.index.records).sum(),
            segment_entries,
        },
        blobs,
        tag: String::new(),
    };
    manifest.encryption.set_wrapped(&key.wrapped);
    manifest.seal(&cipher)?;
    // The manifest goes last: until it exists the snapshot is incomplete.
    vault.put_manifest(&manifest, None).await?;
    tracing::info!(
        snapshot = %id,
        items = manifest.table.items,
        stored = manifest.items_stored(),
        bytes = manifest.stored_bytes(),
        "snapshot written"
    );
    Ok(manifest)
}

struct SegmentJob<'a> {
    table: &'a dyn Table,
    vault: &'a Vault,
    id: &'a SnapshotId,
    cipher: &'a StreamCipher,
    total: u32,
    parent: Option<&'a OpenSnapshot>,
    stream: StreamSettings,
}

impl SegmentJob<'_> {
    fn upload(&self, role: StreamRole) -> Result<SealedUpload, SnapshotError> {
        SealedUpload::start(
            self.vault.blobs.clone(),
            object_key(self.id, &role.object()),
            self.id,
            role,
            self.cipher,
            self.stream,
            PutOptions {
                content_type: Some("application/octet-stream".into()),
                ..PutOptions::default()
            },
        )
    }

    async fn run(&self, segment: u32) -> Result<SegmentEntry, SnapshotError> {
        let mut previous = match self.parent {
            Some(parent) => Some(read_index(self.vault, parent, segment).await?),
            None => None,
        };
        let mut items = self.upload(StreamRole::Items(segment))?;
        let mut index = self.upload(StreamRole::Index(segment))?;
        let mut unchanged = 0u64;
        let mut start = None;
        loop {
            let page = self.table.scan(segment, self.total, start, None).await?;
            let mut lines = Vec::new();
            let mut stored = 0u64;
            let mut entries = Vec::with_capacity(page.items.len() * INDEX_ENTRY_BYTES);
            for item in &page.items {
                let key = Key::of(item).ok_or_else(|| {
                    SnapshotError::Encode("the scan returned an item without its key".into())
                })?;
                let line = encode_line(item).map_err(|e| SnapshotError::Encode(e.to_string()))?;
                let (key, content) = (key_hash(&key), content_hash(&line));
                entries.extend_from_slice(&index_entry(&key, &content));
                let same = previous
                    .as_mut()
                    .and_then(|previous| previous.remove(&key))
                    .is_some_and(|before| before == content);
                if same {
                    unchanged += 1;
                } else {
                    lines.extend_from_slice(&line);
                    stored += 1;
                }
            }
            items.write(&lines, stored).await?;
            index.write(&entries, page.items.len() as u64).await?;
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        Ok(SegmentEntry {
            segment,
            items: items.finish().await?,
            index: index.finish().await?,
            unchanged,
            deleted: previous.map_or(0, |left| left.len() as u64),
        })
    }
}

/// A snapshot's index of one segment: key hash → content hash.
pub(crate) async fn read_index(
    vault: &Vault,
    snapshot: &OpenSnapshot,
    segment: u32,
) -> Result<HashMap<KeyHash, ContentHash>, SnapshotError> {
    let manifest = &snapshot.manifest;
    let entry = &manifest.segment(segment)?.index;
    let mut reader = SealedReader::open(
        vault.blobs.as_ref(),
        &object_key(&manifest.id, &entry.object),
        &manifest.id,
        entry,
        &snapshot.cipher,
        Framing::IndexEntries,
    )
    .await?;
    let mut index = HashMap::with_capacity(entry.records as usize);
    while let Some(block) = reader.next_block().await? {
        for raw in block.chunks_exact(INDEX_ENTRY_BYTES) {
            if let Some((key, content)) = split_entry(raw) {
                index.insert(key, content);
            }
        }
    }
    // Two keys sharing a hash would make one of them vanish from a restore;
    // refuse loudly instead.
    if index.len() as u64 != entry.records {
        return Err(SnapshotError::corrupt(
            &manifest.id,
            &entry.object,
            format!(
                "{} entries name only {} distinct keys",
                entry.records,
                index.len()
            ),
        ));
    }
    Ok(index)
}

/// Copies the objects under the source's prefixes; an incremental snapshot
/// refers to its parent's copy of an object that has not changed.
async fn snapshot_blobs(
    source: &SnapshotSource,
    vault: &Vault,
    id: &SnapshotId,
    cipher: &StreamCipher,
    parent: Option<&OpenSnapshot>,
    settings: &SnapshotSettings,
) -> Result<Vec<BlobEntry>, SnapshotError> {
    let Some(store) = &source.blobs else {
        return Ok(Vec::new());
    };
    let mut entries = Vec::new();
    for prefix in &source.blob_prefixes {
        let mut continuation = None;
        loop {
            let page = store.list(prefix, continuation, 1000).await?;
            for object in page.objects {
                if !object.storage_class.is_instantly_readable() {
                    tracing::warn!(
                        key = object.key,
                        "archived object not copied into the snapshot"
                    );
                    continue;
                }
                let Some(meta) = store.head(&object.key).await? else {
                    continue; // deleted since the listing
                };
                let unchanged = parent.and_then(|p| {
                    p.manifest
                        .blobs
                        .iter()
                        .find(|b| b.key == meta.key && b.etag == meta.etag && b.size == meta.size)
                });
                if let Some(previous) = unchanged {
                    entries.push(previous.clone());
                    continue;
                }
                let role = StreamRole::Blob(entries.len() as u32);
                let mut upload = SealedUpload::start(
                    vault.blobs.clone(),
                    object_key(id, &role.object()),
                    id,
                    role,
                    cipher,
                    settings.stream,
                    PutOptions::default(),
                )?;
                let mut body = store.get(&meta.key).await?.body;
                while let Some(chunk) = body.next().await {
                    upload.write(&chunk?, 0).await?;
                }
                entries.push(BlobEntry {
                    key: meta.key,
                    size: meta.size,
                    etag: meta.etag,
                    stored_in: id.clone(),
                    stream: upload.finish().await?,
                });
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
    }
    Ok(entries)
}
