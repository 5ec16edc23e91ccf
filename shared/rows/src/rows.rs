//! Opening an input and iterating over its rows: every data row comes out
//! numbered, either as a `Row` or as a `RowError`.

use std::fmt;
use std::io::{self, BufReader, Read};

use serde_json::{Map, Value};

use crate::delimited::{DelimitedReader, Flaw, MAX_FIELDS};
use crate::error::{OpenError, ReadError, RowError, code};
use crate::jsonl::{longest_text, parse_object};
use crate::lines::LineReader;
use crate::options::ReadOptions;
use crate::sniff::{Layout, sniff};
use crate::source::{Codec, Prefixed, decompress, read_prefix};
use crate::text::Decoder;

/// How much decompressed text the format sniffer looks at.
const SAMPLE_BYTES: usize = 64 << 10;
const READ_BUFFER: usize = 64 << 10;
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";
const UTF16_BOMS: [&[u8]; 2] = [b"\xff\xfe", b"\xfe\xff"];

/// What `open` found the input to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedFormat {
    pub compression: Codec,
    /// For `Delimited`, the delimiter byte in use.
    pub layout: Layout,
}

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based; rows and row errors share the numbering, blank lines do not
    /// take a number.
    pub number: u64,
    /// The 1-based physical line where the row starts (a quoted field may
    /// carry it over several lines).
    pub line: u64,
    pub fields: Fields,
}

/// A row's values, exactly as written: no trimming, no number parsing, and
/// spreadsheet formula prefixes (`=`, `+`, `-`, `@`) left as plain text.
#[derive(Debug, Clone, PartialEq)]
pub enum Fields {
    /// Delimited and whitespace formats: one value per header column, in
    /// header order.
    Columns(Vec<String>),
    /// JSON Lines: the line's object, values as JSON. Numbers are
    /// serde_json numbers: integers that fit i64/u64 are exact, anything else
    /// is an f64, so exporters should send amounts as strings or integer
    /// minor units.
    Object(Map<String, Value>),
}

/// The rows of an opened input, read as they are iterated.
pub struct Rows {
    format: DetectedFormat,
    reader: Reader,
    rules: Rules,
    finished: bool,
}

/// What turns a record into a row, kept apart from the reader so both can be
/// borrowed at once.
struct Rules {
    header: Vec<String>,
    decoder: Decoder,
    max_field_bytes: usize,
    max_row_bytes: usize,
    next_number: u64,
}

enum Reader {
    Delimited(Box<DelimitedReader>),
    Whitespace(LineReader),
    JsonLines(LineReader),
}

/// Opens an export for reading: sniffs compression and format from its first
/// 64 KiB (kept and read again as rows), strips a UTF-8 byte-order mark and
/// reads the header. Memory stays flat however long the input is.
pub fn open(input: impl Read + Send + 'static, options: &ReadOptions) -> Result<Rows, OpenError> {
    if let Some(encoding) = options.encoding.legacy()
        && !encoding.is_ascii_compatible()
    {
        return Err(OpenError::UnsupportedEncoding(format!(
            "{} cannot be read; re-export the file as UTF-8",
            encoding.name()
        )));
    }
    let (mut stream, compression) = decompress(Box::new(input), options.compression)?;
    let (mut sample, pending) = read_prefix(&mut stream, SAMPLE_BYTES);
    let complete = pending.is_none() && sample.len() < SAMPLE_BYTES;
    if sample.starts_with(UTF8_BOM) {
        sample.drain(..UTF8_BOM.len());
    } else if UTF16_BOMS.iter().any(|bom| sample.starts_with(bom)) {
        return Err(OpenError::UnsupportedEncoding(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-export it as UTF-8"
                .into(),
        ));
    }
    if complete && sample.iter().all(u8::is_ascii_whitespace) {
        return Err(OpenError::Empty);
    }
    let sniffed = sniff(&sample, complete, options.format)?;
    let input = Box::new(BufReader::with_capacity(
        READ_BUFFER,
        Prefixed::new(sample, pending, stream),
    ));
    let decoder = Decoder::new(options.encoding);
    let (reader, header) = match sniffed.layout {
        Layout::Delimited { delimiter } => {
            let mut reader = DelimitedReader::new(
                input,
                delimiter,
                options.max_field_bytes,
                options.max_row_bytes,
            );
            let header = if options.has_header {
                delimited_header(&mut reader, decoder)?
            } else {
                numbered_columns(sniffed.first_width)
            };
            (Reader::Delimited(Box::new(reader)), header)
        }
        Layout::Whitespace => {
            let mut reader = LineReader::new(input, options.max_row_bytes);
            let header = if options.has_header {
                whitespace_header(&mut reader, decoder)?
            } else {
                numbered_columns(sniffed.first_width)
            };
            (Reader::Whitespace(reader), header)
        }
        Layout::JsonLines => (
            Reader::JsonLines(LineReader::new(input, options.max_row_bytes)),
            Vec::new(),
        ),
    };
    Ok(Rows {
        format: DetectedFormat {
            compression,
            layout: sniffed.layout,
        },
        reader,
        rules: Rules {
            header,
            decoder,
            max_field_bytes: options.max_field_bytes,
            max_row_bytes: options.max_row_bytes,
            next_number: 1,
        },
        finished: false,
    })
}

