use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::BlobError;
use strata_domain::ports::table::{Key, TableError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Someone else changed the record since it was read.
    #[error("{what} was changed by another writer; read it again and retry")]
    Conflict { what: String },
    /// Another customer is already known by this e-mail, phone or source id.
    #[error("{identifier} already belongs to customer {owner}")]
    IdentifierTaken {
        identifier: String,
        owner: CustomerId,
    },
    #[error("the record already exists: {what}")]
    AlreadyExists { what: String },
    #[error("could not encode a record: {0}")]
    Encode(String),
    #[error("stored item {key:?} is unreadable: {reason}")]
    Corrupt { key: Option<Key>, reason: String },
    /// Part of the history is in an archive class; a restore was asked for
    /// and the history can be read once it is done.
    #[error("{objects} cold objects are being restored; ready by {ready_by}")]
    Restoring {
        ready_by: chrono::DateTime<chrono::Utc>,
        objects: usize,
    },
    /// The customer has records in the cold tier, but this repository was
    /// built without one (`with_cold_tier`).
    #[error("customer {customer} has cold records and no cold tier is configured")]
    ColdTierUnavailable { customer: CustomerId },
    /// The batch writer gave up; the named count of writes was not applied.
    #[error("{left} writes were still unprocessed after {attempts} attempts")]
    BatchExhausted { left: usize, attempts: u32 },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Table(e) => e.is_retryable(),
            StoreError::Blob(e) => e.is_retryable(),
            StoreError::Conflict { .. } | StoreError::BatchExhausted { .. } => true,
            _ => false,
        }
    }
}
