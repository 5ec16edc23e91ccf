//! Writes, each inside one redb write transaction. redb admits one writer at
//! a time, so reading the current item, checking a condition and writing the
//! result cannot interleave with another write: that is what makes
//! conditional writes and transactions atomic.

use redb::{Database, ReadableTable, WriteTransaction};
use strata_domain::ports::table::{
    Condition, Index, Item, Key, TableError, TransactOp, Update, WriteRequest,
};

use super::codec;
use super::layout::{BaseKey, ITEMS, IndexKey, base_key, base_key_of, index_key_of, index_table};
use super::rules::check_item;
use crate::error::table_storage_error;

/// Runs `work` in a write transaction, committing only if it succeeds;
/// dropping the transaction on failure rolls everything back.
///
/// Commits keep redb's default `Durability::Immediate` (an fsync each), so an
/// acknowledged write survives a crash. That costs about 2 ms a commit here
/// (10,000 items in 400 batches take under a second), too little to justify
/// `Durability::None`, which would lose recent writes on power loss.
pub fn in_write_transaction<T>(
    db: &Database,
    work: impl FnOnce(&mut Writer<'_>) -> Result<T, TableError>,
) -> Result<T, TableError> {
    let txn = db.begin_write().map_err(table_storage_error)?;
    let outcome = work(&mut Writer::open(&txn)?)?;
    txn.commit().map_err(table_storage_error)?;
    Ok(outcome)
}

/// The base table and its indexes, open in one write transaction.
pub struct Writer<'txn> {
    items: redb::Table<'txn, BaseKey<'static>, &'static [u8]>,
    indexes: Vec<(Index, redb::Table<'txn, IndexKey<'static>, ()>)>,
}

