//! Ports: the capabilities the domain needs from storage, sized to what the
//! services use. Adapters (DynamoDB, S3, embedded) implement them; the domain
//! never names an adapter.

pub mod blob;
pub mod table;

pub use blob::{
    BlobError, BlobStore, ByteStream, ListPage, ObjectMeta, ObjectSummary, PutOptions, PutReceipt,
    StorageClass, StoredObject,
};
pub use table::{
    Condition, Cursor, Index, Item, Key, Page, Query, SortCondition, Table, TableError, TransactOp,
    Update, Value, WriteRequest,
};
