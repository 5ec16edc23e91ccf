//! The table port: a key-value table with DynamoDB semantics.
//!
//! Items are maps of attributes. Every item has a string partition key `pk`
//! and a string sort key `sk`; two overloaded global secondary indexes use
//! `gsi1pk`/`gsi1sk` and `gsi2pk`/`gsi2sk`. What goes *into* those keys is
//! decided by the store crate alone; adapters only know the attribute names.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Partition key attribute of every item.
pub const PK: &str = "pk";
/// Sort key attribute of every item.
pub const SK: &str = "sk";
/// Attribute whose numeric value (epoch seconds) expires an item.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// DynamoDB's limits, enforced by every adapter so that code proven against
/// the embedded backend does not fail later in AWS.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
pub const MAX_BATCH_WRITE: usize = 25;
pub const MAX_TRANSACT_ITEMS: usize = 100;
pub const MAX_BATCH_GET: usize = 100;

/// One attribute value. Numbers are decimal strings, as in DynamoDB, so no
/// precision is lost between adapters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    S(String),
    N(String),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn number(n: impl ToString) -> Value {
        Value::N(n.to_string())
    }

    /// Bytes this value counts for in DynamoDB's item-size arithmetic.
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(n) => n.len().div_ceil(2) + 1,
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::L(items) => 3 + items.iter().map(|v| 1 + v.size()).sum::<usize>(),
            Value::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| 1 + k.len() + v.size())
                    .sum::<usize>()
            }
        }
    }
}

pub type Item = BTreeMap<String, Value>;

/// Size of an item as DynamoDB counts it against the 400 KB and 1 MB limits.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Reads the key attributes out of an item.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key {
            pk: item.get(PK)?.as_str()?.to_owned(),
            sk: item.get(SK)?.as_str()?.to_owned(),
        })
    }
}

/// The global secondary indexes of the table. Both project all attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Index {
    Gsi1,
    Gsi2,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }

    pub fn pk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
        }
    }

    pub fn sk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
        }
    }
}

/// A condition checked atomically with a write. Attribute names are top-level.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item does not exist yet (`attribute_not_exists(pk)`).
    NotExists,
    /// The item exists (`attribute_exists(pk)`).
    Exists,
    /// The attribute exists and equals the value.
    Equals(String, Value),
    /// The attribute is absent (the item may or may not exist).
    AttributeAbsent(String),
    /// The attribute is a number at least this large (`attr >= n`); fails
    /// when the item or the attribute is missing.
    AtLeast(String, i64),
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    /// Evaluates the condition against the current item, for adapters that
    /// check conditions themselves.
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::NotExists => current.is_none(),
            Condition::Exists => current.is_some(),
            Condition::Equals(attr, value) => current.and_then(|i| i.get(attr)) == Some(value),
            Condition::AttributeAbsent(attr) => current.and_then(|i| i.get(attr)).is_none(),
            Condition::AtLeast(attr, floor) => current
                .and_then(|i| i.get(attr))
                .and_then(|v| match v {
                    Value::N(n) => n.parse::<i128>().ok(),
                    _ => None,
                })
                .is_some_and(|n| n >= i128::from(*floor)),
            Condition::All(all) => all.iter().all(|c| c.holds(current)),
        }
    }
}

/// Changes to an item's top-level attributes. Applied to a missing item, it
/// creates one (DynamoDB semantics); guard with `Condition::Exists` if not wanted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// Adds to a number attribute, treating a missing one as zero.
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn set(mut self, attr: impl Into<String>, value: Value) -> Self {
        self.set.push((attr.into(), value));
        self
    }

    pub fn remove(mut self, attr: impl Into<String>) -> Self {
        self.remove.push(attr.into());
        self
    }

    pub fn add(mut self, attr: impl Into<String>, by: i64) -> Self {
        self.add.push((attr.into(), by));
        self
    }

    /// Applies the update to an item in memory, for adapters that apply
    /// updates themselves. Fails if an `add` targets a non-number.
    pub fn apply(&self, key: &Key, current: Option<Item>) -> Result<Item, TableError> {
        let mut item = current.unwrap_or_else(|| {
            Item::from([
                (PK.to_owned(), Value::S(key.pk.clone())),
                (SK.to_owned(), Value::S(key.sk.clone())),
            ])
        });
        for (attr, value) in &self.set {
            guard_key_attr(attr)?;
            item.insert(attr.clone(), value.clone());
        }
        for attr in &self.remove {
            guard_key_attr(attr)?;
            item.remove(attr);
        }
        for (attr, by) in &self.add {
            guard_key_attr(attr)?;
            let now = match item.get(attr) {
                None => 0i128,
                Some(Value::N(n)) => n.parse::<i128>().map_err(|_| {
                    TableError::InvalidRequest(format!("attribute `{attr}` is not an integer"))
                })?,
                Some(_) => {
                    return Err(TableError::InvalidRequest(format!(
                        "attribute `{attr}` is not a number"
                    )));
                }
            };
            item.insert(attr.clone(), Value::number(now + i128::from(*by)));
        }
        Ok(item)
    }
}

