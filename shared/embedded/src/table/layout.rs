//! How the table is laid out in redb.
//!
//! The base table is keyed by `(partition hash, pk, sk)`. Within a partition
//! the hash is constant, so a query still reads sort keys in byte order, as
//! DynamoDB does; across partitions the hash spreads them evenly, so a scan
//! segment — a slice of the hash space — is one contiguous range, whatever
//! `total_segments` the caller picks.
//!
//! Each index is a set of `(index pk, index sk, pk, sk)` keys with no value;
//! a query reads the matching items from the base table in the same read
//! transaction, so an index never shows a stale copy of an item.

use redb::TableDefinition;
use sha2::{Digest, Sha256};
use strata_domain::ports::table::{Index, Item, PK, SK};

pub type BaseKey<'a> = (u64, &'a str, &'a str);
pub type IndexKey<'a> = (&'a str, &'a str, &'a str, &'a str);

pub const ITEMS: TableDefinition<BaseKey, &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<IndexKey, ()> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<IndexKey, ()> = TableDefinition::new("gsi2");

/// Bumped whenever the layout or the item codec changes incompatibly, so an
/// old build refuses a newer file instead of misreading it.
pub const FORMAT_VERSION: u64 = 1;
pub const FORMAT: TableDefinition<&str, u64> = TableDefinition::new("format");
pub const FORMAT_KEY: &str = "version";

pub fn index_table(index: Index) -> TableDefinition<'static, IndexKey<'static>, ()> {
    match index {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
    }
}

/// A stable hash of the partition key. It is part of the file format: it
/// decides where items are stored, so it must never change.
pub fn partition_hash(pk: &str) -> u64 {
    let digest = Sha256::digest(pk.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

pub fn base_key<'a>(pk: &'a str, sk: &'a str) -> BaseKey<'a> {
    (partition_hash(pk), pk, sk)
}

/// The base key of a validated item (one with string `pk` and `sk`).
pub fn base_key_of(item: &Item) -> Option<BaseKey<'_>> {
    Some(base_key(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
}

/// The item's entry in a sparse index: present only when both index key
/// attributes are strings.
pub fn index_key_of(index: Index, item: &Item) -> Option<IndexKey<'_>> {
    let attr = |name: &str| item.get(name).and_then(|value| value.as_str());
    Some((
        attr(index.pk_attr())?,
        attr(index.sk_attr())?,
        attr(PK)?,
        attr(SK)?,
    ))
}

/// The first hash of a scan segment; segment `s` of `n` holds the hashes
/// `h` with `h * n / 2^64 == s`.
pub fn segment_start(segment: u32, total_segments: u32) -> u64 {
    let start = (u128::from(segment) << 64).div_ceil(u128::from(total_segments));
    // Only `segment == total_segments` reaches 2^64, and callers never pass it.
    u64::try_from(start).unwrap_or(u64::MAX)
}

/// One past the last hash of a segment, or `None` for the last segment.
pub fn segment_end(segment: u32, total_segments: u32) -> Option<u64> {
    (segment + 1 < total_segments).then(|| segment_start(segment + 1, total_segments))
}

pub fn segment_of(hash: u64, total_segments: u32) -> u32 {
    // The product is below 2^64 * total_segments, so the shifted result fits.
    ((u128::from(hash) * u128::from(total_segments)) >> 64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_hash_space() {
        for total in [1, 2, 3, 7, 1000, 1_000_000] {
            assert_eq!(segment_start(0, total), 0);
            for segment in [0, total / 2, total - 1] {
                let start = segment_start(segment, total);
                assert_eq!(segment_of(start, total), segment);
                match segment_end(segment, total) {
                    Some(end) => {
                        assert_eq!(segment_of(end - 1, total), segment);
                        assert_eq!(segment_of(end, total), segment + 1);
                    }
                    None => assert_eq!(segment_of(u64::MAX, total), segment),
                }
            }
        }
    }

    #[test]
    fn partition_hash_is_stable() {
        // Pinned: changing it would strand every stored item.
        assert_eq!(partition_hash("CUST#1"), partition_hash("CUST#1"));
        assert_eq!(partition_hash(""), 0xe3b0_c442_98fc_1c14);
    }
}
