//! A table that counts the requests it passes on, one per port call — the
//! same unit DynamoDB bills and throttles (a batch of 25 writes is one
//! request).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
    WriteRequest,
};

/// Requests per operation, as DynamoDB's API names them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestCounts {
    pub get_item: u64,
    pub put_item: u64,
    pub update_item: u64,
    pub delete_item: u64,
    pub query: u64,
    pub batch_write_item: u64,
    pub batch_get_item: u64,
    pub transact_write_items: u64,
    pub scan: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.get_item
            + self.put_item
            + self.update_item
            + self.delete_item
            + self.query
            + self.batch_write_item
            + self.batch_get_item
            + self.transact_write_items
            + self.scan
    }

    /// Requests that read: GetItem, BatchGetItem, Query and Scan.
    pub fn reads(&self) -> u64 {
        self.get_item + self.batch_get_item + self.query + self.scan
    }

    pub fn writes(&self) -> u64 {
        self.total() - self.reads()
    }
}

#[derive(Default)]
struct Counters([AtomicU64; 9]);

pub struct CountingTable {
    inner: Arc<dyn Table>,
    counters: Counters,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        CountingTable {
            inner,
            counters: Counters::default(),
        }
    }

    pub fn counts(&self) -> RequestCounts {
        let read = |i: usize| self.counters.0[i].load(Ordering::Relaxed);
        RequestCounts {
            get_item: read(0),
            put_item: read(1),
            update_item: read(2),
            delete_item: read(3),
            query: read(4),
            batch_write_item: read(5),
            batch_get_item: read(6),
            transact_write_items: read(7),
            scan: read(8),
        }
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        for counter in &self.counters.0 {
            counter.store(0, Ordering::Relaxed);
        }
    }

    fn count(&self, operation: usize) {
        self.counters.0[operation].fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.count(0);
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.count(1);
        self.inner.put(item, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.count(2);
        self.inner.update(key, update, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.count(3);
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.count(4);
        self.inner.query(query).await
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        self.count(5);
        self.inner.batch_write(writes).await
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        self.count(6);
        self.inner.batch_get(keys).await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        self.count(7);
        self.inner.transact_write(ops).await
    }

    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        self.count(8);
        self.inner.scan(segment, total_segments, start, limit).await
    }
}
