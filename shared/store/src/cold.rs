//! The cold tier's format and reads. Records leave the table in packs: gzip
//! JSON Lines objects (one item per line, plain JSON, so Athena reads them
//! with the Glue table in the template), lines ordered by customer partition
//! and sort key. A customer's share of an object is listed by pointer items
//! in the customer's partition, at most 99 records each (a pointer and its
//! records' deletes fit one 100-operation transaction), with the share's
//! SHA-256 and activity totals, so reads and summaries need the table first
//! and the object only for the records themselves.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strata_domain::activity::ActivitySummary;
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::{self, BlobError, BlobStore, RestoreState, RestoreTier};
use strata_domain::ports::table::{Item, Key, MAX_TRANSACT_ITEMS, PK, SK};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

/// Records listed by one pointer: with the pointer's own put they make one
/// transaction.
pub const RECORDS_PER_POINTER: usize = MAX_TRANSACT_ITEMS - 1;

/// Where a customer's share (or a chunk of it) of a cold object is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdPointer {
    pub customer_id: CustomerId,
    /// The object's blob key.
    pub object: String,
    pub object_id: String,
    pub chunk: u32,
    /// The records' sort keys, in order.
    pub sort_keys: Vec<String>,
    /// SHA-256 of the records' lines, each ended by `\n`.
    pub sha256: String,
    /// Totals of these records, so a summary needs no object read.
    pub summary: ActivitySummary,
}

impl ColdPointer {
    pub fn key(&self) -> Key {
        keys::cold_pointer(self.customer_id, &self.object_id, self.chunk)
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        codec::encode(RecordKind::ColdPointer, &self.key(), self, &[])
    }

    pub fn of(item: &Item) -> Result<ColdPointer, StoreError> {
        codec::decode(RecordKind::ColdPointer, item)
    }
}

/// One record on its way to or from a cold object.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdLine {
    pub item: Item,
    /// The item as one line of JSON, without the line end.
    pub line: String,
}

impl ColdLine {
    /// The line for an item, or `None` if the item would not come back
    /// exactly (binary attributes, numbers JSON cannot hold): such a
    /// record stays hot.
    pub fn of(item: Item) -> Result<Option<ColdLine>, StoreError> {
        let Ok(json) = codec::item_to_json(&item) else {
            return Ok(None);
        };
        let line = serde_json::to_string(&json).map_err(|e| StoreError::Encode(e.to_string()))?;
        let back = parse_line(&line)?;
        Ok((back == item).then_some(ColdLine { item, line }))
    }

    pub fn key(&self) -> Option<Key> {
        Key::of(&self.item)
    }
}

fn parse_line(line: &str) -> Result<Item, StoreError> {
    let json = serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
        key: None,
        reason: format!("a cold line is not JSON: {e}"),
    })?;
    codec::item_from_json(json)
}

/// A customer's records in one object, in sort-key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub customer: CustomerId,
    pub lines: Vec<ColdLine>,
}

impl Share {
    /// The pointers listing this share, chunk by chunk.
    pub fn pointers(&self, object: &str, object_id: &str) -> Result<Vec<ColdPointer>, StoreError> {
        self.lines
            .chunks(RECORDS_PER_POINTER)
            .enumerate()
            .map(|(chunk, lines)| {
                Ok(ColdPointer {
                    customer_id: self.customer,
                    object: object.to_owned(),
                    object_id: object_id.to_owned(),
                    chunk: u32::try_from(chunk).unwrap_or(u32::MAX),
                    sort_keys: lines.iter().filter_map(|l| l.key().map(|k| k.sk)).collect(),
                    sha256: lines_sha256(lines),
                    summary: summarise(lines.iter().map(|l| &l.item))?,
                })
            })
            .collect()
    }
}

/// Activity totals of a set of stored records (other kinds are ignored).
pub fn summarise<'a>(items: impl Iterator<Item = &'a Item>) -> Result<ActivitySummary, StoreError> {
    let (mut orders, mut interactions, mut reviews) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        match RecordKind::of(item) {
            Some(RecordKind::Order) => orders.push(codec::decode(RecordKind::Order, item)?),
            Some(RecordKind::Interaction) => {
                interactions.push(codec::decode(RecordKind::Interaction, item)?)
            }
            Some(RecordKind::Review) => reviews.push(codec::decode(RecordKind::Review, item)?),
            _ => {}
        }
    }
    Ok(ActivitySummary::of(&orders, &interactions, &reviews))
}

