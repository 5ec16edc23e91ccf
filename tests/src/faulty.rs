//! A table that misbehaves like a throttling DynamoDB: batch writes fail
//! outright or leave part of their items unprocessed, at random but
//! reproducibly (seeded).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
    WriteRequest,
};

pub struct FaultyTable {
    inner: Arc<dyn Table>,
    rng: Mutex<StdRng>,
    /// Share of batch calls refused with `Throttled`.
    pub throttle_rate: f64,
    /// Share of the items of an accepted batch returned unprocessed.
    pub unprocessed_rate: f64,
    pub throttled_calls: AtomicUsize,
    pub unprocessed_items: AtomicUsize,
}

impl FaultyTable {
    pub fn new(inner: Arc<dyn Table>, seed: u64) -> Self {
        FaultyTable {
            inner,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            throttle_rate: 0.15,
            unprocessed_rate: 0.3,
            throttled_calls: AtomicUsize::new(0),
            unprocessed_items: AtomicUsize::new(0),
        }
    }

    fn roll(&self) -> f64 {
        self.rng
            .lock()
            .map(|mut rng| rng.random::<f64>())
            .unwrap_or(0.0)
    }
}

#[async_trait]
impl Table for FaultyTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.put(item, condition).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.inner.update(key, update, condition).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.delete(key, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.inner.query(query).await
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        if self.roll() < self.throttle_rate {
            self.throttled_calls.fetch_add(1, Ordering::Relaxed);
            return Err(TableError::Throttled("injected by FaultyTable".into()));
        }
        let (mut sent, mut held) = (Vec::new(), Vec::new());
        for write in writes {
            if self.roll() < self.unprocessed_rate {
                held.push(write)
            } else {
                sent.push(write)
            }
        }
        self.unprocessed_items
            .fetch_add(held.len(), Ordering::Relaxed);
        if sent.is_empty() {
            return Ok(held);
        }
        let mut unprocessed = self.inner.batch_write(sent).await?;
        unprocessed.extend(held);
        Ok(unprocessed)
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        if self.roll() < self.throttle_rate {
            self.throttled_calls.fetch_add(1, Ordering::Relaxed);
            return Err(TableError::Throttled("injected by FaultyTable".into()));
        }
        let (mut asked, mut held) = (Vec::new(), Vec::new());
        for key in keys {
            if self.roll() < self.unprocessed_rate {
                held.push(key)
            } else {
                asked.push(key)
            }
        }
        self.unprocessed_items
            .fetch_add(held.len(), Ordering::Relaxed);
        if asked.is_empty() {
            return Ok(BatchGot {
                items: Vec::new(),
                unprocessed: held,
            });
        }
        let mut got = self.inner.batch_get(asked).await?;
        got.unprocessed.extend(held);
        Ok(got)
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        self.inner.transact_write(ops).await
    }

    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        self.inner.scan(segment, total_segments, start, limit).await
    }
}
