//! Reads, each from one redb read transaction (a consistent snapshot).

use std::ops::Bound::{self, Excluded, Included, Unbounded};

use redb::{Database, ReadTransaction, ReadableDatabase};
use strata_domain::ports::table::{
    Cursor, Index, Item, Key, MAX_PAGE_BYTES, PK, Page, Query, SK, SortCondition, TableError,
    item_size,
};

use super::codec;
use super::layout::{
    ITEMS, base_key, index_table, partition_hash, segment_end, segment_of, segment_start,
};
use super::rules::{check_partition, check_sort_condition};
use crate::error::table_storage_error;

/// The most segments DynamoDB lets a parallel scan use.
const MAX_TOTAL_SEGMENTS: u32 = 1_000_000;

type OwnedBaseKey = (u64, String, String);
type OwnedIndexKey = (String, String, String, String);

fn begin(db: &Database) -> Result<ReadTransaction, TableError> {
    db.begin_read().map_err(table_storage_error)
}

pub fn get(db: &Database, key: &Key) -> Result<Option<Item>, TableError> {
    let txn = begin(db)?;
    let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
    items
        .get(base_key(&key.pk, &key.sk))
        .map_err(table_storage_error)?
        .map(|stored| codec::decode(stored.value()))
        .transpose()
}

/// Reads many keys in one snapshot; all are processed.
pub fn batch_get(db: &Database, keys: &[Key]) -> Result<Vec<Item>, TableError> {
    let txn = begin(db)?;
    let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(stored) = items
            .get(base_key(&key.pk, &key.sk))
            .map_err(table_storage_error)?
        {
            found.push(codec::decode(stored.value())?);
        }
    }
    Ok(found)
}

pub fn query(db: &Database, query: &Query) -> Result<Page, TableError> {
    check_partition(&query.partition)?;
    check_sort_condition(&query.sort)?;
    let limit = page_limit(query.limit)?;
    let range = SortRange::of(&query.sort)?;
    match query.index {
        None => query_base(db, query, range, limit),
        Some(index) => query_index(db, index, query, range, limit),
    }
}

fn query_base(
    db: &Database,
    query: &Query,
    range: SortRange,
    limit: usize,
) -> Result<Page, TableError> {
    let partition = &query.partition;
    let hash = partition_hash(partition);
    let at = |sk: String| (hash, partition.clone(), sk);
    let mut bounds = (
        Included(at(range.from.unwrap_or_default())),
        match range.to {
            SortEnd::Through(sk) => Included(at(sk)),
            SortEnd::Before(sk) => Excluded(at(sk)),
            SortEnd::Open => Excluded((hash, successor(partition), String::new())),
        },
    );
    if let Some(cursor) = &query.start {
        let pk = cursor_attr(cursor, PK)?;
        if pk != *partition {
            return Err(invalid_cursor("it belongs to another partition"));
        }
        bounds = resume_after(bounds, (hash, pk, cursor_attr(cursor, SK)?), query.forward);
    }

    let txn = begin(db)?;
    let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
    let found = items
        .range((
            bounds.0.as_ref().map(borrow_base),
            bounds.1.as_ref().map(borrow_base),
        ))
        .map_err(table_storage_error)?
        .map(|entry| {
            let (_, stored) = entry.map_err(table_storage_error)?;
            codec::decode(stored.value())
        });
    fill_page(directed(found, query.forward), limit, &[PK, SK])
}

