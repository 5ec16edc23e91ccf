//! Request checks DynamoDB makes that the shared validators in the domain do
//! not, so that a request the embedded table accepts is accepted in AWS too.

use std::collections::HashSet;

use strata_domain::ports::table::{
    Index, Item, Key, MAX_TRANSACT_ITEMS, SortCondition, TableError, TransactOp, WriteRequest,
    validate_batch, validate_item,
};

/// DynamoDB's limits on key attribute values, for the table and its indexes.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;

pub fn check_key(key: &Key) -> Result<(), TableError> {
    check_key_value("pk", &key.pk, MAX_PARTITION_KEY_BYTES)?;
    check_key_value("sk", &key.sk, MAX_SORT_KEY_BYTES)
}

/// Everything a put needs: the shared item checks, then key values and the
/// types of index key attributes.
pub fn check_item(item: &Item) -> Result<(), TableError> {
    validate_item(item)?;
    let key = Key::of(item).ok_or_else(|| {
        TableError::InvalidRequest("an item needs string `pk` and `sk` attributes".into())
    })?;
    check_key(&key)?;
    for index in Index::ALL {
        for (attr, max) in [
            (index.pk_attr(), MAX_PARTITION_KEY_BYTES),
            (index.sk_attr(), MAX_SORT_KEY_BYTES),
        ] {
            if let Some(value) = item.get(attr) {
                let text = value.as_str().ok_or_else(|| {
                    TableError::InvalidRequest(format!(
                        "`{attr}` is a key of index {} and must be a string",
                        index.name()
                    ))
                })?;
                check_key_value(attr, text, max)?;
            }
        }
    }
    Ok(())
}

/// The shared batch checks, then this module's checks on every request.
pub fn check_batch(writes: &[WriteRequest]) -> Result<(), TableError> {
    validate_batch(writes)?;
    for write in writes {
        match write {
            WriteRequest::Put(item) => check_item(item)?,
            WriteRequest::Delete(key) => check_key(key)?,
        }
    }
    Ok(())
}

/// DynamoDB rejects, before looking at any item, a transaction that is empty,
/// too long, names one item twice or carries an invalid item or key.
pub fn check_transaction(ops: &[TransactOp]) -> Result<(), TableError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_ITEMS {
        return Err(TableError::InvalidRequest(format!(
            "a transaction takes 1 to {MAX_TRANSACT_ITEMS} operations, got {}",
            ops.len()
        )));
    }
    let mut keys = HashSet::with_capacity(ops.len());
    for op in ops {
        let key = match op {
            TransactOp::Put { item, .. } => {
                check_item(item)?;
                Key::of(item)
                    .ok_or_else(|| TableError::InvalidRequest("an item lacks its pk/sk".into()))?
            }
            TransactOp::Update { key, .. }
            | TransactOp::Delete { key, .. }
            | TransactOp::Check { key, .. } => {
                check_key(key)?;
                key.clone()
            }
        };
        if keys.contains(&key) {
            return Err(TableError::InvalidRequest(format!(
                "the transaction names {}/{} twice",
                key.pk, key.sk
            )));
        }
        keys.insert(key);
    }
    Ok(())
}

pub fn check_partition(partition: &str) -> Result<(), TableError> {
    check_key_value("the query partition", partition, MAX_PARTITION_KEY_BYTES)
}

/// DynamoDB refuses an empty string in a key condition, as in a key.
pub fn check_sort_condition(sort: &SortCondition) -> Result<(), TableError> {
    let values: Vec<&String> = match sort {
        SortCondition::All => Vec::new(),
        SortCondition::Equals(v) | SortCondition::BeginsWith(v) => vec![v],
        SortCondition::Between(low, high) => vec![low, high],
    };
    for value in values {
        check_key_value("a sort key condition value", value, MAX_SORT_KEY_BYTES)?;
    }
    Ok(())
}

fn check_key_value(what: &str, value: &str, max: usize) -> Result<(), TableError> {
    if value.is_empty() {
        return Err(TableError::InvalidRequest(format!(
            "{what} is a key and cannot be an empty string"
        )));
    }
    if value.len() > max {
        return Err(TableError::InvalidRequest(format!(
            "{what} is {} bytes; a key value takes at most {max}",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::ports::Value;

    fn item(attrs: &[(&str, Value)]) -> Item {
        attrs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn keys_must_be_non_empty_and_short() {
        assert!(check_key(&Key::new("p", "s")).is_ok());
        assert!(check_key(&Key::new("", "s")).is_err());
        assert!(check_key(&Key::new("p", "")).is_err());
        assert!(check_key(&Key::new("p", "s".repeat(1025))).is_err());
        assert!(check_key(&Key::new("p".repeat(2048), "s".repeat(1024))).is_ok());
    }

    #[test]
    fn index_keys_must_be_strings_when_present() {
        let base = [("pk", Value::S("p".into())), ("sk", Value::S("s".into()))];
        assert!(check_item(&item(&base)).is_ok());
        let half_indexed = [
            base[0].clone(),
            base[1].clone(),
            ("gsi1pk", Value::S("g".into())),
        ];
        assert!(check_item(&item(&half_indexed)).is_ok());
        let numeric = [
            base[0].clone(),
            base[1].clone(),
            ("gsi2sk", Value::number(1)),
        ];
        assert!(check_item(&item(&numeric)).is_err());
        let empty = [
            base[0].clone(),
            base[1].clone(),
            ("gsi1sk", Value::S(String::new())),
        ];
        assert!(check_item(&item(&empty)).is_err());
    }
}
