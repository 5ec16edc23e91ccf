//! The table port on redb: one database file per table.

mod codec;
mod layout;
mod read;
mod rules;
mod write;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Builder, Database, ReadableDatabase, ReadableTable};
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Index, Item, Key, Page, Query, Table, TableError, TransactOp,
    Update, WriteRequest, validate_batch_get,
};

use self::layout::{FORMAT, FORMAT_KEY, FORMAT_VERSION, ITEMS, index_table};
use self::rules::{check_batch, check_item, check_key, check_transaction};
use self::write::in_write_transaction;
use crate::error::{EmbeddedError, join_failure};
use crate::options::EmbeddedOptions;

/// A DynamoDB-like table stored in one redb file. Cloning shares the open
/// database; redb locks the file, so one process opens it at a time.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
}

impl EmbeddedTable {
    /// Opens the table file at `path`, creating it (and its directory) if
    /// missing, with the options `STRATA_EMBEDDED_CACHE_MB` sets.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        Self::open_with(path, &EmbeddedOptions::from_env()?)
    }

    pub fn open_with(path: &Path, options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| EmbeddedError::io(dir, error))?;
        }
        let db = Builder::new()
            .set_cache_size(options.table_cache_bytes)
            .create(path)
            .map_err(|error| EmbeddedError::database(path, error))?;
        prepare(&db, path)?;
        Ok(EmbeddedTable { db: Arc::new(db) })
    }

    /// Bytes of pages the table holds in memory now (at most the cap its
    /// options set).
    pub fn cache_bytes(&self) -> usize {
        self.db.cache_stats().used_bytes()
    }

    /// Runs blocking redb work off the async runtime's worker threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, TableError> + Send + 'static,
    ) -> Result<T, TableError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|error| TableError::Unavailable(join_failure(error)))?
    }
}

/// Refuses a file written in another format.
fn prepare(db: &Database, path: &Path) -> Result<(), EmbeddedError> {
    match stamp_format(db).map_err(|error| EmbeddedError::database(path, error))? {
        FORMAT_VERSION => Ok(()),
        found => Err(EmbeddedError::UnsupportedFormat {
            path: path.to_owned(),
            found,
            expected: FORMAT_VERSION,
        }),
    }
}

/// Creates the tables (a read transaction cannot open a missing one), stamps
/// a new file with this build's format and returns the file's format.
fn stamp_format(db: &Database) -> Result<u64, redb::Error> {
    let txn = db.begin_write()?;
    let version = {
        txn.open_table(ITEMS)?;
        for index in Index::ALL {
            txn.open_table(index_table(index))?;
        }
        let mut format = txn.open_table(FORMAT)?;
        let found = format.get(FORMAT_KEY)?.map(|version| version.value());
        match found {
            Some(version) => version,
            None => {
                format.insert(FORMAT_KEY, FORMAT_VERSION)?;
                FORMAT_VERSION
            }
        }
    };
    txn.commit()?;
    Ok(version)
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        check_key(key)?;
        let key = key.clone();
        self.blocking(move |db| read::get(db, &key)).await
    }

    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        validate_batch_get(&keys)?;
        keys.iter().try_for_each(check_key)?;
        let items = self.blocking(move |db| read::batch_get(db, &keys)).await?;
        Ok(BatchGot {
            items,
            unprocessed: Vec::new(),
        })
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        check_item(&item)?;
        self.blocking(move |db| {
            in_write_transaction(db, |writer| writer.put(&item, condition.as_ref()))
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        check_key(key)?;
        let key = key.clone();
        self.blocking(move |db| {
            in_write_transaction(db, |writer| {
                writer.update(&key, &update, condition.as_ref())
            })
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        check_key(key)?;
        let key = key.clone();
        self.blocking(move |db| {
            in_write_transaction(db, |writer| writer.delete(&key, condition.as_ref()))
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.blocking(move |db| read::query(db, &query)).await
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        check_batch(&writes)?;
        self.blocking(move |db| in_write_transaction(db, |writer| writer.batch(&writes)))
            .await?;
        // Nothing is ever throttled locally.
        Ok(Vec::new())
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        check_transaction(&ops)?;
        self.blocking(move |db| in_write_transaction(db, |writer| writer.transact(&ops)))
            .await
    }

    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        self.blocking(move |db| read::scan(db, segment, total_segments, start.as_ref(), limit))
            .await
    }
}

#[cfg(test)]
mod tests;
