//! A table that counts the requests made through it, so tests and the
//! benchmark can hold the online path to its budget of table reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
    WriteRequest,
};

pub struct MeteredTable {
    inner: Arc<dyn Table>,
    /// Items asked for by GetItem and BatchGetItem, plus one per Query or
    /// Scan page (each reads at least one item).
    reads: AtomicU64,
    writes: AtomicU64,
}

impl MeteredTable {
    pub fn new(inner: Arc<dyn Table>) -> MeteredTable {
        MeteredTable {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.reads.store(0, Ordering::Relaxed);
        self.writes.store(0, Ordering::Relaxed);
    }

    fn read(&self, n: usize) {
        self.reads.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn write(&self, n: usize) {
        self.writes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[async_trait]
impl Table for MeteredTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.read(1);
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.write(1);
        self.inner.put(item, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.write(1);
        self.inner.update(key, update, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.write(1);
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.read(1);
        self.inner.query(query).await
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        self.write(writes.len());
        self.inner.batch_write(writes).await
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        self.read(keys.len());
        self.inner.batch_get(keys).await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        self.write(ops.len());
        self.inner.transact_write(ops).await
    }

    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        self.read(1);
        self.inner.scan(segment, total_segments, start, limit).await
    }
}
