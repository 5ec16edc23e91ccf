//! The on-disk encoding of items.
//!
//! A hand-written binary format rather than serde: the bytes on disk must not
//! change meaning when someone renames a variant or adds a serde attribute to
//! `Value`, and binary attributes stay one byte per byte instead of a JSON
//! array of numbers.
//!
//! Layout: a format byte, then the attribute count and `(name, value)` pairs.
//! Lengths and counts are LEB128; strings are UTF-8; a value is a tag byte
//! followed by its payload.

use strata_domain::ports::table::{Item, TableError, Value};

const FORMAT: u8 = 1;

const TAG_S: u8 = 0;
const TAG_N: u8 = 1;
const TAG_B: u8 = 2;
const TAG_FALSE: u8 = 3;
const TAG_TRUE: u8 = 4;
const TAG_NULL: u8 = 5;
const TAG_L: u8 = 6;
const TAG_M: u8 = 7;

pub fn encode(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT);
    put_len(&mut out, item.len());
    for (name, value) in item {
        put_bytes(&mut out, name.as_bytes());
        put_value(&mut out, value);
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<Item, TableError> {
    let mut reader = Reader { bytes };
    let format = reader.byte()?;
    if format != FORMAT {
        return Err(corrupt(format!("unknown item format {format}")));
    }
    let item = reader.map()?;
    if !reader.bytes.is_empty() {
        return Err(corrupt("trailing bytes after an item"));
    }
    Ok(item)
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::S(s) => {
            out.push(TAG_S);
            put_bytes(out, s.as_bytes());
        }
        Value::N(n) => {
            out.push(TAG_N);
            put_bytes(out, n.as_bytes());
        }
        Value::B(b) => {
            out.push(TAG_B);
            put_bytes(out, b);
        }
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Null => out.push(TAG_NULL),
        Value::L(values) => {
            out.push(TAG_L);
            put_len(out, values.len());
            for value in values {
                put_value(out, value);
            }
        }
        Value::M(map) => {
            out.push(TAG_M);
            put_len(out, map.len());
            for (name, value) in map {
                put_bytes(out, name.as_bytes());
                put_value(out, value);
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let mut rest = len as u64;
    while rest >= 0x80 {
        out.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

fn corrupt(detail: impl std::fmt::Display) -> TableError {
    TableError::Corrupt(format!("stored item: {detail}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, TableError> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| corrupt("truncated"))?;
        self.bytes = rest;
        Ok(first)
    }

    fn len(&mut self) -> Result<usize, TableError> {
        let mut len: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                // A length can never exceed what is left to read, which also
                // keeps a corrupt count from reserving absurd capacity.
                return usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= self.bytes.len())
                    .ok_or_else(|| corrupt("length past the end"));
            }
        }
        Err(corrupt("overlong length"))
    }

    fn slice(&mut self) -> Result<&[u8], TableError> {
        let len = self.len()?;
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, TableError> {
        let bytes = self.slice()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("a string is not UTF-8"))
    }

    fn map(&mut self) -> Result<Item, TableError> {
        let count = self.len()?;
        let mut map = Item::new();
        for _ in 0..count {
            let name = self.string()?;
            let value = self.value()?;
            map.insert(name, value);
        }
        Ok(map)
    }

    fn value(&mut self) -> Result<Value, TableError> {
        Ok(match self.byte()? {
            TAG_S => Value::S(self.string()?),
            TAG_N => Value::N(self.string()?),
            TAG_B => Value::B(self.slice()?.to_vec()),
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_NULL => Value::Null,
            TAG_L => {
                let count = self.len()?;
                let mut values = Vec::with_capacity(count);
                for _ in 0..count {
                    values.push(self.value()?);
                }
                Value::L(values)
            }
            TAG_M => Value::M(self.map()?),
            tag => return Err(corrupt(format!("unknown value tag {tag}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind_of_value() -> Item {
        let nested = Value::M(Item::from([
            (
                "list".to_owned(),
                Value::L(vec![Value::Null, Value::number(-7)]),
            ),
            ("empty".to_owned(), Value::M(Item::new())),
        ]));
        Item::from([
            ("pk".to_owned(), Value::S("CUST#é".into())),
            ("sk".to_owned(), Value::S(String::new())),
            ("n".to_owned(), Value::N("12345678901234567890.5".into())),
            ("b".to_owned(), Value::B((0..=255).collect())),
            ("yes".to_owned(), Value::Bool(true)),
            ("no".to_owned(), Value::Bool(false)),
            ("long".to_owned(), Value::S("x".repeat(300))),
            ("nested".to_owned(), nested),
        ])
    }

    #[test]
    fn round_trips_every_kind_of_value() {
        let item = every_kind_of_value();
        assert_eq!(decode(&encode(&item)).unwrap(), item);
    }

    #[test]
    fn binary_stays_compact() {
        let item = Item::from([("b".to_owned(), Value::B(vec![0xff; 1000]))]);
        assert!(encode(&item).len() < 1010);
    }

    #[test]
    fn damaged_bytes_are_reported_not_panicked_on() {
        let bytes = encode(&every_kind_of_value());
        for cut in 0..bytes.len() {
            assert!(matches!(decode(&bytes[..cut]), Err(TableError::Corrupt(_))));
        }
        let mut wrong_format = bytes.clone();
        wrong_format[0] = 99;
        assert!(decode(&wrong_format).is_err());
        assert!(
            decode(&[
                FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ])
            .is_err()
        );
    }
}
