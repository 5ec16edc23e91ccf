//! Conversions between the domain's `Value`/`Item` and the SDK's `AttributeValue`.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use strata_domain::ports::table::{Cursor, Item, Key, PK, SK, TableError, Value};

pub(crate) type SdkItem = HashMap<String, AttributeValue>;

pub(crate) fn to_sdk(value: Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s),
        Value::N(n) => AttributeValue::N(n),
        Value::B(b) => AttributeValue::B(Blob::new(b)),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Null => AttributeValue::Null(true),
        Value::L(items) => AttributeValue::L(items.into_iter().map(to_sdk).collect()),
        Value::M(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, to_sdk(v))).collect()),
    }
}

/// Sets have no domain counterpart: the domain never writes them, so one in
/// the table was written by something else and is reported as corrupt data.
pub(crate) fn from_sdk(value: AttributeValue) -> Result<Value, TableError> {
    Ok(match value {
        AttributeValue::S(s) => Value::S(s),
        AttributeValue::N(n) => Value::N(n),
        AttributeValue::B(b) => Value::B(b.into_inner()),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => {
            Value::L(items.into_iter().map(from_sdk).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::M(
            map.into_iter()
                .map(|(k, v)| Ok((k, from_sdk(v)?)))
                .collect::<Result<_, TableError>>()?,
        ),
        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => {
            return Err(TableError::Corrupt(
                "DynamoDB sets are not supported".into(),
            ));
        }
        other => {
            return Err(TableError::Corrupt(format!(
                "unknown DynamoDB attribute type: {other:?}"
            )));
        }
    })
}

pub(crate) fn item_to_sdk(item: Item) -> SdkItem {
    item.into_iter().map(|(k, v)| (k, to_sdk(v))).collect()
}

pub(crate) fn item_from_sdk(item: SdkItem) -> Result<Item, TableError> {
    item.into_iter()
        .map(|(k, v)| Ok((k, from_sdk(v)?)))
        .collect()
}

pub(crate) fn key_to_sdk(key: &Key) -> SdkItem {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(crate) fn key_from_sdk(key: SdkItem) -> Result<Key, TableError> {
    let item = item_from_sdk(key)?;
    Key::of(&item).ok_or_else(|| TableError::Corrupt("a returned key lacks string pk/sk".into()))
}

pub(crate) fn cursor_to_sdk(cursor: Cursor) -> SdkItem {
    item_to_sdk(cursor.0)
}

/// DynamoDB signals the last page by omitting `LastEvaluatedKey`; an empty
/// map is treated the same way.
pub(crate) fn cursor_from_sdk(key: Option<SdkItem>) -> Result<Option<Cursor>, TableError> {
    match key {
        Some(key) if !key.is_empty() => Ok(Some(Cursor(item_from_sdk(key)?))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_variant_round_trips() {
        let nested = Value::M(BTreeMap::from([
            (
                "list".to_owned(),
                Value::L(vec![Value::S("x".into()), Value::Null, Value::L(vec![])]),
            ),
            ("empty".to_owned(), Value::M(BTreeMap::new())),
        ]));
        let values = [
            Value::S("text".into()),
            Value::N("-12.5".into()),
            Value::B(vec![0, 1, 255]),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::L(vec![Value::number(1), Value::B(vec![])]),
            nested,
        ];
        for value in values {
            assert_eq!(
                from_sdk(to_sdk(value.clone())).expect("converts back"),
                value
            );
        }
    }

    #[test]
    fn sets_are_reported_as_corrupt() {
        let err = from_sdk(AttributeValue::Ss(vec!["a".into()])).expect_err("sets are refused");
        assert!(matches!(err, TableError::Corrupt(_)));
    }

    #[test]
    fn keys_convert_both_ways() {
        let key = Key::new("CUST#1", "PROFILE");
        assert_eq!(key_from_sdk(key_to_sdk(&key)).expect("a key"), key);
    }
}
