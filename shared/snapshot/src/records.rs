//! What snapshot streams hold. Item streams: one item per line, as JSON in
//! the shape of DynamoDB's typed attribute values (`{"pk":{"S":"…"}}`).
//! Index streams: one 24-byte entry per item present in a segment, a 128-bit
//! hash of its key and a 64-bit hash of its line, which is all an incremental
//! snapshot needs to tell what changed and what was deleted. (Two keys of a
//! segment sharing a hash are refused when read; a changed item keeping its
//! content hash has a chance of 2^-64.)

use sha2::{Digest, Sha256};
use strata_domain::ports::table::{Item, Key};

pub const INDEX_ENTRY_BYTES: usize = 24;
pub type KeyHash = [u8; 16];
pub type ContentHash = [u8; 8];

/// How a stream's plaintext divides into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Lines,
    IndexEntries,
    /// Object bytes as they are (backed-up objects).
    Raw,
}

impl Framing {
    /// The end of the last whole record in `bytes`.
    pub fn whole_records(self, bytes: &[u8]) -> usize {
        match self {
            Framing::Lines => bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
            Framing::IndexEntries => bytes.len() - bytes.len() % INDEX_ENTRY_BYTES,
            Framing::Raw => bytes.len(),
        }
    }

    pub fn count(self, whole: &[u8]) -> u64 {
        match self {
            Framing::Lines => whole.iter().filter(|&&b| b == b'\n').count() as u64,
            Framing::IndexEntries => (whole.len() / INDEX_ENTRY_BYTES) as u64,
            Framing::Raw => 0,
        }
    }
}

/// An item's line, newline included.
pub fn encode_line(item: &Item) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = serde_json::to_vec(item)?;
    line.push(b'\n');
    Ok(line)
}

pub fn decode_line(line: &[u8]) -> Result<Item, serde_json::Error> {
    serde_json::from_slice(line)
}

/// The first `N` bytes of the SHA-256 of the parts.
fn sha256_prefix<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut out = [0u8; N];
    out.copy_from_slice(&digest[..N]);
    out
}

/// Names an item by its key; the NUL keeps `pk`/`sk` boundaries apart.
pub fn key_hash(key: &Key) -> KeyHash {
    sha256_prefix(&[b"key\0", key.pk.as_bytes(), b"\0", key.sk.as_bytes()])
}

/// Names an item's content: its line.
pub fn content_hash(line: &[u8]) -> ContentHash {
    sha256_prefix(&[b"item\0", line])
}

pub fn index_entry(key: &KeyHash, content: &ContentHash) -> [u8; INDEX_ENTRY_BYTES] {
    let mut entry = [0u8; INDEX_ENTRY_BYTES];
    entry[..16].copy_from_slice(key);
    entry[16..].copy_from_slice(content);
    entry
}

pub fn split_entry(entry: &[u8]) -> Option<(KeyHash, ContentHash)> {
    Some((
        entry.get(..16)?.try_into().ok()?,
        entry.get(16..INDEX_ENTRY_BYTES)?.try_into().ok()?,
    ))
}

/// An order-independent digest of a set of items: the wrapping sum of a
/// hash of each index entry. Two sets with the same count and digest hold
/// the same items; restores compare the target table with the snapshot so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetDigest {
    pub count: u64,
    pub sum: u128,
}

impl SetDigest {
    pub fn add(&mut self, key: &KeyHash, content: &ContentHash) {
        let entry = index_entry(key, content);
        self.count += 1;
        self.sum = self
            .sum
            .wrapping_add(u128::from_be_bytes(sha256_prefix(&[&entry])));
    }

    pub fn merge(&mut self, other: SetDigest) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::ports::table::Value;

    fn item(pk: &str, sk: &str) -> Item {
        Item::from([
            ("pk".to_owned(), Value::S(pk.into())),
            ("sk".to_owned(), Value::S(sk.into())),
            ("n".to_owned(), Value::N("1.5".into())),
            ("b".to_owned(), Value::B(vec![0, 255])),
            (
                "l".to_owned(),
                Value::L(vec![Value::Null, Value::Bool(true)]),
            ),
            ("text".to_owned(), Value::S("行\n\"x\"".into())),
        ])
    }

    #[test]
    fn lines_round_trip_and_stay_one_line() {
        let original = item("CUST#1", "PROFILE");
        let line = encode_line(&original).unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(decode_line(&line).unwrap(), original);
    }

    #[test]
    fn key_hashes_keep_key_parts_apart() {
        assert_ne!(
            key_hash(&Key::new("a", "bc")),
            key_hash(&Key::new("ab", "c"))
        );
    }

    #[test]
    fn set_digests_ignore_order_but_not_content() {
        let entries: Vec<(KeyHash, ContentHash)> = (0..5u8)
            .map(|i| (key_hash(&Key::new("p", i.to_string())), content_hash(&[i])))
            .collect();
        let mut forward = SetDigest::default();
        entries.iter().for_each(|(k, c)| forward.add(k, c));
        let mut backward = SetDigest::default();
        entries.iter().rev().for_each(|(k, c)| backward.add(k, c));
        assert_eq!(forward, backward);
        let mut changed = SetDigest::default();
        entries[..4].iter().for_each(|(k, c)| changed.add(k, c));
        changed.add(&entries[4].0, &content_hash(b"other"));
        assert_ne!(forward, changed);
    }

    #[test]
    fn framing_finds_whole_records() {
        assert_eq!(Framing::Lines.whole_records(b"a\nb\nc"), 4);
        assert_eq!(Framing::Lines.count(b"a\nb\n"), 2);
        assert_eq!(Framing::IndexEntries.whole_records(&[0; 70]), 48);
    }
}
