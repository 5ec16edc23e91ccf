//! Restoring a snapshot into an empty table (and object store): verify
//! everything first, write only then, and check the target afterwards.
//!
//! 1. Verify: the whole chain is read, opened and checked against its
//!    manifests, and the final state is worked out, without writing
//!    anything. A damaged, truncated or incomplete snapshot is refused here,
//!    so a target is never left half-restored by bad data.
//! 2. Write: the same pass again, this time writing the items through the
//!    batch writer. Items of customers erased since (the erasure ledger) are
//!    withheld.
//! 3. Check: the target is scanned and its items compared with what was
//!    written, by count and by an order-independent digest of every item.
//!
//! For an incremental snapshot, the final state of each segment is the
//! newest index: an item is restored from the first snapshot of the chain
//! holding it in exactly that version. Deleted items are in no index and are
//! never written, so a restore never writes and then deletes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use strata_domain::backup::SnapshotId;
use strata_domain::ports::blob::{BlobError, BlobStore, ByteStream, PutOptions};
use strata_domain::ports::table::{Key, Table, WriteRequest};
use strata_store::{BatchPolicy, ErasedCustomers, write_all};

use crate::backup::read_index;
use crate::error::SnapshotError;
use crate::manifest::{BlobEntry, object_key};
use crate::records::{
    ContentHash, Framing, KeyHash, SetDigest, content_hash, decode_line, encode_line, key_hash,
};
use crate::stream::SealedReader;
use crate::vault::{OpenSnapshot, Vault};

#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Restore into a table that already holds items (they are overwritten
    /// where keys match, kept otherwise, and the target cannot be checked).
    pub allow_non_empty: bool,
    /// Segments in flight at once.
    pub concurrency: usize,
    pub batch: BatchPolicy,
    /// Items handed to the batch writer at once.
    pub write_chunk: usize,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            allow_non_empty: false,
            concurrency: 4,
            batch: BatchPolicy::default(),
            write_chunk: 1000,
        }
    }
}