fn query_index(
    db: &Database,
    index: Index,
    query: &Query,
    range: SortRange,
    limit: usize,
) -> Result<Page, TableError> {
    let partition = &query.partition;
    let at = |index_sk: String| (partition.clone(), index_sk, String::new(), String::new());
    let mut bounds = (
        Included(at(range.from.unwrap_or_default())),
        match range.to {
            SortEnd::Through(index_sk) => Excluded(at(successor(&index_sk))),
            SortEnd::Before(index_sk) => Excluded(at(index_sk)),
            SortEnd::Open => Excluded((
                successor(partition),
                String::new(),
                String::new(),
                String::new(),
            )),
        },
    );
    if let Some(cursor) = &query.start {
        let index_pk = cursor_attr(cursor, index.pk_attr())?;
        if index_pk != *partition {
            return Err(invalid_cursor("it belongs to another partition"));
        }
        let resume_at = (
            index_pk,
            cursor_attr(cursor, index.sk_attr())?,
            cursor_attr(cursor, PK)?,
            cursor_attr(cursor, SK)?,
        );
        bounds = resume_after(bounds, resume_at, query.forward);
    }

    let txn = begin(db)?;
    let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
    let entries = txn
        .open_table(index_table(index))
        .map_err(table_storage_error)?;
    let found = entries
        .range((
            bounds.0.as_ref().map(borrow_index),
            bounds.1.as_ref().map(borrow_index),
        ))
        .map_err(table_storage_error)?
        .map(|entry| {
            let (entry, _) = entry.map_err(table_storage_error)?;
            let (_, _, pk, sk) = entry.value();
            let stored = items
                .get(base_key(pk, sk))
                .map_err(table_storage_error)?
                .ok_or_else(|| {
                    TableError::Corrupt(format!(
                        "{} lists {pk}/{sk}, which is missing",
                        index.name()
                    ))
                })?;
            codec::decode(stored.value())
        });
    fill_page(
        directed(found, query.forward),
        limit,
        &[PK, SK, index.pk_attr(), index.sk_attr()],
    )
}

pub fn scan(
    db: &Database,
    segment: u32,
    total_segments: u32,
    start: Option<&Cursor>,
    limit: Option<u32>,
) -> Result<Page, TableError> {
    if total_segments == 0 || total_segments > MAX_TOTAL_SEGMENTS || segment >= total_segments {
        return Err(TableError::InvalidRequest(format!(
            "segment {segment} of {total_segments}: a scan takes 1 to {MAX_TOTAL_SEGMENTS} segments, numbered from 0"
        )));
    }
    let limit = page_limit(limit)?;
    let lower = match start {
        None => Included((
            segment_start(segment, total_segments),
            String::new(),
            String::new(),
        )),
        Some(cursor) => {
            let pk = cursor_attr(cursor, PK)?;
            let hash = partition_hash(&pk);
            if segment_of(hash, total_segments) != segment {
                return Err(invalid_cursor("it belongs to another segment"));
            }
            Excluded((hash, pk, cursor_attr(cursor, SK)?))
        }
    };
    let upper = segment_end(segment, total_segments).map_or(Unbounded, |end| {
        Excluded((end, String::new(), String::new()))
    });

    let txn = begin(db)?;
    let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
    let found = items
        .range((
            lower.as_ref().map(borrow_base),
            upper.as_ref().map(borrow_base),
        ))
        .map_err(table_storage_error)?
        .map(|entry| {
            let (_, stored) = entry.map_err(table_storage_error)?;
            codec::decode(stored.value())
        });
    fill_page(found, limit, &[PK, SK])
}

/// Takes items until the limit or until the next one would push the page
/// past 1 MB, as DynamoDB does. `next` is set only when an item is known to
/// follow, so a caller never fetches an empty last page.
fn fill_page(
    mut found: impl Iterator<Item = Result<Item, TableError>>,
    limit: usize,
    cursor_attrs: &[&str],
) -> Result<Page, TableError> {
    let mut items = Vec::new();
    let mut page_bytes = 0;
    while let Some(item) = found.next().transpose()? {
        let size = item_size(&item);
        // The first item always fits: items are at most 400 KB.
        if !items.is_empty() && page_bytes + size > MAX_PAGE_BYTES {
            return Ok(page_resuming_after(items, cursor_attrs));
        }
        page_bytes += size;
        items.push(item);
        if items.len() == limit {
            return Ok(if found.next().transpose()?.is_some() {
                page_resuming_after(items, cursor_attrs)
            } else {
                Page { items, next: None }
            });
        }
    }
    Ok(Page { items, next: None })
}

fn page_resuming_after(items: Vec<Item>, cursor_attrs: &[&str]) -> Page {
    let next = items.last().map(|last| {
        Cursor(
            cursor_attrs
                .iter()
                .filter_map(|&attr| Some((attr.to_owned(), last.get(attr)?.clone())))
                .collect(),
        )
    });
    Page { items, next }
}

fn page_limit(limit: Option<u32>) -> Result<usize, TableError> {
    match limit {
        Some(0) => Err(TableError::InvalidRequest(
            "a page limit must be at least 1".into(),
        )),
        Some(limit) => Ok(usize::try_from(limit).unwrap_or(usize::MAX)),
        None => Ok(usize::MAX),
    }
}

