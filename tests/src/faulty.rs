//! A table that misbehaves like a throttling DynamoDB: batch writes fail
//! outright or leave part of their items unprocessed, at random but
//! reproducibly (seeded).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_domain::ports::table::{BatchGot, Key, Table, TableError, WriteRequest};

use crate::intercept::{Intercepted, Interceptor, Operation};

/// Seeded faults for batch requests.
pub struct Faults {
    rng: Mutex<StdRng>,
    /// Share of batch calls refused with `Throttled`.
    pub throttle_rate: f64,
    /// Share of the items of an accepted batch returned unprocessed.
    pub unprocessed_rate: f64,
    pub throttled_calls: AtomicUsize,
    pub unprocessed_items: AtomicUsize,
}

pub type FaultyTable = Intercepted<Faults>;

impl FaultyTable {
    pub fn new(inner: Arc<dyn Table>, seed: u64) -> Self {
        Intercepted::wrap(
            inner,
            Faults {
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
                throttle_rate: 0.15,
                unprocessed_rate: 0.3,
                throttled_calls: AtomicUsize::new(0),
                unprocessed_items: AtomicUsize::new(0),
            },
        )
    }
}

impl Faults {
    fn roll(&self) -> f64 {
        self.rng
            .lock()
            .map(|mut rng| rng.random::<f64>())
            .unwrap_or(0.0)
    }
}

#[async_trait]
impl Interceptor for Faults {
    fn before(&self, operation: Operation) -> Result<(), TableError> {
        let batch = matches!(
            operation,
            Operation::BatchWriteItem | Operation::BatchGetItem
        );
        if batch && self.roll() < self.throttle_rate {
            self.throttled_calls.fetch_add(1, Ordering::Relaxed);
            return Err(TableError::Throttled("injected by FaultyTable".into()));
        }
        Ok(())
    }

    async fn batch_write(
        &self,
        table: &dyn Table,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
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
        let mut unprocessed = table.batch_write(sent).await?;
        unprocessed.extend(held);
        Ok(unprocessed)
    }

    async fn batch_get(&self, table: &dyn Table, keys: Vec<Key>) -> Result<BatchGot, TableError> {
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
        let mut got = table.batch_get(asked).await?;
        got.unprocessed.extend(held);
        Ok(got)
    }
}
