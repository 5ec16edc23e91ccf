//! A vault: an object store holding snapshots, with the key service their
//! data keys are wrapped under. The snapshot bucket is one vault, the locked
//! archive another.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use strata_domain::backup::{SnapshotId, SnapshotInfo, SnapshotKind, SnapshotState};
use strata_domain::ports::blob::{
    BlobError, BlobStore, ObjectSummary, PutOptions, Retention, body_from, collect,
};
use strata_domain::ports::keys::{DataKey, KeyService};

use crate::error::SnapshotError;
use crate::manifest::{
    MANIFEST, Manifest, SNAPSHOTS_PREFIX, VERIFIED, encryption_context, object_key,
};
use crate::seal::StreamCipher;

#[derive(Clone)]
pub struct Vault {
    pub blobs: Arc<dyn BlobStore>,
    pub keys: Arc<dyn KeyService>,
}

/// A snapshot ready to read: its manifest, checked, and its cipher.
#[derive(Clone)]
pub struct OpenSnapshot {
    pub manifest: Manifest,
    pub key: DataKey,
    pub cipher: StreamCipher,
}

/// What a vault holds of one snapshot.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub id: SnapshotId,
    /// The manifest, read and parsed. Absent while the snapshot is being
    /// written, if its run failed, or if it sits in an archive storage class
    /// (then `archived` says what it is).
    pub manifest: Option<Manifest>,
    /// Set when the manifest exists but is in an archive storage class (the
    /// archive bucket's Deep Archive lifecycle) and cannot be read until it
    /// is thawed: its labels, which a HEAD request still returns.
    pub archived: Option<ManifestLabels>,
    /// Its verified marker exists (written only after a read-back).
    pub verified: bool,
    pub objects: Vec<ObjectSummary>,
}

/// What retention needs of a snapshot, kept as the manifest object's user
/// metadata, so it stays known while the manifest itself is archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestLabels {
    pub kind: SnapshotKind,
    pub parent: Option<SnapshotId>,
}

const KIND_LABEL: &str = "snapshot-kind";
const PARENT_LABEL: &str = "snapshot-parent";

impl ManifestLabels {
    fn of(manifest: &Manifest) -> ManifestLabels {
        ManifestLabels {
            kind: manifest.kind,
            parent: manifest.parent.clone(),
        }
    }

    fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut metadata = BTreeMap::from([(KIND_LABEL.to_owned(), self.kind.name().to_owned())]);
        if let Some(parent) = &self.parent {
            metadata.insert(PARENT_LABEL.to_owned(), parent.as_str().to_owned());
        }
        metadata
    }

    fn from_metadata(metadata: &BTreeMap<String, String>) -> Option<ManifestLabels> {
        let kind = match metadata.get(KIND_LABEL)?.as_str() {
            "full" => SnapshotKind::Full,
            "incremental" => SnapshotKind::Incremental,
            _ => return None,
        };
        let parent = match metadata.get(PARENT_LABEL) {
            Some(raw) => Some(SnapshotId::parse(raw).ok()?),
            None => None,
        };
        (parent.is_some() == (kind == SnapshotKind::Incremental))
            .then_some(ManifestLabels { kind, parent })
    }
}

impl CatalogEntry {
    /// Whether its manifest exists, readable or archived.
    pub fn has_manifest(&self) -> bool {
        self.manifest.is_some() || self.archived.is_some()
    }

    pub fn info(&self) -> SnapshotInfo {
        let taken_at = self
            .manifest
            .as_ref()
            .map(|m| m.taken_at)
            .or_else(|| self.id.taken_at())
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let labels = self
            .manifest
            .as_ref()
            .map(ManifestLabels::of)
            .or_else(|| self.archived.clone());
        SnapshotInfo {
            id: self.id.clone(),
            taken_at,
            kind: labels.as_ref().map_or(SnapshotKind::Full, |l| l.kind),
            parent: labels.as_ref().and_then(|l| l.parent.clone()),
            state: match (labels, self.verified) {
                (Some(_), true) => SnapshotState::Verified,
                (Some(_), false) => SnapshotState::Unverified,
                (None, _) => SnapshotState::Incomplete,
            },
        }
    }

    pub fn stored_bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }
}

impl Vault {
    pub fn new(blobs: Arc<dyn BlobStore>, keys: Arc<dyn KeyService>) -> Self {
        Vault { blobs, keys }
    }

