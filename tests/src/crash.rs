//! A table and an object store that count requests and can "crash": after
//! a set number of writes (puts, updates, deletes, batches, transactions,
//! object puts, copies, deletes, restores) every further request fails, as
//! if the process had died there. Both share one counter, so a job that
//! writes to both can be stopped after any one of its steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use strata_domain::ports::blob::{
    BlobError, BlobStore, ByteStream, ListPage, ObjectMeta, PutOptions, PutReceipt, RestoreState,
    RestoreTier, StorageClass, StoredObject,
};
use strata_domain::ports::table::{Table, TableError};

use crate::intercept::{Intercepted, Interceptor, Operation};

/// What the wrapped stores were asked, and when to stop.
#[derive(Debug, Default)]
pub struct Requests {
    /// Writes allowed before the crash; `usize::MAX` never crashes.
    crash_after: AtomicUsize,
    writes: AtomicUsize,
    pub table_requests: AtomicU64,
    pub blob_puts: AtomicU64,
    pub blob_gets: AtomicU64,
    pub blob_other: AtomicU64,
}

impl Requests {
    pub fn new(crash_after: Option<usize>) -> Arc<Requests> {
        let requests = Requests::default();
        requests
            .crash_after
            .store(crash_after.unwrap_or(usize::MAX), Ordering::SeqCst);
        Arc::new(requests)
    }

    /// Writes done (or attempted before the crash).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst).min(self.crash_after())
    }

    pub fn crash_after(&self) -> usize {
        self.crash_after.load(Ordering::SeqCst)
    }

    pub fn crashed(&self) -> bool {
        self.writes.load(Ordering::SeqCst) > self.crash_after()
    }

    /// S3 requests of every kind.
    pub fn blob_requests(&self) -> u64 {
        self.blob_puts.load(Ordering::Relaxed)
            + self.blob_gets.load(Ordering::Relaxed)
            + self.blob_other.load(Ordering::Relaxed)
    }

    fn alive(&self) -> bool {
        self.writes.load(Ordering::SeqCst) <= self.crash_after()
    }

    /// Counts a write; `false` once the crash point is passed.
    fn write(&self) -> bool {
        self.writes.fetch_add(1, Ordering::SeqCst) < self.crash_after()
    }
}

// A dead process retries nothing: the injected failure is not retryable, so
// the job stops at once instead of waiting out its backoff (with a retryable
// error each crash point cost the importer ≈ 10 s of sleeping).
fn table_down() -> TableError {
    TableError::InvalidRequest("crashed (injected)".into())
}

fn blob_down() -> BlobError {
    BlobError::Refused("crashed (injected)".into())
}

/// The table's side of the crash: reads fail once crashed, and each write
/// counts towards the crash point.
impl Interceptor for Arc<Requests> {
    fn before(&self, operation: Operation) -> Result<(), TableError> {
        self.table_requests.fetch_add(1, Ordering::Relaxed);
        let allowed = if operation.reads() {
            self.alive()
        } else {
            self.write()
        };
        if allowed { Ok(()) } else { Err(table_down()) }
    }
}

pub type CrashingTable = Intercepted<Arc<Requests>>;

impl CrashingTable {
    pub fn new(inner: Arc<dyn Table>, requests: Arc<Requests>) -> Self {
        Intercepted::wrap(inner, requests)
    }
}

pub struct CrashingBlobs {
    inner: Arc<dyn BlobStore>,
    requests: Arc<Requests>,
}

impl CrashingBlobs {
    pub fn new(inner: Arc<dyn BlobStore>, requests: Arc<Requests>) -> Self {
        CrashingBlobs { inner, requests }
    }

    fn count(&self, counter: &AtomicU64, write: bool) -> Result<(), BlobError> {
        counter.fetch_add(1, Ordering::Relaxed);
        let alive = if write {
            self.requests.write()
        } else {
            self.requests.alive()
        };
        if alive { Ok(()) } else { Err(blob_down()) }
    }
}

#[async_trait]
impl BlobStore for CrashingBlobs {
    async fn put(
        &self,
        key: &str,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutReceipt, BlobError> {
        self.count(&self.requests.blob_puts, true)?;
        self.inner.put(key, body, options).await
    }

    async fn get(&self, key: &str) -> Result<StoredObject, BlobError> {
        self.count(&self.requests.blob_gets, false)?;
        self.inner.get(key).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, BlobError> {
        self.count(&self.requests.blob_other, false)?;
        self.inner.head(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<String>,
        max_keys: u32,
    ) -> Result<ListPage, BlobError> {
        self.count(&self.requests.blob_other, false)?;
        self.inner.list(prefix, continuation, max_keys).await
    }

    async fn copy(
        &self,
        from: &str,
        to: &str,
        storage_class: StorageClass,
    ) -> Result<(), BlobError> {
        self.count(&self.requests.blob_other, true)?;
        self.inner.copy(from, to, storage_class).await
    }

    async fn restore(
        &self,
        key: &str,
        days: u32,
        tier: RestoreTier,
    ) -> Result<RestoreState, BlobError> {
        self.count(&self.requests.blob_other, true)?;
        self.inner.restore(key, days, tier).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.count(&self.requests.blob_other, true)?;
        self.inner.delete(key).await
    }
}
