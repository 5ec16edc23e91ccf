use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::BlobError;
use strata_domain::ports::table::{Key, TableError};

#[derive(Debug, Clone, thiserror::Error)]
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
    /// The key service failed or refused.
    #[error(transparent)]
    Key(#[from] strata_domain::ports::keys::KeyError),
    /// The customer's data key is destroyed: their personal data was erased
    /// and what remains of it anywhere cannot be read.
    #[error("the personal data of customer {customer} was erased")]
    Erased { customer: CustomerId },
    /// A pseudonymous repository (built without keys) was asked to write
    /// a profile or find one by an identifier.
    #[error("this repository holds no keys: it reads profiles without personal data")]
    Pseudonymous,
    /// The record asked for does not exist.
    #[error("{what} does not exist")]
    NotFound { what: String },
    /// The record is in the cold tier and cannot be changed there.
    #[error("{what} is archived in the cold tier; it changes once read back")]
    Archived { what: String },
    /// A debit asked for more points than the balance holds.
    #[error("the balance holds {available} points; {asked} were asked for")]
    InsufficientPoints { available: i64, asked: i64 },
    /// The batch writer gave up; the named count of writes was not applied.
    #[error("{left} writes were still unprocessed after {attempts} attempts")]
    BatchExhausted { left: usize, attempts: u32 },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Table(e) => e.is_retryable(),
            StoreError::Blob(e) => e.is_retryable(),
            StoreError::Key(e) => e.is_retryable(),
            StoreError::Conflict { .. } | StoreError::BatchExhausted { .. } => true,
            _ => false,
        }
    }
}
