//! RFC 4180 records with bounded memory. csv-core (the parser inside the
//! `csv` crate) is driven directly because `csv::Reader` grows a record's
//! buffer without limit; here a record past the cap is parsed to its end with
//! its bytes thrown away.

use std::io::{self, BufRead};

use csv_core::ReadRecordResult;

use crate::source::fill_buf;
use crate::text::RAW_LIMIT;

/// More fields than this is not a spreadsheet row (Excel stops at 16,384),
/// and keeping their offsets would cost memory the row cap does not bound.
pub(crate) const MAX_FIELDS: usize = 1 << 16;
const INITIAL_OUTPUT: usize = 64 << 10;

pub(crate) struct DelimitedReader {
    core: csv_core::Reader,
    input: Box<dyn BufRead + Send>,
    max_field_bytes: usize,
    max_row_bytes: usize,
    /// Unescaped field bytes of the current record, back to back.
    output: Vec<u8>,
    /// Where each field of the current record ends in `output`.
    ends: Vec<usize>,
    fields: usize,
    /// The record's input as it was, up to `RAW_LIMIT` bytes.
    raw: Vec<u8>,
    raw_length: u64,
    /// Line ends csv-core did not count: those `skip_line_ends` took, and
    /// lone `\r`s.
    newlines_skipped: u64,
    /// The last record ended with `\r`, so a `\n` right after belongs to it.
    after_cr: bool,
    blank_lines: u64,
    finished: bool,
}

/// One record; its fields are read with `DelimitedReader::field`.
pub(crate) struct Record {
    /// 1-based physical line where the record starts.
    pub(crate) line: u64,
    pub(crate) flaw: Option<Flaw>,
}

/// Why a record's fields cannot be used; only its raw bytes are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// This field (0-based) is longer than `max_field_bytes`.
    FieldTooLong(usize),
    /// The record is longer than `max_row_bytes`.
    RowTooLong,
    /// The record has more than `MAX_FIELDS` fields.
    TooManyFields,
    /// This field (0-based) opens a quote that the input never closes, so
    /// every line after it was read into this record.
    UnclosedQuote(usize),
}

impl DelimitedReader {
    pub(crate) fn new(
        input: Box<dyn BufRead + Send>,
        delimiter: u8,
        max_field_bytes: usize,
        max_row_bytes: usize,
    ) -> Self {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(true)
            .double_quote(true)
            .build();
        Self {
            core,
            input,
            max_field_bytes,
            max_row_bytes,
            output: vec![0; INITIAL_OUTPUT.min(max_row_bytes.max(1))],
            ends: vec![0; 64],
            fields: 0,
            raw: Vec::with_capacity(RAW_LIMIT),
            raw_length: 0,
            newlines_skipped: 0,
            after_cr: false,
            blank_lines: 0,
            finished: false,
        }
    }

    pub(crate) fn blank_lines(&self) -> u64 {
        self.blank_lines
    }

    pub(crate) fn field_count(&self) -> usize {
        self.fields
    }

    /// Field `index` of the record last returned without a flaw.
    pub(crate) fn field(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.output[start..self.ends[index]]
    }

    /// The record's input bytes (at most `RAW_LIMIT`) and its full length.
    pub(crate) fn raw(&self) -> (&[u8], u64) {
        (&self.raw, self.raw_length)
    }

