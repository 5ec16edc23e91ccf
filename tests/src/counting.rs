//! A table that counts the requests it passes on, one per port call — the
//! same unit DynamoDB bills and throttles (a batch of 25 writes is one
//! request).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_domain::ports::keys::{
    DataKey, EncryptionContext, GeneratedKey, KeyError, KeyService, WrappedKey,
};
use strata_domain::ports::table::{Table, TableError};

use crate::intercept::{Intercepted, Interceptor, Operation};

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

/// Requests seen, per operation.
#[derive(Default)]
pub struct Counters([AtomicU64; 9]);

impl Interceptor for Counters {
    fn before(&self, operation: Operation) -> Result<(), TableError> {
        self.0[operation as usize].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub type CountingTable = Intercepted<Counters>;

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Intercepted::wrap(inner, Counters::default())
    }

    pub fn counts(&self) -> RequestCounts {
        let read =
            |operation: Operation| self.interceptor().0[operation as usize].load(Ordering::Relaxed);
        RequestCounts {
            get_item: read(Operation::GetItem),
            put_item: read(Operation::PutItem),
            update_item: read(Operation::UpdateItem),
            delete_item: read(Operation::DeleteItem),
            query: read(Operation::Query),
            batch_write_item: read(Operation::BatchWriteItem),
            batch_get_item: read(Operation::BatchGetItem),
            transact_write_items: read(Operation::TransactWriteItems),
            scan: read(Operation::Scan),
        }
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        for counter in &self.interceptor().0 {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A key service that counts its calls: in AWS each is a KMS request
/// (GenerateDataKey, Decrypt, Encrypt), billed and throttled per account.
pub struct CountingKeys {
    inner: Arc<dyn KeyService>,
    generated: AtomicU64,
    decrypted: AtomicU64,
    encrypted: AtomicU64,
}

/// Key-service calls: (generate, decrypt, encrypt).
pub type KeyCalls = (u64, u64, u64);

impl CountingKeys {
    pub fn new(inner: Arc<dyn KeyService>) -> Self {
        CountingKeys {
            inner,
            generated: AtomicU64::new(0),
            decrypted: AtomicU64::new(0),
            encrypted: AtomicU64::new(0),
        }
    }

    pub fn calls(&self) -> KeyCalls {
        (
            self.generated.load(Ordering::Relaxed),
            self.decrypted.load(Ordering::Relaxed),
            self.encrypted.load(Ordering::Relaxed),
        )
    }
}

#[async_trait::async_trait]
impl KeyService for CountingKeys {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey, KeyError> {
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_data_key(context).await
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.decrypted.fetch_add(1, Ordering::Relaxed);
        self.inner.decrypt_data_key(wrapped, context).await
    }

    async fn encrypt_data_key(
        &self,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        self.encrypted.fetch_add(1, Ordering::Relaxed);
        self.inner.encrypt_data_key(key, context).await
    }
}
