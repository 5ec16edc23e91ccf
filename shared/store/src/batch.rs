//! Writes any number of items through 25-item batch writes, and reads any
//! number through 100-key batch reads, several requests in flight, retrying
//! unprocessed items and throttling with backoff and jitter until none is left.

use std::collections::HashMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use rand::Rng;
use strata_domain::ports::table::{
    Item, Key, MAX_BATCH_GET, MAX_BATCH_WRITE, Query, Table, WriteRequest,
};

use crate::error::StoreError;

#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Batch requests in flight at once.
    pub concurrency: usize,
    /// Attempts per batch before giving up on what is left.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            concurrency: 4,
            max_attempts: 16,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// What a batch write cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub items: usize,
    /// BatchWriteItem requests sent, retries included.
    pub requests: usize,
    pub retries: usize,
}

impl BatchReport {
    fn add(mut self, other: BatchReport) -> BatchReport {
        self.items += other.items;
        self.requests += other.requests;
        self.retries += other.retries;
        self
    }
}

/// Writes every request. Requests naming the same key must not be passed
/// twice (as with DynamoDB, the last write would race the first).
pub async fn write_all(
    table: &dyn Table,
    writes: Vec<WriteRequest>,
    policy: BatchPolicy,
) -> Result<BatchReport, StoreError> {
    let chunks: Vec<Vec<WriteRequest>> = chunked(writes, MAX_BATCH_WRITE);
    stream::iter(chunks)
        .map(|chunk| write_chunk(table, chunk, policy))
        .buffer_unordered(policy.concurrency.max(1))
        .try_fold(BatchReport::default(), |total, one| async move {
            Ok(total.add(one))
        })
        .await
}

/// Reads every key that exists; duplicates in `keys` are read once.
pub async fn get_many(
    table: &dyn Table,
    keys: Vec<Key>,
    policy: BatchPolicy,
) -> Result<HashMap<Key, Item>, StoreError> {
    let mut distinct = keys;
    distinct.sort();
    distinct.dedup();
    let found: Vec<Vec<Item>> = stream::iter(chunked(distinct, MAX_BATCH_GET))
        .map(|chunk| get_chunk(table, chunk, policy))
        .buffer_unordered(policy.concurrency.max(1))
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .flatten()
        .filter_map(|item| Some((Key::of(&item)?, item)))
        .collect())
}

async fn get_chunk(
    table: &dyn Table,
    chunk: Vec<Key>,
    policy: BatchPolicy,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(chunk.len());
    let mut pending = chunk;
    for attempt in 0..policy.max_attempts {
        if attempt > 0 {
            tokio::time::sleep(backoff(policy, attempt)).await;
        }
        match table.batch_get(pending.clone()).await {
            Ok(got) => {
                found.extend(got.items);
                if got.unprocessed.is_empty() {
                    return Ok(found);
                }
                pending = got.unprocessed;
            }
            Err(error) if error.is_retryable() => {
                tracing::debug!(%error, attempt, "batch read throttled; retrying");
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::BatchExhausted {
        left: pending.len(),
        attempts: policy.max_attempts,
    })
}

fn chunked<T>(all: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::with_capacity(all.len().div_ceil(size));
    let mut rest = all.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(size).collect());
    }
    chunks
}

async fn write_chunk(
    table: &dyn Table,
    chunk: Vec<WriteRequest>,
    policy: BatchPolicy,
) -> Result<BatchReport, StoreError> {
    let mut report = BatchReport {
        items: chunk.len(),
        ..BatchReport::default()
    };
    let mut pending = chunk;
    for attempt in 0..policy.max_attempts {
        if attempt > 0 {
            report.retries += 1;
            tokio::time::sleep(backoff(policy, attempt)).await;
        }
        report.requests += 1;
        match table.batch_write(pending.clone()).await {
            Ok(unprocessed) if unprocessed.is_empty() => return Ok(report),
            Ok(unprocessed) => pending = unprocessed,
            Err(error) if error.is_retryable() => {
                tracing::debug!(%error, attempt, "batch write throttled; retrying");
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::BatchExhausted {
        left: pending.len(),
        attempts: policy.max_attempts,
    })
}

/// Exponential backoff with full jitter (AWS architecture blog's advice), so
/// that many writers throttled together do not retry together.
pub(crate) fn backoff(policy: BatchPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// Every item a query matches, page after page (for partitions known to be
/// small: a customer's ledger, a config partition, one month's index).
pub async fn query_all(table: &dyn Table, query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = table.query(query.clone().start(start)).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_at_most_25() {
        let writes = (0..60)
            .map(|i| {
                WriteRequest::Delete(strata_domain::ports::table::Key::new("p", i.to_string()))
            })
            .collect();
        let sizes: Vec<usize> = chunked(writes, MAX_BATCH_WRITE)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [25, 25, 10]);
    }

    #[test]
    fn backoff_stays_under_the_cap() {
        let policy = BatchPolicy::default();
        for attempt in 0..40 {
            assert!(backoff(policy, attempt) <= policy.max_delay);
        }
    }
}
