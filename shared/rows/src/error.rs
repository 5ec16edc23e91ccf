//! The three ways reading goes wrong: the input cannot be opened at all, one
//! row is bad (reported, iteration goes on), or reading fails (iteration ends).

use std::fmt;
use std::io;

/// The `RowError::code` values, stable for callers to match on.
pub mod code {
    /// A field's bytes are not valid in the declared encoding (UTF-8 unless
    /// `ReadOptions::encoding` says otherwise).
    pub const INVALID_ENCODING: &str = "invalid_encoding";
    /// The row has more or fewer columns than the header.
    pub const COLUMN_COUNT: &str = "column_count";
    /// A field is longer than `ReadOptions::max_field_bytes`.
    pub const FIELD_TOO_LONG: &str = "field_too_long";
    /// A row is longer than `ReadOptions::max_row_bytes`, or has more than
    /// 65,536 fields.
    pub const ROW_TOO_LONG: &str = "row_too_long";
    /// A quoted field is never closed: the rest of the input was read into
    /// this row (delimited text).
    pub const UNCLOSED_QUOTE: &str = "unclosed_quote";
    /// A JSON Lines line is not valid JSON.
    pub const INVALID_JSON: &str = "invalid_json";
    /// A JSON Lines line is valid JSON but not an object.
    pub const NOT_AN_OBJECT: &str = "not_an_object";
    /// A JSON Lines object names the same key twice (one value would be lost).
    pub const DUPLICATE_KEY: &str = "duplicate_key";
}

/// Why an input could not be opened. Nothing has been read as rows.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("reading the input failed: {0}")]
    Io(#[from] io::Error),
    #[error("the input holds no data")]
    Empty,
    #[error(
        "the input is {0}, which cannot be imported; upload CSV, TSV or JSON Lines, optionally gzip or zstd compressed"
    )]
    UnsupportedCompression(&'static str),
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    UnsupportedFormat(String),
    #[error("the header (line {line}) cannot be used: {reason}")]
    InvalidHeader { line: u64, reason: String },
}

/// One item of `Rows` that is not a row.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// This row is bad; iteration continues with the next one.
    #[error(transparent)]
    Row(#[from] RowError),
    /// Reading failed (a corrupt or truncated compressed stream, a broken
    /// connection); iteration ends after this.
    #[error("reading the input failed: {0}")]
    Io(#[from] io::Error),
}

/// A data row that could not be turned into a `Row`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The 1-based data row number; rows and row errors share the numbering.
    pub number: u64,
    /// The physical line (1-based) where the row starts.
    pub line: u64,
    /// The row as it was in the input, decoded lossily, at most about 2 KB
    /// (longer rows end with a `…[truncated, N bytes]` marker).
    pub raw: String,
    /// The column (header name, or `column N` when it has none) or JSON key,
    /// when one field is at fault.
    pub field: Option<String>,
    /// One of the [`code`] constants.
    pub code: &'static str,
    /// What is wrong, in words a person fixing the file can act on.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} (line {})", self.number, self.line)?;
        if let Some(field) = &self.field {
            write!(f, ", field {field:?}")?;
        }
        write!(f, ": {} ({})", self.reason, self.code)
    }
}

impl std::error::Error for RowError {}
