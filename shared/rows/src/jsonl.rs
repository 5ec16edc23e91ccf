//! One JSON Lines line to one object. serde_json's own `Map` keeps the last
//! of two equal keys silently; this parser refuses them instead.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::code;

/// Why a line is not a usable object.
pub(crate) struct Rejection {
    pub(crate) code: &'static str,
    pub(crate) field: Option<String>,
    pub(crate) reason: String,
}

pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, Rejection> {
    let mut duplicate = None;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = ObjectSeed {
        duplicate: &mut duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|object| deserializer.end().map(|()| object));
    parsed.map_err(|error| {
        if let Some(key) = duplicate {
            return Rejection {
                code: code::DUPLICATE_KEY,
                reason: format!("the key {key:?} appears more than once"),
                field: Some(key),
            };
        }
        let code = if error.is_data() {
            code::NOT_AN_OBJECT
        } else {
            code::INVALID_JSON
        };
        Rejection {
            code,
            field: None,
            reason: error.to_string(),
        }
    })
}

/// The length of the longest text (string value or key) anywhere in `value`,
/// which is what `max_field_bytes` limits in JSON Lines.
pub(crate) fn longest_text(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(longest_text).max().unwrap_or(0),
        Value::Object(entries) => entries
            .iter()
            .map(|(key, value)| key.len().max(longest_text(value)))
            .max()
            .unwrap_or(0),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

struct ObjectSeed<'a> {
    duplicate: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            if object.contains_key(&key) {
                let error = de::Error::custom(format_args!("duplicate key {key:?}"));
                *self.duplicate = Some(key);
                return Err(error);
            }
            let value = entries.next_value()?;
            object.insert(key, value);
        }
        Ok(object)
    }
}
