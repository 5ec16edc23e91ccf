//! One table wrapper for the test doubles that watch or disturb requests
//! (counting, crashing, throttling): the wrapper passes every port call on,
//! and its `Interceptor` decides what happens around it.

use std::sync::Arc;

use async_trait::async_trait;
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
    WriteRequest,
};

/// A table request, as DynamoDB's API names it (one port call is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    BatchWriteItem,
    BatchGetItem,
    TransactWriteItems,
    Scan,
}

impl Operation {
    pub const ALL: [Operation; 9] = [
        Operation::GetItem,
        Operation::PutItem,
        Operation::UpdateItem,
        Operation::DeleteItem,
        Operation::Query,
        Operation::BatchWriteItem,
        Operation::BatchGetItem,
        Operation::TransactWriteItems,
        Operation::Scan,
    ];

    pub fn reads(self) -> bool {
        matches!(
            self,
            Operation::GetItem | Operation::BatchGetItem | Operation::Query | Operation::Scan
        )
    }
}

/// What a wrapper does with the requests it sees.
#[async_trait]
pub trait Interceptor: Send + Sync {
    /// Before any request: an error fails it without reaching the table.
    fn before(&self, _operation: Operation) -> Result<(), TableError> {
        Ok(())
    }

    /// A batch write, after `before`; may hold items back as unprocessed.
    async fn batch_write(
        &self,
        table: &dyn Table,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        table.batch_write(writes).await
    }

    /// A batch read, after `before`; may hold keys back as unprocessed.
    async fn batch_get(&self, table: &dyn Table, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        table.batch_get(keys).await
    }
}

/// A table seen through an interceptor.
pub struct Intercepted<I> {
    inner: Arc<dyn Table>,
    interceptor: I,
}

impl<I: Interceptor> Intercepted<I> {
    pub fn wrap(inner: Arc<dyn Table>, interceptor: I) -> Self {
        Intercepted { inner, interceptor }
    }

    pub fn interceptor(&self) -> &I {
        &self.interceptor
    }
}

#[async_trait]
impl<I: Interceptor> Table for Intercepted<I> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.interceptor.before(Operation::GetItem)?;
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.interceptor.before(Operation::PutItem)?;
        self.inner.put(item, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.interceptor.before(Operation::UpdateItem)?;
        self.inner.update(key, update, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.interceptor.before(Operation::DeleteItem)?;
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.interceptor.before(Operation::Query)?;
        self.inner.query(query).await
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        self.interceptor.before(Operation::BatchWriteItem)?;
        self.interceptor
            .batch_write(self.inner.as_ref(), writes)
            .await
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        self.interceptor.before(Operation::BatchGetItem)?;
        self.interceptor.batch_get(self.inner.as_ref(), keys).await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        self.interceptor.before(Operation::TransactWriteItems)?;
        self.inner.transact_write(ops).await
    }

    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        self.interceptor.before(Operation::Scan)?;
        self.inner.scan(segment, total_segments, start, limit).await
    }
}