    /// The next non-blank record, `None` at the end of the input.
    pub(crate) fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            self.skip_line_ends()?;
            let line = self.core.line() + self.newlines_skipped;
            let Some(flaw) = self.read_record()? else {
                self.finished = true;
                return Ok(None);
            };
            if flaw.is_none() && self.is_whitespace_line() {
                self.blank_lines += 1;
                continue;
            }
            return Ok(Some(Record { line, flaw }));
        }
    }

    /// Takes the line ends before a record, counting blank lines, so the
    /// record's first line is known before csv-core (which skips blank lines
    /// silently) reads it. Lines end with `\n`, `\r\n` or a lone `\r`; a
    /// `\r` is known to be lone only when the byte after it is seen here.
    fn skip_line_ends(&mut self) -> io::Result<()> {
        loop {
            let buf = fill_buf(&mut *self.input)?;
            let mut taken = 0;
            for &b in buf {
                self.newlines_skipped += u64::from(self.after_cr && b != b'\n');
                match b {
                    b'\n' => {
                        self.newlines_skipped += 1;
                        self.blank_lines += u64::from(!self.after_cr);
                    }
                    // The record before took its own line end, so this one
                    // ends an empty line.
                    b'\r' => self.blank_lines += 1,
                    _ => {
                        self.after_cr = false;
                        break;
                    }
                }
                self.after_cr = b == b'\r';
                taken += 1;
            }
            let more = taken == buf.len() && !buf.is_empty();
            self.input.consume(taken);
            if !more {
                return Ok(());
            }
        }
    }

    /// Reads one record into `output`/`ends`; `None` at the end of input,
    /// `Some(flaw)` otherwise.
    fn read_record(&mut self) -> io::Result<Option<Option<Flaw>>> {
        self.raw.clear();
        self.raw_length = 0;
        let mut written = 0;
        self.fields = 0;
        let mut flaw = None;
        let mut probed = false;
        loop {
            let buf = fill_buf(&mut *self.input)?;
            // At the end of the input a line end is fed first. It ends the
            // record just as the end of input would, unless a quote is still
            // open: then it is copied into the field, which gives that away
            // (csv-core would otherwise close the field silently).
            let probing = buf.is_empty() && self.raw_length > 0 && !probed;
            let input: &[u8] = if probing { b"\n" } else { buf };
            // Once the record is known to be unusable its bytes are parsed
            // into the start of the buffers and dropped.
            let (out, ends) = if flaw.is_some() {
                (&mut self.output[..], &mut self.ends[..])
            } else {
                (&mut self.output[written..], &mut self.ends[self.fields..])
            };
            let (result, read, wrote, ended) = self.core.read_record(input, out, ends);
            if probing {
                probed = read == 1;
            } else {
                let room = RAW_LIMIT.saturating_sub(self.raw.len());
                self.raw.extend_from_slice(&buf[..read.min(room)]);
                self.raw_length += read as u64;
                if read > 0 {
                    self.after_cr = buf[read - 1] == b'\r';
                }
                self.input.consume(read);
            }
            if flaw.is_none() {
                written += wrote;
                self.fields += ended;
                flaw = self.too_big(written);
                if probing && probed && wrote == 1 {
                    flaw = Some(Flaw::UnclosedQuote(self.fields));
                }
            }
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if flaw.is_none() => {
                    let grown = (self.output.len() * 2).min(self.max_row_bytes + 1);
                    self.output.resize(grown.max(self.output.len() + 1), 0);
                }
                ReadRecordResult::OutputEndsFull if flaw.is_none() => {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => {
                    let flaw = flaw.or_else(|| self.long_field());
                    return Ok(Some(flaw));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Whether the record so far is already too big to keep.
    fn too_big(&self, written: usize) -> Option<Flaw> {
        if self.raw_length > self.max_row_bytes as u64 {
            return Some(match self.long_field_in_progress(written) {
                Some(field) => Flaw::FieldTooLong(field),
                None => Flaw::RowTooLong,
            });
        }
        if self.fields > MAX_FIELDS {
            return Some(Flaw::TooManyFields);
        }
        self.long_field_in_progress(written).map(Flaw::FieldTooLong)
    }

    /// The field being written, if it is already over the field cap.
    fn long_field_in_progress(&self, written: usize) -> Option<usize> {
        let start = self.fields.checked_sub(1).map_or(0, |last| self.ends[last]);
        (written - start > self.max_field_bytes).then_some(self.fields)
    }

    fn long_field(&self) -> Option<Flaw> {
        (0..self.fields)
            .find(|&i| self.field(i).len() > self.max_field_bytes)
            .map(Flaw::FieldTooLong)
    }

    /// A line of spaces or tabs only is blank, not a one-field row. Quoted
    /// whitespace (`"  "`) is a value and does not count.
    fn is_whitespace_line(&self) -> bool {
        self.fields == 1
            && self.raw_length as usize == self.raw.len()
            && self
                .raw
                .iter()
                .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    }
}