/// Where a snapshot is restored to.
#[derive(Clone)]
pub struct RestoreTarget {
    pub table: Arc<dyn Table>,
    /// Backed-up objects are restored here, when given.
    pub blobs: Option<Arc<dyn BlobStore>>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReport {
    pub snapshot: SnapshotId,
    /// The snapshots read, the full one first.
    pub chain: Vec<SnapshotId>,
    pub items_in_snapshot: u64,
    pub items_restored: u64,
    /// Items of customers erased after the snapshot was taken.
    pub items_withheld: u64,
    pub erased_customers: usize,
    pub objects_restored: usize,
    /// Whether the target was scanned and found to hold exactly what was restored.
    pub target_checked: bool,
    pub verify_seconds: f64,
    pub write_seconds: f64,
    pub check_seconds: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    restored: SetDigest,
    withheld: u64,
}

impl Totals {
    fn merge(mut self, other: Totals) -> Totals {
        self.restored.merge(other.restored);
        self.withheld += other.withheld;
        self
    }
}

pub async fn restore_snapshot(
    vault: &Vault,
    id: &SnapshotId,
    target: &RestoreTarget,
    erased: &ErasedCustomers,
    options: &RestoreOptions,
) -> Result<RestoreReport, SnapshotError> {
    let chain = vault.open_chain(id).await?;
    let newest = &chain[chain.len() - 1].manifest;
    let blobs = blob_sources(&chain)?;
    let empty = target
        .table
        .scan(0, 1, None, Some(1))
        .await?
        .items
        .is_empty();
    if !empty && !options.allow_non_empty {
        return Err(SnapshotError::TargetNotEmpty);
    }

    let started = Instant::now();
    let replay = Replay {
        vault,
        chain: &chain,
        erased,
        options,
    };
    let expected = replay.all(None).await?;
    for (entry, source) in &blobs {
        replay.blob(entry, source, None).await?;
    }
    let verify_seconds = started.elapsed().as_secs_f64();
    tracing::info!(snapshot = %id, items = expected.restored.count, withheld = expected.withheld, "snapshot verified; restoring");

    let started = Instant::now();
    let written = replay.all(Some(target.table.as_ref())).await?;
    if written != expected {
        return Err(SnapshotError::TargetMismatch {
            snapshot: id.clone(),
            reason: "the snapshot read differently the second time; discard the target".into(),
        });
    }
    let mut objects_restored = 0;
    if let Some(store) = &target.blobs {
        for (entry, source) in &blobs {
            replay.blob(entry, source, Some(store)).await?;
            objects_restored += 1;
        }
    }
    let write_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    if empty {
        let found = table_digest(target.table.as_ref(), newest.table.segments, options).await?;
        if found != written.restored {
            return Err(SnapshotError::TargetMismatch {
                snapshot: id.clone(),
                reason: format!(
                    "it holds {} items where {} were restored, or their content differs",
                    found.count, written.restored.count
                ),
            });
        }
    }
    Ok(RestoreReport {
        snapshot: id.clone(),
        chain: chain.iter().map(|s| s.manifest.id.clone()).collect(),
        items_in_snapshot: newest.table.items,
        items_restored: written.restored.count,
        items_withheld: written.withheld,
        erased_customers: erased.len(),
        objects_restored,
        target_checked: empty,
        verify_seconds,
        write_seconds,
        check_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Each backed-up object of the newest snapshot and the snapshot holding its bytes.
fn blob_sources(chain: &[OpenSnapshot]) -> Result<Vec<(BlobEntry, &OpenSnapshot)>, SnapshotError> {
    let newest = &chain[chain.len() - 1].manifest;
    newest
        .blobs
        .iter()
        .map(|entry| {
            chain
                .iter()
                .find(|s| s.manifest.id == entry.stored_in)
                .map(|source| (entry.clone(), source))
                .ok_or_else(|| SnapshotError::Unrestorable {
                    snapshot: newest.id.clone(),
                    reason: format!(
                        "{} is stored in {}, outside its chain",
                        entry.key, entry.stored_in
                    ),
                })
        })
        .collect()
}

struct Replay<'a> {
    vault: &'a Vault,
    chain: &'a [OpenSnapshot],
    erased: &'a ErasedCustomers,
    options: &'a RestoreOptions,
}

impl Replay<'_> {
    /// Replays every segment, writing into `sink` if given.
    async fn all(&self, sink: Option<&dyn Table>) -> Result<Totals, SnapshotError> {
        let segments = self.chain[0].manifest.table.segments;
        stream::iter(0..segments)
            .map(|segment| self.segment(segment, sink))
            .buffer_unordered(self.options.concurrency.max(1))
            .try_fold(
                Totals::default(),
                |all, one| async move { Ok(all.merge(one)) },
            )
            .await
    }

    async fn segment(
        &self,
        segment: u32,
        sink: Option<&dyn Table>,
    ) -> Result<Totals, SnapshotError> {
        let newest = &self.chain[self.chain.len() - 1];
        // A full snapshot's items are its final state; a chain's final state
        // is its newest index.
        let mut wanted: Option<HashMap<KeyHash, ContentHash>> = if self.chain.len() > 1 {
            Some(read_index(self.vault, newest, segment).await?)
        } else {
            None
        };
        let mut totals = Totals::default();
        let mut pending = Vec::new();
        for link in self.chain {
            let id = &link.manifest.id;
            let entry = &link.manifest.segment(segment)?.items;
            let mut reader = SealedReader::open(
                self.vault.blobs.as_ref(),
                &object_key(id, &entry.object),
                id,
                entry,
                &link.cipher,
                Framing::Lines,
            )
            .await?;
            while let Some(block) = reader.next_block().await? {
                for line in block.split_inclusive(|&b| b == b'\n') {
                    let item = decode_line(line).map_err(|e| {
                        SnapshotError::corrupt(
                            id,
                            &entry.object,
                            format!("an unreadable item: {e}"),
                        )
                    })?;
                    let key = Key::of(&item).ok_or_else(|| {
                        SnapshotError::corrupt(id, &entry.object, "an item without its key")
                    })?;
                    let (key, content) = (key_hash(&key), content_hash(line));
                    if let Some(wanted) = wanted.as_mut() {
                        if wanted.get(&key) != Some(&content) {
                            continue; // superseded later in the chain, or deleted
                        }
                        wanted.remove(&key);
                    }
                    if self.erased.withholds(&item) {
                        totals.withheld += 1;
                        continue;
                    }
                    totals.restored.add(&key, &content);
                    if let Some(table) = sink {
                        pending.push(WriteRequest::Put(item));
                        if pending.len() >= self.options.write_chunk {
                            write_all(table, std::mem::take(&mut pending), self.options.batch)
                                .await?;
                        }
                    }
                }
            }
        }
        if let Some(missing) = wanted.filter(|left| !left.is_empty()) {
            return Err(SnapshotError::Unrestorable {
                snapshot: newest.manifest.id.clone(),
                reason: format!(
                    "{} items of segment {segment} are in no snapshot of its chain",
                    missing.len()
                ),
            });
        }
        if let Some(table) = sink
            && !pending.is_empty()
        {
            write_all(table, pending, self.options.batch).await?;
        }
        Ok(totals)
    }

    /// Reads a backed-up object (checking it), writing it to `sink` if given.
    async fn blob(
        &self,
        entry: &BlobEntry,
        source: &OpenSnapshot,
        sink: Option<&Arc<dyn BlobStore>>,
    ) -> Result<(), SnapshotError> {
        let id = &source.manifest.id;
        let mut reader = SealedReader::open(
            self.vault.blobs.as_ref(),
            &object_key(id, &entry.stream.object),
            id,
            &entry.stream,
            &source.cipher,
            Framing::Raw,
        )
        .await?;
        let Some(store) = sink else {
            while reader.next_block().await?.is_some() {}
            return Ok(());
        };
        let (mut sender, receiver) = mpsc::channel::<Result<Bytes, BlobError>>(1);
        let body: ByteStream = Box::pin(receiver);
        let (store, key) = (Arc::clone(store), entry.key.clone());
        let upload =
            tokio::spawn(async move { store.put(&key, body, PutOptions::default()).await });
        let fed = async {
            while let Some(block) = reader.next_block().await? {
                if sender.send(Ok(Bytes::from(block))).await.is_err() {
                    break; // the upload failed; its error is reported below
                }
            }
            Ok::<(), SnapshotError>(())
        };
        if let Err(error) = fed.await {
            // Fail the upload rather than end its body, which would store a
            // partial object.
            let abandoned = BlobError::Unavailable(format!("restoring {} failed", entry.key));
            let _ = sender.send(Err(abandoned)).await;
            drop(sender);
            let _ = upload.await;
            return Err(error);
        }
        drop(sender);
        match upload.await {
            Ok(result) => {
                result?;
                Ok(())
            }
            Err(join) => Err(SnapshotError::Blob(BlobError::Unavailable(format!(
                "restoring {}: {join}",
                entry.key
            )))),
        }
    }
}

/// Count and digest of everything a table holds.
async fn table_digest(
    table: &dyn Table,
    segments: u32,
    options: &RestoreOptions,
) -> Result<SetDigest, SnapshotError> {
    stream::iter(0..segments)
        .map(|segment| async move {
            let mut digest = SetDigest::default();
            let mut start = None;
            loop {
                let page = table.scan(segment, segments, start, None).await?;
                for item in &page.items {
                    let key = Key::of(item)
                        .ok_or_else(|| SnapshotError::Encode("an item without its key".into()))?;
                    let line =
                        encode_line(item).map_err(|e| SnapshotError::Encode(e.to_string()))?;
                    digest.add(&key_hash(&key), &content_hash(&line));
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => return Ok::<_, SnapshotError>(digest),
                }
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .try_fold(SetDigest::default(), |mut all, one| async move {
            all.merge(one);
            Ok(all)
        })
        .await
}