/// The sort keys a `SortCondition` selects, as a contiguous range.
struct SortRange {
    /// Inclusive; `None` starts at the partition's first item.
    from: Option<String>,
    to: SortEnd,
}

enum SortEnd {
    Through(String),
    Before(String),
    Open,
}

impl SortRange {
    fn of(sort: &SortCondition) -> Result<SortRange, TableError> {
        Ok(match sort {
            SortCondition::All => SortRange {
                from: None,
                to: SortEnd::Open,
            },
            SortCondition::Equals(sk) => SortRange {
                from: Some(sk.clone()),
                to: SortEnd::Through(sk.clone()),
            },
            SortCondition::BeginsWith(prefix) => SortRange {
                from: Some(prefix.clone()),
                to: prefix_end(prefix).map_or(SortEnd::Open, SortEnd::Before),
            },
            SortCondition::Between(low, high) => {
                if low > high {
                    return Err(TableError::InvalidRequest(format!(
                        "BETWEEN needs its lower bound `{low}` to be at most its upper bound `{high}`"
                    )));
                }
                SortRange {
                    from: Some(low.clone()),
                    to: SortEnd::Through(high.clone()),
                }
            }
        })
    }
}

/// The least string greater than every string starting with `prefix`, or
/// `None` if no such string exists. UTF-8 orders like code points, so
/// bumping the last bumpable character is enough.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let bumped = match last {
            '\u{d7ff}' => Some('\u{e000}'),
            _ => char::from_u32(u32::from(last) + 1),
        };
        if let Some(bumped) = bumped {
            chars.push(bumped);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The least string greater than `s`.
fn successor(s: &str) -> String {
    format!("{s}\0")
}

/// Narrows a range to what lies strictly after `cursor` in the direction of
/// reading. A cursor outside the range leaves it as it is or empties it.
fn resume_after<T: Ord>(
    (lower, upper): (Bound<T>, Bound<T>),
    cursor: T,
    forward: bool,
) -> (Bound<T>, Bound<T>) {
    if forward {
        let narrows = match &lower {
            Included(low) | Excluded(low) => cursor >= *low,
            Unbounded => true,
        };
        (if narrows { Excluded(cursor) } else { lower }, upper)
    } else {
        let narrows = match &upper {
            Included(high) | Excluded(high) => cursor <= *high,
            Unbounded => true,
        };
        (lower, if narrows { Excluded(cursor) } else { upper })
    }
}

fn directed<'a, T: 'a>(
    found: impl DoubleEndedIterator<Item = T> + 'a,
    forward: bool,
) -> Box<dyn Iterator<Item = T> + 'a> {
    if forward {
        Box::new(found)
    } else {
        Box::new(found.rev())
    }
}

fn borrow_base((hash, pk, sk): &OwnedBaseKey) -> (u64, &str, &str) {
    (*hash, pk, sk)
}

fn borrow_index((index_pk, index_sk, pk, sk): &OwnedIndexKey) -> (&str, &str, &str, &str) {
    (index_pk, index_sk, pk, sk)
}

fn cursor_attr(cursor: &Cursor, attr: &str) -> Result<String, TableError> {
    cursor
        .0
        .get(attr)
        .and_then(|value| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| invalid_cursor(&format!("it lacks the string attribute `{attr}`")))
}

fn invalid_cursor(why: &str) -> TableError {
    TableError::InvalidRequest(format!("the start cursor is invalid: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        assert_eq!(prefix_end(""), None);
        let end = prefix_end("ab").unwrap();
        assert!("ab\u{10ffff}\u{10ffff}" < end.as_str());
    }

    #[test]
    fn resuming_never_widens_a_range() {
        let range = (Included(5), Included(9));
        assert_eq!(resume_after(range, 6, true), (Excluded(6), Included(9)));
        assert_eq!(resume_after(range, 2, true), (Included(5), Included(9)));
        assert_eq!(resume_after(range, 6, false), (Included(5), Excluded(6)));
        assert_eq!(resume_after(range, 12, false), (Included(5), Included(9)));
        let open = (Excluded(5), Unbounded);
        assert_eq!(resume_after(open, 2, true), (Excluded(5), Unbounded));
        assert_eq!(resume_after(open, 7, false), (Excluded(5), Excluded(7)));
    }
}
