//! Reading a snapshot back: every object it stores is fetched, opened,
//! inflated and checked against the manifest (sizes, SHA-256 of the object
//! and of its content, record counts), and every item line is parsed.

use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use strata_domain::backup::{SnapshotId, SnapshotKind};

use crate::error::SnapshotError;
use crate::manifest::{MANIFEST, Manifest, StreamEntry, VERIFIED, VerifiedMarker, object_key};
use crate::records::{Framing, decode_line};
use crate::stream::SealedReader;
use crate::vault::{OpenSnapshot, Vault};

/// Streams read at once while verifying.
const VERIFY_CONCURRENCY: usize = 4;

/// Verifies one snapshot (its ancestors' manifests are checked, their
/// objects were verified when they were taken) and returns the marker that
/// `mark_verified` stores.
pub async fn verify_snapshot(
    vault: &Vault,
    id: &SnapshotId,
) -> Result<VerifiedMarker, SnapshotError> {
    let snapshot = vault.open(id).await?;
    if let Some(parent) = &snapshot.manifest.parent {
        vault.open(parent).await.map_err(|error| match error {
            SnapshotError::NotFound(missing) => SnapshotError::Unrestorable {
                snapshot: id.clone(),
                reason: format!("its parent {missing} is missing"),
            },
            other => other,
        })?;
    }
    check_consistency(&snapshot.manifest)?;
    let streams: Vec<(&StreamEntry, Framing)> = snapshot
        .manifest
        .table
        .segment_entries
        .iter()
        .flat_map(|s| {
            [
                (&s.items, Framing::Lines),
                (&s.index, Framing::IndexEntries),
            ]
        })
        .chain(
            snapshot
                .manifest
                .blobs
                .iter()
                .filter(|b| &b.stored_in == id)
                .map(|b| (&b.stream, Framing::Raw)),
        )
        .collect();
    let records: Vec<u64> = stream::iter(streams.iter().copied())
        .map(|(entry, framing)| read_stream(vault, &snapshot, entry, framing))
        .buffer_unordered(VERIFY_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(VerifiedMarker {
        snapshot: id.clone(),
        verified_at: Utc::now(),
        streams: streams.len() as u64,
        records: records.iter().sum(),
        object_bytes: snapshot.manifest.stored_bytes(),
    })
}

/// Records that the snapshot was verified; retention builds on it.
pub async fn mark_verified(vault: &Vault, marker: &VerifiedMarker) -> Result<(), SnapshotError> {
    let json =
        serde_json::to_vec_pretty(marker).map_err(|e| SnapshotError::Encode(e.to_string()))?;
    vault.put_json(&marker.snapshot, VERIFIED, json, None).await
}

async fn read_stream(
    vault: &Vault,
    snapshot: &OpenSnapshot,
    entry: &StreamEntry,
    framing: Framing,
) -> Result<u64, SnapshotError> {
    let id = &snapshot.manifest.id;
    let mut reader = SealedReader::open(
        vault.blobs.as_ref(),
        &object_key(id, &entry.object),
        id,
        entry,
        &snapshot.cipher,
        framing,
    )
    .await?;
    while let Some(block) = reader.next_block().await? {
        if framing == Framing::Lines {
            for line in block.split_inclusive(|&b| b == b'\n') {
                decode_line(line).map_err(|e| {
                    SnapshotError::corrupt(id, &entry.object, format!("an unreadable item: {e}"))
                })?;
            }
        }
    }
    Ok(entry.records)
}

/// The manifest agrees with itself: one entry per segment, and the item
/// count is the sum of the indexes.
fn check_consistency(manifest: &Manifest) -> Result<(), SnapshotError> {
    let table = &manifest.table;
    let complete = table.segment_entries.len() == table.segments as usize
        && table
            .segment_entries
            .iter()
            .enumerate()
            .all(|(i, s)| s.segment as usize == i);
    let counted: u64 = table.segment_entries.iter().map(|s| s.index.records).sum();
    // A full snapshot stores every item it indexes.
    let full_is_whole = manifest.kind != SnapshotKind::Full
        || table
            .segment_entries
            .iter()
            .all(|s| s.items.records == s.index.records);
    if !complete || counted != table.items || !full_is_whole {
        return Err(SnapshotError::corrupt(
            &manifest.id,
            MANIFEST,
            "its segments do not add up to the table it describes",
        ));
    }
    Ok(())
}