impl<'txn> Writer<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, TableError> {
        let items = txn.open_table(ITEMS).map_err(table_storage_error)?;
        let indexes = Index::ALL
            .into_iter()
            .map(|index| {
                Ok((
                    index,
                    txn.open_table(index_table(index))
                        .map_err(table_storage_error)?,
                ))
            })
            .collect::<Result<_, TableError>>()?;
        Ok(Writer { items, indexes })
    }

    fn load(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.items
            .get(base_key(&key.pk, &key.sk))
            .map_err(table_storage_error)?
            .map(|stored| codec::decode(stored.value()))
            .transpose()
    }

    /// Writes a checked item over `previous` (the item now stored under its
    /// key), moving its index entries along.
    fn store(&mut self, previous: Option<&Item>, item: &Item) -> Result<(), TableError> {
        let key = base_key_of(item)
            .ok_or_else(|| TableError::InvalidRequest("an item lacks its pk/sk".into()))?;
        self.items
            .insert(key, codec::encode(item).as_slice())
            .map_err(table_storage_error)?;
        for (index, entries) in &mut self.indexes {
            let before = previous.and_then(|previous| index_key_of(*index, previous));
            let after = index_key_of(*index, item);
            if before == after {
                continue;
            }
            if let Some(before) = before {
                entries.remove(before).map_err(table_storage_error)?;
            }
            if let Some(after) = after {
                entries.insert(after, ()).map_err(table_storage_error)?;
            }
        }
        Ok(())
    }

    fn erase(&mut self, item: &Item) -> Result<(), TableError> {
        if let Some(key) = base_key_of(item) {
            self.items.remove(key).map_err(table_storage_error)?;
        }
        for (index, entries) in &mut self.indexes {
            if let Some(entry) = index_key_of(*index, item) {
                entries.remove(entry).map_err(table_storage_error)?;
            }
        }
        Ok(())
    }

    /// Puts a checked item if the condition holds.
    pub fn put(&mut self, item: &Item, condition: Option<&Condition>) -> Result<(), TableError> {
        let key = Key::of(item)
            .ok_or_else(|| TableError::InvalidRequest("an item lacks its pk/sk".into()))?;
        let current = self.load(&key)?;
        ensure(condition, current.as_ref())?;
        self.store(current.as_ref(), item)
    }

    pub fn update(
        &mut self,
        key: &Key,
        update: &Update,
        condition: Option<&Condition>,
    ) -> Result<Item, TableError> {
        let current = self.load(key)?;
        ensure(condition, current.as_ref())?;
        let updated = update.apply(key, current.clone())?;
        check_item(&updated)?;
        self.store(current.as_ref(), &updated)?;
        Ok(updated)
    }

    pub fn delete(&mut self, key: &Key, condition: Option<&Condition>) -> Result<(), TableError> {
        let current = self.load(key)?;
        ensure(condition, current.as_ref())?;
        match current {
            Some(current) => self.erase(&current),
            None => Ok(()),
        }
    }

    /// Applies checked batch requests unconditionally.
    pub fn batch(&mut self, writes: &[WriteRequest]) -> Result<(), TableError> {
        for write in writes {
            match write {
                WriteRequest::Put(item) => self.put(item, None)?,
                WriteRequest::Delete(key) => self.delete(key, None)?,
            }
        }
        Ok(())
    }

    /// Evaluates every operation against the current items, then applies all
    /// of them, or none if any condition fails. Operations name distinct
    /// keys, so evaluating one never changes what another sees.
    pub fn transact(&mut self, ops: &[TransactOp]) -> Result<(), TableError> {
        let mut effects = Vec::with_capacity(ops.len());
        let mut reasons = Vec::with_capacity(ops.len());
        for op in ops {
            match self.evaluate(op)? {
                Ok(effect) => {
                    effects.push(effect);
                    reasons.push("None".to_owned());
                }
                Err(reason) => reasons.push(reason),
            }
        }
        if effects.len() < ops.len() {
            // DynamoDB's wording: one reason per operation, in order.
            return Err(TableError::TransactionCanceled(format!(
                "cancellation reasons [{}]",
                reasons.join(", ")
            )));
        }
        for effect in effects {
            match effect {
                Effect::Store { previous, item } => self.store(previous.as_ref(), &item)?,
                Effect::Erase(item) => self.erase(&item)?,
                Effect::Nothing => {}
            }
        }
        Ok(())
    }

    /// What one transaction operation would do, or why it cancels the
    /// transaction. The outer error is a storage failure.
    fn evaluate(&self, op: &TransactOp) -> Result<Result<Effect, String>, TableError> {
        let (key, condition) = match op {
            TransactOp::Put { item, condition } => (Key::of(item), condition.as_ref()),
            TransactOp::Update { key, condition, .. } | TransactOp::Delete { key, condition } => {
                (Some(key.clone()), condition.as_ref())
            }
            TransactOp::Check { key, condition } => (Some(key.clone()), Some(condition)),
        };
        let key =
            key.ok_or_else(|| TableError::InvalidRequest("an item lacks its pk/sk".into()))?;
        let current = self.load(&key)?;
        if !condition.is_none_or(|condition| condition.holds(current.as_ref())) {
            return Ok(Err("ConditionalCheckFailed".to_owned()));
        }
        Ok(Ok(match op {
            TransactOp::Put { item, .. } => Effect::Store {
                previous: current,
                item: item.clone(),
            },
            TransactOp::Update { update, .. } => {
                let updated = match update
                    .apply(&key, current.clone())
                    .and_then(|updated| check_item(&updated).map(|()| updated))
                {
                    Ok(updated) => updated,
                    Err(error) => return Ok(Err(format!("ValidationError ({error})"))),
                };
                Effect::Store {
                    previous: current,
                    item: updated,
                }
            }
            TransactOp::Delete { .. } => current.map_or(Effect::Nothing, Effect::Erase),
            TransactOp::Check { .. } => Effect::Nothing,
        }))
    }
}

enum Effect {
    Store { previous: Option<Item>, item: Item },
    Erase(Item),
    Nothing,
}

fn ensure(condition: Option<&Condition>, current: Option<&Item>) -> Result<(), TableError> {
    if condition.is_none_or(|condition| condition.holds(current)) {
        Ok(())
    } else {
        Err(TableError::ConditionFailed)
    }
}