fn guard_key_attr(attr: &str) -> Result<(), TableError> {
    if attr == PK || attr == SK {
        Err(TableError::InvalidRequest(format!(
            "the key attribute `{attr}` cannot be updated"
        )))
    } else {
        Ok(())
    }
}

/// Which sort keys of one partition a query reads.
#[derive(Debug, Clone, PartialEq)]
pub enum SortCondition {
    All,
    Equals(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's BETWEEN.
    Between(String, String),
}

impl SortCondition {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortCondition::All => true,
            SortCondition::Equals(v) => sk == v,
            SortCondition::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortCondition::Between(lo, hi) => lo.as_str() <= sk && sk <= hi.as_str(),
        }
    }
}

/// Where a paged read resumes: the key attributes of the last item returned
/// (DynamoDB's `LastEvaluatedKey`). Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub BTreeMap<String, Value>);

/// A query of one partition, of the table or of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Option<Index>,
    pub partition: String,
    pub sort: SortCondition,
    /// Ascending by sort key when true.
    pub forward: bool,
    /// At most this many items per page; a page also ends at 1 MB.
    pub limit: Option<u32>,
    pub start: Option<Cursor>,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Query {
            index: None,
            partition: partition.into(),
            sort: SortCondition::All,
            forward: true,
            limit: None,
            start: None,
        }
    }

    pub fn on_index(index: Index, partition: impl Into<String>) -> Self {
        Query {
            index: Some(index),
            ..Query::partition(partition)
        }
    }

    pub fn sort(mut self, sort: SortCondition) -> Self {
        self.sort = sort;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn start(mut self, start: Option<Cursor>) -> Self {
        self.start = start;
        self
    }
}

/// One page of a query or scan. `next` is `None` on the last page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteRequest {
    Put(Item),
    Delete(Key),
}

impl WriteRequest {
    pub fn key(&self) -> Option<Key> {
        match self {
            WriteRequest::Put(item) => Key::of(item),
            WriteRequest::Delete(key) => Some(key.clone()),
        }
    }
}

/// What one batch read returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchGot {
    pub items: Vec<Item>,
    pub unprocessed: Vec<Key>,
}

