//! Ports: the capabilities the domain needs from storage, sized to what the
//! services use. Adapters (DynamoDB, S3, embedded) implement them; the domain
//! never names an adapter.

pub mod blob;
pub mod keys;
pub mod table;

pub use blob::{
    BlobError, BlobStore, ByteStream, ListPage, ObjectMeta, ObjectSummary, PutOptions, PutReceipt,
    RestoreState, RestoreTier, Retention, RetentionMode, StorageClass, StoredObject,
};
pub use keys::{DataKey, EncryptionContext, GeneratedKey, KeyError, KeyService, WrappedKey};
pub use table::{
    BatchGot, Condition, Cursor, Index, Item, Key, Page, Query, SortCondition, Table, TableError,
    TransactOp, Update, Value, WriteRequest,
};