fn numbered_columns(width: usize) -> Vec<String> {
    (1..=width).map(|i| format!("column_{i}")).collect()
}

fn delimited_header(
    reader: &mut DelimitedReader,
    decoder: Decoder,
) -> Result<Vec<String>, OpenError> {
    let record = reader.next_record()?.ok_or(OpenError::Empty)?;
    let invalid = |reason: String| OpenError::InvalidHeader {
        line: record.line,
        reason,
    };
    if let Some(flaw) = record.flaw {
        return Err(invalid(match flaw {
            Flaw::FieldTooLong(index) => format!("column {} is too long", index + 1),
            Flaw::RowTooLong => "it is too long".into(),
            Flaw::TooManyFields => format!("it has more than {MAX_FIELDS} columns"),
            Flaw::UnclosedQuote(index) => {
                format!("column {} opens a quote that is never closed", index + 1)
            }
        }));
    }
    (0..reader.field_count())
        .map(|i| {
            decoder
                .decode(reader.field(i))
                .map(|name| name.trim().to_owned())
                .map_err(|reason| invalid(format!("column {}: {reason}", i + 1)))
        })
        .collect()
}

fn whitespace_header(reader: &mut LineReader, decoder: Decoder) -> Result<Vec<String>, OpenError> {
    let line = reader.next_non_blank()?.ok_or(OpenError::Empty)?;
    let invalid = |reason: String| OpenError::InvalidHeader {
        line: line.number,
        reason,
    };
    if line.length > reader.text().len() as u64 {
        return Err(invalid("it is too long".into()));
    }
    whitespace_fields(reader.text())
        .enumerate()
        .map(|(i, name)| {
            decoder
                .decode(name)
                .map(String::from)
                .map_err(|reason| invalid(format!("column {}: {reason}", i + 1)))
        })
        .collect()
}

fn whitespace_fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(u8::is_ascii_whitespace)
        .filter(|field| !field.is_empty())
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("header", &self.rules.header)
            .field("format", &self.format)
            .field("next_number", &self.rules.next_number)
            .field("blank_lines", &self.blank_lines())
            .finish_non_exhaustive()
    }
}

impl Rows {
    /// The column names, trimmed; `column_1`, `column_2`, … without a header
    /// line; empty for JSON Lines.
    pub fn header(&self) -> &[String] {
        &self.rules.header
    }

    /// The compression and layout in use, sniffed or as given.
    pub fn format(&self) -> DetectedFormat {
        self.format
    }

    /// Empty (or whitespace-only) lines skipped so far; they are not rows.
    pub fn blank_lines(&self) -> u64 {
        match &self.reader {
            Reader::Delimited(reader) => reader.blank_lines(),
            Reader::Whitespace(reader) | Reader::JsonLines(reader) => reader.blank_lines(),
        }
    }

    fn next_item(&mut self) -> io::Result<Option<Result<Row, RowError>>> {
        match &mut self.reader {
            Reader::Delimited(reader) => self.rules.next_delimited(reader),
            Reader::Whitespace(reader) => self.rules.next_whitespace(reader),
            Reader::JsonLines(reader) => self.rules.next_json(reader),
        }
    }
}

impl Rules {
    fn next_delimited(
        &mut self,
        reader: &mut DelimitedReader,
    ) -> io::Result<Option<Result<Row, RowError>>> {
        let Some(record) = reader.next_record()? else {
            return Ok(None);
        };
        let reader = &*reader;
        let number = self.take_number();
        let fail = |field, code, reason| {
            let (raw, length) = reader.raw();
            Err(RowError {
                number,
                line: record.line,
                raw: self.decoder.render_raw(raw, length),
                field,
                code,
                reason,
            })
        };
        if let Some(flaw) = record.flaw {
            let (field, code, reason) = match flaw {
                Flaw::FieldTooLong(index) => (
                    Some(self.column_name(index)),
                    code::FIELD_TOO_LONG,
                    self.field_too_long(),
                ),
                Flaw::RowTooLong => (None, code::ROW_TOO_LONG, self.row_too_long(reader.raw().1)),
                Flaw::TooManyFields => (
                    None,
                    code::ROW_TOO_LONG,
                    format!("the row has more than {MAX_FIELDS} fields"),
                ),
                Flaw::UnclosedQuote(index) => (
                    Some(self.column_name(index)),
                    code::UNCLOSED_QUOTE,
                    "a quote opened in this field is never closed, so everything after it up to the end of the input was read as this one value".into(),
                ),
            };
            return Ok(Some(fail(field, code, reason)));
        }
        if reader.field_count() != self.header.len() {
            let reason = self.column_count(reader.field_count());
            return Ok(Some(fail(None, code::COLUMN_COUNT, reason)));
        }
        let mut values = Vec::with_capacity(self.header.len());
        for i in 0..reader.field_count() {
            match self.decoder.decode(reader.field(i)) {
                Ok(value) => values.push(value.into_owned()),
                Err(reason) => {
                    return Ok(Some(fail(
                        Some(self.column_name(i)),
                        code::INVALID_ENCODING,
                        reason,
                    )));
                }
            }
        }
        Ok(Some(Ok(Row {
            number,
            line: record.line,
            fields: Fields::Columns(values),
        })))
    }

