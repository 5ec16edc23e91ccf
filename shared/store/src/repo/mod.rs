pub mod access;
pub mod activity;
pub mod churn;
pub mod consents;
pub mod customers;
pub mod engage;
pub mod erasure;
pub mod idempotency;
pub mod imports;
pub mod inactive;
pub mod merges;
pub mod partitions;
pub mod products;
pub mod recommend;
pub mod retention;
pub mod rewards;
pub mod tiering;
pub mod value;

use strata_domain::ports::table::{Condition, Item, Table, TableError, Value};

use crate::error::StoreError;

/// Puts the configuration item `CONFIG#<name>` under its revision, as
/// `put_revision` does: the admin policies and lists share it.
pub(crate) async fn put_config<T: serde::Serialize>(
    table: &dyn Table,
    name: &str,
    record: &T,
    expected: u64,
    what: &str,
) -> Result<(), StoreError> {
    let item = crate::codec::encode(
        crate::codec::RecordKind::Config,
        &crate::keys::config(name),
        record,
        &[],
    )?;
    put_revision(table, item, expected, what).await
}

/// Puts a record kept under a revision (admin policies, templates) if the
/// stored one is still at `expected` (0: none stored yet); `Conflict`
/// naming `what` otherwise.
pub(crate) async fn put_revision(
    table: &dyn Table,
    item: Item,
    expected: u64,
    what: &str,
) -> Result<(), StoreError> {
    let condition = match expected {
        0 => Condition::NotExists,
        revision => Condition::Equals("revision".into(), Value::number(revision)),
    };
    table
        .put(item, Some(condition))
        .await
        .map_err(|error| match error {
            TableError::ConditionFailed => StoreError::Conflict { what: what.into() },
            other => other.into(),
        })
}
