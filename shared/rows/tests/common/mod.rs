//! Helpers shared by the test files (each test file uses some of them).
#![allow(dead_code)]

use std::io::{Cursor, Write};

use strata_rows::{Fields, ReadError, ReadOptions, Row, RowError, Rows, open};

pub struct Read {
    pub rows: Rows,
    pub items: Vec<Result<Row, ReadError>>,
}

impl Read {
    /// The values of item `i`, which must be a delimited row.
    pub fn columns(&self, i: usize) -> Vec<&str> {
        match &self.items[i] {
            Ok(Row {
                fields: Fields::Columns(values),
                ..
            }) => values.iter().map(String::as_str).collect(),
            other => panic!("item {i} is not a row of columns: {other:?}"),
        }
    }

    pub fn row(&self, i: usize) -> &Row {
        match &self.items[i] {
            Ok(row) => row,
            other => panic!("item {i} is not a row: {other:?}"),
        }
    }

    pub fn error(&self, i: usize) -> &RowError {
        match &self.items[i] {
            Err(ReadError::Row(error)) => error,
            other => panic!("item {i} is not a row error: {other:?}"),
        }
    }

    /// Item numbers and lines, for checking the numbering.
    pub fn numbers_and_lines(&self) -> Vec<(u64, u64)> {
        self.items
            .iter()
            .map(|item| match item {
                Ok(row) => (row.number, row.line),
                Err(ReadError::Row(e)) => (e.number, e.line),
                Err(ReadError::Io(e)) => panic!("unexpected I/O error: {e}"),
            })
            .collect()
    }
}

pub fn read_with(input: impl AsRef<[u8]>, options: &ReadOptions) -> Read {
    let mut rows = open(Cursor::new(input.as_ref().to_vec()), options)
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    let items = rows.by_ref().collect();
    Read { rows, items }
}

pub fn read(input: impl AsRef<[u8]>) -> Read {
    read_with(input, &ReadOptions::default())
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).expect("writing to memory")
}