    fn next_whitespace(
        &mut self,
        reader: &mut LineReader,
    ) -> io::Result<Option<Result<Row, RowError>>> {
        let Some(line) = reader.next_non_blank()? else {
            return Ok(None);
        };
        let reader = &*reader;
        let number = self.take_number();
        let fail = |field, code, reason| {
            Err(RowError {
                number,
                line: line.number,
                raw: self.decoder.render_raw(reader.text(), line.length),
                field,
                code,
                reason,
            })
        };
        if line.length > self.max_row_bytes as u64 {
            return Ok(Some(fail(
                None,
                code::ROW_TOO_LONG,
                self.row_too_long(line.length),
            )));
        }
        let fields: Vec<&[u8]> = whitespace_fields(reader.text()).collect();
        if let Some(i) = fields.iter().position(|f| f.len() > self.max_field_bytes) {
            let name = self.column_name(i);
            return Ok(Some(fail(
                Some(name),
                code::FIELD_TOO_LONG,
                self.field_too_long(),
            )));
        }
        if fields.len() != self.header.len() {
            let reason = self.column_count(fields.len());
            return Ok(Some(fail(None, code::COLUMN_COUNT, reason)));
        }
        let mut values = Vec::with_capacity(fields.len());
        for (i, field) in fields.iter().enumerate() {
            match self.decoder.decode(field) {
                Ok(value) => values.push(value.into_owned()),
                Err(reason) => {
                    return Ok(Some(fail(
                        Some(self.column_name(i)),
                        code::INVALID_ENCODING,
                        reason,
                    )));
                }
            }
        }
        Ok(Some(Ok(Row {
            number,
            line: line.number,
            fields: Fields::Columns(values),
        })))
    }

    fn next_json(&mut self, reader: &mut LineReader) -> io::Result<Option<Result<Row, RowError>>> {
        let Some(line) = reader.next_non_blank()? else {
            return Ok(None);
        };
        let reader = &*reader;
        let number = self.take_number();
        let fail = |field, code, reason| {
            Err(RowError {
                number,
                line: line.number,
                raw: self.decoder.render_raw(reader.text(), line.length),
                field,
                code,
                reason,
            })
        };
        if line.length > self.max_row_bytes as u64 {
            return Ok(Some(fail(
                None,
                code::ROW_TOO_LONG,
                self.row_too_long(line.length),
            )));
        }
        let text = match self.decoder.decode(reader.text()) {
            Ok(text) => text,
            Err(reason) => return Ok(Some(fail(None, code::INVALID_ENCODING, reason))),
        };
        let object = match parse_object(&text) {
            Ok(object) => object,
            Err(rejection) => {
                return Ok(Some(fail(
                    rejection.field,
                    rejection.code,
                    rejection.reason,
                )));
            }
        };
        let long = object
            .iter()
            .find(|(key, value)| key.len().max(longest_text(value)) > self.max_field_bytes);
        if let Some((key, _)) = long {
            return Ok(Some(fail(
                Some(key.clone()),
                code::FIELD_TOO_LONG,
                self.field_too_long(),
            )));
        }
        Ok(Some(Ok(Row {
            number,
            line: line.number,
            fields: Fields::Object(object),
        })))
    }

    fn take_number(&mut self) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        number
    }

    fn column_name(&self, index: usize) -> String {
        match self.header.get(index) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("column {}", index + 1),
        }
    }

    fn column_count(&self, found: usize) -> String {
        let expected = self.header.len();
        format!("expected {expected} columns (as in the header), found {found}")
    }

    fn field_too_long(&self) -> String {
        format!(
            "the value is longer than the {}-byte limit for one field",
            self.max_field_bytes
        )
    }

    fn row_too_long(&self, length: u64) -> String {
        format!(
            "the row is {length} bytes, over the {}-byte limit for one row",
            self.max_row_bytes
        )
    }
}

impl Iterator for Rows {
    type Item = Result<Row, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.next_item() {
            Ok(Some(item)) => Some(item.map_err(ReadError::Row)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(error) => {
                self.finished = true;
                let after = self.rules.next_number - 1;
                Some(Err(ReadError::Io(io::Error::new(
                    error.kind(),
                    format!("{error} (after data row {after})"),
                ))))
            }
        }
    }
}

impl std::iter::FusedIterator for Rows {}
