//! The first stage of Strata's bulk import: an uploaded export turned into
//! rows, streaming, with nothing lost silently.
//!
//! Every data row of the input comes out of [`Rows`] exactly once, in input
//! order and numbered from 1: either as a [`Row`] or as a [`RowError`] naming
//! the row, its line, the field where one is at fault, and the reason. Only a
//! failure to read the input at all (a corrupt or truncated compressed
//! stream, a broken connection) ends the iteration early, as
//! [`ReadError::Io`], after the rows before it.
//!
//! Inputs: delimited text (`,` `\t` `;` `|`, RFC 4180 quoting, fields over
//! several lines), whitespace-aligned columns, and JSON Lines; plain, gzip
//! (multi-member too) or zstd; UTF-8 (a BOM is dropped) or a declared legacy
//! encoding such as GBK. Compression and format are sniffed unless given.
//! Memory is bounded by `max_row_bytes` plus fixed buffers, however large the
//! input or any one row in it.
//!
//! Values are returned as written. In particular a value starting with `=`,
//! `+`, `-` or `@` is plain text here and is never evaluated; whoever later
//! exports Strata data to a spreadsheet must escape such values (CSV
//! injection). Numbers, dates and amounts stay text for validation to parse.
//!
//! ```
//! let csv = "email,name\nann@example.com,Ann\nbad-row\n";
//! let rows = strata_rows::open(std::io::Cursor::new(csv), &Default::default()).unwrap();
//! assert_eq!(rows.header(), ["email", "name"]);
//! let (good, bad): (Vec<_>, Vec<_>) = rows.partition(Result::is_ok);
//! assert_eq!((good.len(), bad.len()), (1, 1));
//! ```

mod delimited;
mod error;
mod jsonl;
mod lines;
mod options;
mod rows;
mod sniff;
mod source;
mod text;

pub use error::{OpenError, ReadError, RowError, code};
pub use options::{Compression, Encoding, FormatHint, ReadOptions};
pub use rows::{DetectedFormat, Fields, Row, Rows, open};
pub use sniff::Layout;
pub use source::Codec;