/// Checks the limits of a batch read: 1 to 100 distinct keys.
pub fn validate_batch_get(keys: &[Key]) -> Result<(), TableError> {
    if keys.is_empty() || keys.len() > MAX_BATCH_GET {
        return Err(TableError::InvalidRequest(format!(
            "a batch read takes 1 to {MAX_BATCH_GET} keys, got {}",
            keys.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = keys.iter().find(|k| !seen.insert(*k)) {
        return Err(TableError::InvalidRequest(format!(
            "the batch names {}/{} twice",
            twice.pk, twice.sk
        )));
    }
    Ok(())
}

/// One operation of an all-or-nothing transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Only checks a condition on another item.
    Check { key: Key, condition: Condition },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TableError {
    #[error("the write's condition did not hold")]
    ConditionFailed,
    #[error("the transaction was cancelled: {0}")]
    TransactionCanceled(String),
    #[error("the table is throttling requests: {0}")]
    Throttled(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl TableError {
    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TableError::Throttled(_) | TableError::Unavailable(_))
    }
}

/// A table with DynamoDB semantics. All reads of the base table are strongly
/// consistent; index reads are eventually consistent.
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;

    /// Writes a whole item, replacing any item with the same key, if the
    /// condition holds (`ConditionFailed` otherwise).
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError>;

    /// Updates an item if the condition holds and returns it as now stored.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError>;

    /// Deletes an item if the condition holds; deleting a missing item is not an error.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError>;

    async fn query(&self, query: Query) -> Result<Page, TableError>;

    /// Writes up to 25 puts/deletes with distinct keys, not atomically.
    /// Returns the requests that were not processed (throttling); the caller
    /// retries them (see the store crate's batch writer).
    async fn batch_write(&self, writes: Vec<WriteRequest>)
    -> Result<Vec<WriteRequest>, TableError>;

    /// Reads up to 100 distinct items at once, strongly consistent. Returns the
    /// items found (in no particular order) and the keys not read this time
    /// (throttling); the caller retries those (see the store crate's `get_many`).
    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError>;

    /// Applies up to 100 operations on distinct items all together or not at all.
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError>;

    /// Reads one segment of a parallel scan of the whole table.
    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError>;
}

/// Checks the limits shared by every adapter before a batch write.
pub fn validate_batch(writes: &[WriteRequest]) -> Result<(), TableError> {
    if writes.is_empty() || writes.len() > MAX_BATCH_WRITE {
        return Err(TableError::InvalidRequest(format!(
            "a batch write takes 1 to {MAX_BATCH_WRITE} requests, got {}",
            writes.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for write in writes {
        let key = write
            .key()
            .ok_or_else(|| TableError::InvalidRequest("an item lacks its pk/sk".into()))?;
        if !keys.insert(key.clone()) {
            return Err(TableError::InvalidRequest(format!(
                "the batch names {}/{} twice",
                key.pk, key.sk
            )));
        }
        if let WriteRequest::Put(item) = write {
            validate_item(item)?;
        }
    }
    Ok(())
}

/// Checks that an item has string keys and fits DynamoDB's item size limit.
pub fn validate_item(item: &Item) -> Result<(), TableError> {
    if Key::of(item).is_none() {
        return Err(TableError::InvalidRequest(
            "an item needs string `pk` and `sk` attributes".into(),
        ));
    }
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(TableError::InvalidRequest(format!(
            "the item is {size} bytes; the limit is {MAX_ITEM_BYTES}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_adds_to_missing_number_and_refuses_key_changes() {
        let key = Key::new("A", "B");
        let item = Update::default().add("count", 3).apply(&key, None).unwrap();
        assert_eq!(item.get("count"), Some(&Value::N("3".into())));
        let err = Update::default()
            .set(PK, Value::S("x".into()))
            .apply(&key, Some(item))
            .unwrap_err();
        assert!(matches!(err, TableError::InvalidRequest(_)));
    }

    #[test]
    fn conditions_evaluate_like_dynamodb() {
        let item = Item::from([("version".to_owned(), Value::number(2))]);
        assert!(Condition::Equals("version".into(), Value::number(2)).holds(Some(&item)));
        assert!(!Condition::Equals("version".into(), Value::number(1)).holds(Some(&item)));
        assert!(!Condition::Equals("version".into(), Value::number(2)).holds(None));
        assert!(Condition::NotExists.holds(None));
        assert!(Condition::AttributeAbsent("owner".into()).holds(Some(&item)));
        assert!(Condition::AtLeast("version".into(), 2).holds(Some(&item)));
        assert!(!Condition::AtLeast("version".into(), 3).holds(Some(&item)));
        assert!(!Condition::AtLeast("balance".into(), 0).holds(Some(&item)));
        assert!(!Condition::AtLeast("version".into(), 0).holds(None));
    }

    #[test]
    fn batch_validation_rejects_duplicate_keys_and_oversize() {
        let put = |sk: &str| {
            WriteRequest::Put(Item::from([
                (PK.to_owned(), Value::S("p".into())),
                (SK.to_owned(), Value::S(sk.into())),
            ]))
        };
        assert!(validate_batch(&[put("a"), put("b")]).is_ok());
        assert!(validate_batch(&[put("a"), put("a")]).is_err());
        let mut big = Item::from([
            (PK.to_owned(), Value::S("p".into())),
            (SK.to_owned(), Value::S("s".into())),
        ]);
        big.insert("blob".into(), Value::B(vec![0; MAX_ITEM_BYTES]));
        assert!(validate_item(&big).is_err());
    }
}