    /// Every snapshot in the vault, oldest first. A manifest that cannot be
    /// parsed counts as missing: such a snapshot cannot be used. One in an
    /// archive storage class is known by its labels.
    pub async fn catalog(&self) -> Result<Vec<CatalogEntry>, SnapshotError> {
        let mut by_id: BTreeMap<SnapshotId, Vec<ObjectSummary>> = BTreeMap::new();
        let mut continuation = None;
        loop {
            let page = self
                .blobs
                .list(SNAPSHOTS_PREFIX, continuation, 1000)
                .await?;
            for object in page.objects {
                let Some(id) = object
                    .key
                    .strip_prefix(SNAPSHOTS_PREFIX)
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|raw| SnapshotId::parse(raw).ok())
                else {
                    tracing::warn!(key = object.key, "not a snapshot object; ignored");
                    continue;
                };
                by_id.entry(id).or_default().push(object);
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        let mut entries = Vec::with_capacity(by_id.len());
        for (id, objects) in by_id {
            let named = |name: &str| {
                let key = object_key(&id, name);
                objects.iter().any(|o| o.key == key)
            };
            let (manifest, archived) = if named(MANIFEST) {
                match self.manifest(&id).await {
                    Ok(manifest) => (Some(manifest), None),
                    Err(SnapshotError::Blob(BlobError::Archived { .. })) => {
                        (None, self.archived_labels(&id).await?)
                    }
                    Err(error) if !error.is_retryable() => {
                        tracing::warn!(snapshot = %id, %error, "unreadable manifest");
                        (None, None)
                    }
                    Err(error) => return Err(error),
                }
            } else {
                (None, None)
            };
            entries.push(CatalogEntry {
                verified: named(VERIFIED),
                id,
                manifest,
                archived,
                objects,
            });
        }
        Ok(entries)
    }

    /// The labels of a manifest that cannot be read now (archived); `None`
    /// if they are missing or malformed, which makes the snapshot unusable.
    async fn archived_labels(
        &self,
        id: &SnapshotId,
    ) -> Result<Option<ManifestLabels>, SnapshotError> {
        let head = self.blobs.head(&object_key(id, MANIFEST)).await?;
        let labels = head.and_then(|meta| ManifestLabels::from_metadata(&meta.metadata));
        if labels.is_none() {
            tracing::warn!(snapshot = %id, "archived manifest without its labels");
        }
        Ok(labels)
    }

    /// A snapshot's manifest as stored, its tag not yet checked.
    pub async fn manifest(&self, id: &SnapshotId) -> Result<Manifest, SnapshotError> {
        let bytes = match self.blobs.get(&object_key(id, MANIFEST)).await {
            Ok(object) => collect(object.body).await?,
            Err(BlobError::NotFound(_)) => return Err(SnapshotError::NotFound(id.clone())),
            Err(other) => return Err(other.into()),
        };
        Manifest::from_json(id, &bytes)
    }

    /// Unwraps the snapshot's data key and checks its manifest's tag.
    pub async fn open(&self, id: &SnapshotId) -> Result<OpenSnapshot, SnapshotError> {
        let manifest = self.manifest(id).await?;
        let wrapped = manifest.encryption.wrapped()?;
        let key = self
            .keys
            .decrypt_data_key(&wrapped, &encryption_context(id))
            .await?;
        let cipher = StreamCipher::new(&key, id);
        manifest.check(&cipher)?;
        Ok(OpenSnapshot {
            manifest,
            key,
            cipher,
        })
    }

    /// The snapshot and its ancestors, the full one first, each checked.
    pub async fn open_chain(&self, id: &SnapshotId) -> Result<Vec<OpenSnapshot>, SnapshotError> {
        let mut chain = vec![self.open(id).await?];
        while let Some(parent) = chain.last().and_then(|s| s.manifest.parent.clone()) {
            if chain.iter().any(|s| s.manifest.id == parent) || chain.len() > 1000 {
                return Err(SnapshotError::Unrestorable {
                    snapshot: id.clone(),
                    reason: "its chain of parents loops".into(),
                });
            }
            let opened = match self.open(&parent).await {
                Ok(opened) => opened,
                Err(SnapshotError::NotFound(missing)) => {
                    return Err(SnapshotError::Unrestorable {
                        snapshot: id.clone(),
                        reason: format!("its ancestor {missing} is missing"),
                    });
                }
                Err(other) => return Err(other),
            };
            chain.push(opened);
        }
        chain.reverse();
        let base = &chain[0].manifest;
        if base.kind != SnapshotKind::Full {
            return Err(SnapshotError::Unrestorable {
                snapshot: id.clone(),
                reason: format!("its oldest ancestor {} is not a full snapshot", base.id),
            });
        }
        if let Some(odd) = chain
            .iter()
            .find(|s| s.manifest.table.segments != base.table.segments)
        {
            return Err(SnapshotError::Unrestorable {
                snapshot: id.clone(),
                reason: format!(
                    "{} was cut into {} segments, its chain into {}",
                    odd.manifest.id, odd.manifest.table.segments, base.table.segments
                ),
            });
        }
        Ok(chain)
    }

    /// Deletes a snapshot: marker and manifest first, so a deletion that
    /// stops halfway leaves an incomplete snapshot, never one that looks
    /// whole but lacks data. Stops at the first object the store refuses
    /// (a lock), returning that refusal.
    pub async fn delete_snapshot(&self, entry: &CatalogEntry) -> Result<(), SnapshotError> {
        let first = [
            object_key(&entry.id, VERIFIED),
            object_key(&entry.id, MANIFEST),
        ];
        for key in &first {
            if entry.objects.iter().any(|o| &o.key == key) {
                self.blobs.delete(key).await?;
            }
        }
        for object in entry.objects.iter().filter(|o| !first.contains(&o.key)) {
            self.blobs.delete(&object.key).await?;
        }
        Ok(())
    }

    /// Writes a manifest, labelled with what retention needs of it.
    pub(crate) async fn put_manifest(
        &self,
        manifest: &Manifest,
        retention: Option<Retention>,
    ) -> Result<(), SnapshotError> {
        let metadata = ManifestLabels::of(manifest).to_metadata();
        self.put_object(
            &manifest.id,
            MANIFEST,
            manifest.to_json()?,
            retention,
            metadata,
        )
        .await
    }

    pub(crate) async fn put_json(
        &self,
        id: &SnapshotId,
        name: &str,
        json: Vec<u8>,
        retention: Option<Retention>,
    ) -> Result<(), SnapshotError> {
        self.put_object(id, name, json, retention, BTreeMap::new())
            .await
    }

    async fn put_object(
        &self,
        id: &SnapshotId,
        name: &str,
        json: Vec<u8>,
        retention: Option<Retention>,
        metadata: BTreeMap<String, String>,
    ) -> Result<(), SnapshotError> {
        let options = PutOptions {
            content_type: Some("application/json".into()),
            retention,
            metadata,
            ..PutOptions::default()
        };
        self.blobs
            .put(&object_key(id, name), body_from(json), options)
            .await?;
        Ok(())
    }
}