fn lines_sha256(lines: &[ColdLine]) -> String {
    let mut hash = Sha256::new();
    for line in lines {
        hash.update(line.line.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

/// Collects customers' cold records of one period until the pack is big
/// enough to be one object.
#[derive(Debug, Clone)]
pub struct PackBuilder {
    period: String,
    shares: Vec<Share>,
    raw_bytes: usize,
    records: usize,
}

impl PackBuilder {
    pub fn new(period: impl Into<String>) -> Self {
        PackBuilder {
            period: period.into(),
            shares: Vec::new(),
            raw_bytes: 0,
            records: 0,
        }
    }

    pub fn period(&self) -> &str {
        &self.period
    }

    /// Adds a customer's records of this period; a customer is never split
    /// between packs of one run.
    pub fn add(&mut self, share: Share) {
        self.raw_bytes += share.lines.iter().map(|l| l.line.len() + 1).sum::<usize>();
        self.records += share.lines.len();
        self.shares.push(share);
    }

    /// Takes in another pack of the same period.
    pub fn absorb(&mut self, other: PackBuilder) {
        for share in other.shares {
            self.add(share);
        }
    }

    /// Bytes of JSON Lines before compression.
    pub fn raw_bytes(&self) -> usize {
        self.raw_bytes
    }

    pub fn records(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    pub fn shares(&self) -> &[Share] {
        &self.shares
    }

    /// The object: lines ordered by customer partition, then sort key.
    pub fn seal(mut self, object_id: &str) -> Result<SealedPack, StoreError> {
        self.shares
            .sort_by_key(|s| keys::customer_partition(s.customer));
        let mut content = Vec::with_capacity(self.raw_bytes);
        for share in &mut self.shares {
            share
                .lines
                .sort_by(|a, b| a.key().map(|k| k.sk).cmp(&b.key().map(|k| k.sk)));
            for line in &share.lines {
                content.extend_from_slice(line.line.as_bytes());
                content.push(b'\n');
            }
        }
        let sha256 = hex::encode(Sha256::digest(&content));
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(&content)
            .and_then(|()| gzip.flush())
            .map_err(|e| StoreError::Encode(format!("compressing a cold object: {e}")))?;
        let body = gzip
            .finish()
            .map_err(|e| StoreError::Encode(format!("compressing a cold object: {e}")))?;
        Ok(SealedPack {
            key: keys::cold_object(&self.period, object_id),
            object_id: object_id.to_owned(),
            body,
            records: self.records as u64,
            raw_bytes: content.len() as u64,
            sha256,
        })
    }
}

/// A pack ready to be written.
#[derive(Debug, Clone)]
pub struct SealedPack {
    pub key: String,
    pub object_id: String,
    /// The gzip bytes.
    pub body: Vec<u8>,
    pub records: u64,
    pub raw_bytes: u64,
    /// SHA-256 of the uncompressed content.
    pub sha256: String,
}

/// A cold object read back and parsed.
#[derive(Debug, Clone)]
pub struct ObjectContent {
    pub records: u64,
    pub sha256: String,
    /// Decompressed size: what the object costs in a cache.
    pub raw_bytes: u64,
    /// By customer, ascending.
    pub shares: Vec<Share>,
}

impl ObjectContent {
    pub fn parse(gzip: &[u8]) -> Result<ObjectContent, StoreError> {
        let mut content = Vec::new();
        MultiGzDecoder::new(gzip)
            .read_to_end(&mut content)
            .map_err(|e| StoreError::Corrupt {
                key: None,
                reason: format!("a cold object does not decompress: {e}"),
            })?;
        let sha256 = hex::encode(Sha256::digest(&content));
        let raw_bytes = content.len() as u64;
        let text = String::from_utf8(content).map_err(|e| StoreError::Corrupt {
            key: None,
            reason: format!("a cold object is not UTF-8: {e}"),
        })?;
        let mut shares: BTreeMap<CustomerId, Vec<ColdLine>> = BTreeMap::new();
        let mut records = 0;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let item = parse_line(line)?;
            let customer = item
                .get(PK)
                .and_then(|v| v.as_str())
                .and_then(keys::customer_of_partition)
                .ok_or_else(|| StoreError::Corrupt {
                    key: Key::of(&item),
                    reason: "a cold line outside a customer partition".into(),
                })?;
            records += 1;
            shares.entry(customer).or_default().push(ColdLine {
                item,
                line: line.to_owned(),
            });
        }
        Ok(ObjectContent {
            records,
            sha256,
            raw_bytes,
            shares: shares
                .into_iter()
                .map(|(customer, lines)| Share { customer, lines })
                .collect(),
        })
    }

    /// The records a pointer lists, checked against its count and checksum.
    pub fn records_of(&self, pointer: &ColdPointer) -> Result<Vec<Item>, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt {
            key: Some(pointer.key()),
            reason: format!("{reason} in `{}`", pointer.object),
        };
        let share = self
            .shares
            .binary_search_by_key(&pointer.customer_id, |s| s.customer)
            .map(|at| &self.shares[at])
            .map_err(|_| corrupt("the customer's records are missing"))?;
        let wanted: HashSet<&str> = pointer.sort_keys.iter().map(String::as_str).collect();
        let lines: Vec<ColdLine> = share
            .lines
            .iter()
            .filter(|l| {
                l.item
                    .get(SK)
                    .and_then(|v| v.as_str())
                    .is_some_and(|sk| wanted.contains(sk))
            })
            .cloned()
            .collect();
        if lines.len() != pointer.sort_keys.len() || lines_sha256(&lines) != pointer.sha256 {
            return Err(corrupt("the records do not match their pointer"));
        }
        Ok(lines.into_iter().map(|l| l.item).collect())
    }
}

/// What reading a cold object gave.
#[derive(Debug, Clone)]
pub enum Fetched {
    Content(Arc<ObjectContent>),
    /// The object is archived; a restore runs and should be done by then.
    Restoring {
        ready_by: DateTime<Utc>,
    },
}

/// Object cache budgets (decompressed bytes): a scheduled job reading every
/// customer, and an API function reading one history at a time in a warm
/// container.
pub const JOB_CACHE_BYTES: u64 = 256 * 1024 * 1024;
pub const API_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The cold tier's object store, with how archived objects are restored.
#[derive(Clone)]
pub struct ColdTier {
    blobs: Arc<dyn BlobStore>,
    restore_days: u32,
    restore_tier: RestoreTier,
    cache: Option<Arc<Mutex<ObjectCache>>>,
}

impl ColdTier {
    /// Restores keep a readable copy 7 days, at the standard tier.
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        ColdTier {
            blobs,
            restore_days: 7,
            restore_tier: RestoreTier::Standard,
            cache: None,
        }
    }

    /// Keeps recently read objects, up to `max_raw_bytes` decompressed, so
    /// a job reading many customers of one object fetches it once. Objects
    /// never change once written (a key is used once), so a copy is never
    /// stale; a customer erased meanwhile has no pointers left to read by.
    pub fn with_cache(mut self, max_raw_bytes: u64) -> Self {
        self.cache = Some(Arc::new(Mutex::new(ObjectCache::new(max_raw_bytes))));
        self
    }

    pub fn with_restore(mut self, days: u32, tier: RestoreTier) -> Self {
        self.restore_days = days.max(1);
        self.restore_tier = tier;
        self
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Reads an object if it is readable now; `None` for one in an archive
    /// class. Asks for no restore: a batch job must not thaw the archive.
    pub async fn read_if_online(
        &self,
        key: &str,
    ) -> Result<Option<Arc<ObjectContent>>, StoreError> {
        match self.read(key).await {
            Ok(content) => Ok(Some(content)),
            Err(StoreError::Blob(BlobError::Archived { .. })) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Reads an object; an archived one gets a restore asked for instead.
    pub async fn fetch(&self, key: &str) -> Result<Fetched, StoreError> {
        let class = match self.read(key).await {
            Ok(content) => return Ok(Fetched::Content(content)),
            Err(StoreError::Blob(BlobError::Archived { storage_class, .. })) => storage_class,
            Err(other) => return Err(other),
        };
        let state = self
            .blobs
            .restore(key, self.restore_days, self.restore_tier)
            .await?;
        match state {
            RestoreState::Ready => Ok(Fetched::Content(self.read(key).await?)),
            RestoreState::Started | RestoreState::InProgress => {
                tracing::info!(
                    key,
                    ?state,
                    class = class.s3_name(),
                    "cold object restoring"
                );
                Ok(Fetched::Restoring {
                    ready_by: Utc::now() + self.restore_tier.expected_within(class),
                })
            }
        }
    }

    async fn read(&self, key: &str) -> Result<Arc<ObjectContent>, StoreError> {
        if let Some(cached) = self.cached(key) {
            return Ok(cached);
        }
        let object = self.blobs.get(key).await?;
        let bytes = blob::collect(object.body).await?;
        let content = ObjectContent::parse(&bytes).map_err(|error| match error {
            StoreError::Corrupt { key: k, reason } => StoreError::Corrupt {
                key: k,
                reason: format!("{reason} (object `{key}`)"),
            },
            other => other,
        })?;
        let content = Arc::new(content);
        if let Some(cache) = &self.cache {
            // A poisoned lock only means another reader panicked; the cache
            // holds whole entries or none, so it is still consistent.
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.insert(key, content.clone());
        }
        Ok(content)
    }

    fn cached(&self, key: &str) -> Option<Arc<ObjectContent>> {
        let cache = self.cache.as_ref()?;
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(key)
    }
}

/// Parsed objects, least recently used evicted first once over budget.
struct ObjectCache {
    max_raw_bytes: u64,
    raw_bytes: u64,
    tick: u64,
    entries: std::collections::HashMap<String, (Arc<ObjectContent>, u64)>,
}

impl ObjectCache {
    fn new(max_raw_bytes: u64) -> Self {
        ObjectCache {
            max_raw_bytes,
            raw_bytes: 0,
            tick: 0,
            entries: std::collections::HashMap::new(),
        }
    }

    fn get(&mut self, key: &str) -> Option<Arc<ObjectContent>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(content, used)| {
            *used = tick;
            content.clone()
        })
    }

    fn insert(&mut self, key: &str, content: Arc<ObjectContent>) {
        if content.raw_bytes > self.max_raw_bytes || self.entries.contains_key(key) {
            return;
        }
        while self.raw_bytes + content.raw_bytes > self.max_raw_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.raw_bytes -= evicted.raw_bytes;
            }
        }
        self.tick += 1;
        self.raw_bytes += content.raw_bytes;
        self.entries.insert(key.to_owned(), (content, self.tick));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::ports::table::Value;

    fn record(customer: CustomerId, sk: &str) -> Item {
        Item::from([
            (PK.to_owned(), Value::S(keys::customer_partition(customer))),
            (SK.to_owned(), Value::S(sk.to_owned())),
            ("record_kind".to_owned(), Value::S("merge".into())),
            ("n".to_owned(), Value::number(12.5)),
            ("text".to_owned(), Value::S("米 🐛 \"q\"\nx".into())),
        ])
    }

    #[test]
    fn a_pack_reads_back_share_by_share() {
        let (a, b) = (CustomerId::generate(), CustomerId::generate());
        let mut pack = PackBuilder::new("2026-01");
        let share = |c, n: usize| Share {
            customer: c,
            lines: (0..n)
                .rev()
                .map(|i| {
                    ColdLine::of(record(c, &format!("X#{i:04}")))
                        .unwrap()
                        .unwrap()
                })
                .collect(),
        };
        pack.add(share(a, 150));
        pack.add(share(b, 3));
        let sealed = pack.seal("run-1-s0-0").unwrap();
        assert_eq!(
            sealed.key,
            "cold/activity/period=2026-01/run-1-s0-0.jsonl.gz"
        );
        let content = ObjectContent::parse(&sealed.body).unwrap();
        assert_eq!((content.records, &content.sha256), (153, &sealed.sha256));
        let share_a = content.shares.iter().find(|s| s.customer == a).unwrap();
        let pointers = share_a.pointers(&sealed.key, &sealed.object_id).unwrap();
        assert_eq!(
            pointers
                .iter()
                .map(|p| p.sort_keys.len())
                .collect::<Vec<_>>(),
            [99, 51]
        );
        let back = content.records_of(&pointers[1]).unwrap();
        assert_eq!(back[0], record(a, "X#0099"));
        let mut forged = pointers[0].clone();
        forged.sha256 = "0".repeat(64);
        assert!(content.records_of(&forged).is_err());
    }

    #[test]
    fn the_object_cache_keeps_the_recently_used_within_its_budget() {
        let object = |raw_bytes| {
            Arc::new(ObjectContent {
                records: 1,
                sha256: String::new(),
                raw_bytes,
                shares: Vec::new(),
            })
        };
        let mut cache = ObjectCache::new(100);
        cache.insert("a", object(40));
        cache.insert("b", object(40));
        assert!(cache.get("a").is_some()); // `b` is now the least recent
        cache.insert("c", object(40));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.raw_bytes, 80);
        cache.insert("huge", object(101));
        assert!(cache.get("huge").is_none(), "larger than the whole budget");
        assert_eq!(cache.raw_bytes, 80);
    }

    #[test]
    fn items_that_would_not_come_back_stay_hot() {
        let mut item = record(CustomerId::generate(), "X#1");
        item.insert("blob".into(), Value::B(vec![1, 2]));
        assert!(ColdLine::of(item).unwrap().is_none());
    }
}
