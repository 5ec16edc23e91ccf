//! Randomised checks, seeded so a failure names the seed that reproduces it:
//! no input makes the reader panic or lose count, and generated exports with
//! N data rows come out as exactly N rows and row errors, matching what was
//! written.

mod common;

use std::io::Cursor;

use common::{gzip, zstd};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use strata_rows::{Compression, Encoding, Fields, FormatHint, ReadError, ReadOptions, code, open};

const MAX_FIELD_BYTES: usize = 40;

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Bytes that mean something to one of the formats, and some that mean
/// nothing at all.
fn csv_ish_byte(rng: &mut StdRng) -> u8 {
    if rng.random_bool(0.2) {
        return rng.random();
    }
    pick(
        rng,
        b"ab1 ,,;\t|\"\"\n\n\r{}[]:\x1f\x8b\xef\xbb\xbf\xe4\xb8\xad\xff",
    )
}

fn random_options(rng: &mut StdRng) -> ReadOptions {
    ReadOptions {
        compression: Compression::Auto,
        format: pick(
            rng,
            &[
                FormatHint::Auto,
                FormatHint::Delimited { delimiter: None },
                FormatHint::Delimited {
                    delimiter: Some(b','),
                },
                FormatHint::Whitespace,
                FormatHint::JsonLines,
            ],
        ),
        encoding: pick(rng, &[Encoding::Utf8, Encoding::Gbk, Encoding::Latin1]),
        has_header: rng.random_bool(0.7),
        max_field_bytes: pick(rng, &[0, 3, 16, 1 << 20]),
        max_row_bytes: pick(rng, &[1, 8, 64, 4 << 20]),
    }
}

/// Whatever the input, reading ends, nothing panics, items are numbered
/// 1, 2, 3, … with lines that never go back, and only the last may be fatal.
fn check_invariants(input: Vec<u8>, options: &ReadOptions, seed: u64) {
    let length = input.len();
    let Ok(rows) = open(Cursor::new(input), options) else {
        return;
    };
    let width = rows.header().len();
    let mut expected_number = 1;
    let mut last_line = 0;
    let mut fatal = false;
    for item in rows {
        assert!(!fatal, "seed {seed}: an item after a fatal error");
        assert!(
            expected_number <= length as u64 + 1,
            "seed {seed}: more rows than bytes"
        );
        let (number, line) = match &item {
            Ok(row) => {
                if let Fields::Columns(values) = &row.fields {
                    assert_eq!(values.len(), width, "seed {seed}: row width");
                }
                (row.number, row.line)
            }
            Err(ReadError::Row(error)) => {
                assert!(
                    error.raw.len() <= 2100,
                    "seed {seed}: raw is {} bytes",
                    error.raw.len()
                );
                (error.number, error.line)
            }
            Err(ReadError::Io(_)) => {
                fatal = true;
                continue;
            }
        };
        assert_eq!(number, expected_number, "seed {seed}: numbering");
        assert!(
            line > last_line,
            "seed {seed}: line {line} after {last_line}"
        );
        expected_number += 1;
        last_line = line;
    }
}

fn maybe_compress(rng: &mut StdRng, bytes: Vec<u8>) -> Vec<u8> {
    let mut compressed = match rng.random_range(0..4) {
        0 => gzip(&bytes),
        1 => zstd(&bytes),
        _ => return bytes,
    };
    if rng.random_bool(0.3) {
        let cut = rng.random_range(0..=compressed.len());
        compressed.truncate(cut);
    }
    compressed
}

#[test]
fn random_bytes_never_panic_and_keep_count() {
    for seed in 0..5000 {
        let mut rng = StdRng::seed_from_u64(seed);
        let length = rng.random_range(0..400);
        let bytes: Vec<u8> = (0..length).map(|_| csv_ish_byte(&mut rng)).collect();
        let options = random_options(&mut rng);
        let input = maybe_compress(&mut rng, bytes);
        check_invariants(input, &options, seed);
    }
}

enum Expected {
    Row {
        line: u64,
        fields: Vec<String>,
    },
    Error {
        line: u64,
        code: &'static str,
        field: Option<String>,
    },
}

struct Export {
    bytes: Vec<u8>,
    delimiter: u8,
    expected: Vec<Expected>,
    blank_lines: u64,
}

fn random_text(rng: &mut StdRng) -> String {
    let alphabet = [
        "a", "Z", "0", "9", " ", "=", "+", "-", "@", "\"", ",", ";", "\t", "|", "\n", "\r\n", "é",
        "中", "😀", "1,234.50",
    ];
    // At most 4 pieces of at most 8 bytes: never over MAX_FIELD_BYTES.
    let length = rng.random_range(0..5);
    (0..length).map(|_| pick(rng, &alphabet)).collect()
}

fn write_field(out: &mut Vec<u8>, value: &[u8], delimiter: u8, force_quotes: bool) {
    let special = value
        .iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if special || force_quotes {
        out.push(b'"');
        for &b in value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value);
    }
}

/// Writes one record; a lone field of nothing but spaces and tabs is quoted,
/// as it would otherwise be a blank line.
fn write_record(out: &mut Vec<u8>, rng: &mut StdRng, values: &[Vec<u8>], delimiter: u8) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let lone_blank = values.len() == 1 && value.iter().all(|&b| b == b' ' || b == b'\t');
        write_field(out, value, delimiter, lone_blank || rng.random_bool(0.15));
    }
}

fn generate(rng: &mut StdRng) -> Export {
    let delimiter = pick(rng, b",\t;|");
    let width = rng.random_range(1..=5);
    let terminator: &[u8] = if rng.random_bool(0.5) { b"\n" } else { b"\r\n" };
    let header: Vec<String> = (0..width).map(|i| format!("col{i}")).collect();
    let mut out = Vec::new();
    if rng.random_bool(0.2) {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    let mut line = 1;
    let mut blank_lines = 0;
    let mut blank = |out: &mut Vec<u8>, rng: &mut StdRng, line: &mut u64| {
        while rng.random_bool(0.15) {
            // A tab is whitespace, unless it is the delimiter: then the line is
            // a row of empty fields.
            let spaces: &[u8] = if delimiter == b'\t' { b"  " } else { b" \t" };
            out.extend_from_slice(pick(rng, &[&b""[..], b"   ", spaces]));
            out.extend_from_slice(terminator);
            *line += 1;
            blank_lines += 1;
        }
    };
    blank(&mut out, rng, &mut line);
    let names: Vec<Vec<u8>> = header.iter().map(|h| h.clone().into_bytes()).collect();
    write_record(&mut out, rng, &names, delimiter);
    out.extend_from_slice(terminator);
    line += 1;
    let count = rng.random_range(0..40);
    let mut expected = Vec::new();
    for i in 0..count {
        blank(&mut out, rng, &mut line);
        let values: Vec<String> = (0..width).map(|_| random_text(rng)).collect();
        let start = line;
        let column = rng.random_range(0..width);
        let kind = rng.random_range(0..20);
        let mut bytes: Vec<Vec<u8>> = values.iter().map(|v| v.clone().into_bytes()).collect();
        let outcome = match kind {
            0 => {
                bytes.push(b"extra".to_vec());
                Expected::Error {
                    line: start,
                    code: code::COLUMN_COUNT,
                    field: None,
                }
            }
            1 if width > 1 => {
                bytes.pop();
                Expected::Error {
                    line: start,
                    code: code::COLUMN_COUNT,
                    field: None,
                }
            }
            2 => {
                bytes[column] = b"M\xfcller".to_vec();
                Expected::Error {
                    line: start,
                    code: code::INVALID_ENCODING,
                    field: Some(header[column].clone()),
                }
            }
            3 => {
                bytes[column] = vec![b'x'; MAX_FIELD_BYTES + 1 + rng.random_range(0..20)];
                Expected::Error {
                    line: start,
                    code: code::FIELD_TOO_LONG,
                    field: Some(header[column].clone()),
                }
            }
            _ => Expected::Row {
                line: start,
                fields: values,
            },
        };
        write_record(&mut out, rng, &bytes, delimiter);
        let last = i + 1 == count;
        if !last || rng.random_bool(0.7) {
            out.extend_from_slice(terminator);
        }
        line += bytes.iter().flatten().filter(|&&b| b == b'\n').count() as u64 + 1;
        expected.push(outcome);
    }
    Export {
        bytes: out,
        delimiter,
        expected,
        blank_lines,
    }
}

#[test]
fn generated_exports_come_out_row_for_row() {
    for seed in 0..1500 {
        let mut rng = StdRng::seed_from_u64(seed);
        let export = generate(&mut rng);
        let options = ReadOptions {
            format: FormatHint::Delimited {
                delimiter: Some(export.delimiter),
            },
            max_field_bytes: MAX_FIELD_BYTES,
            ..ReadOptions::default()
        };
        let input = maybe_compress_whole(&mut rng, export.bytes.clone());
        let mut rows = open(Cursor::new(input), &options).unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {e}\n{}",
                String::from_utf8_lossy(&export.bytes)
            )
        });
        let items: Vec<_> = rows.by_ref().collect();
        let shown = String::from_utf8_lossy(&export.bytes);
        assert_eq!(
            items.len(),
            export.expected.len(),
            "seed {seed}: row count\n{shown}\n{items:#?}"
        );
        for (i, (item, expected)) in items.iter().zip(&export.expected).enumerate() {
            let number = i as u64 + 1;
            match (item, expected) {
                (Ok(row), Expected::Row { line, fields }) => {
                    assert_eq!(
                        (row.number, row.line),
                        (number, *line),
                        "seed {seed}\n{shown}"
                    );
                    assert_eq!(
                        row.fields,
                        Fields::Columns(fields.clone()),
                        "seed {seed}\n{shown}"
                    );
                }
                (Err(ReadError::Row(error)), Expected::Error { line, code, field }) => {
                    assert_eq!(
                        (error.number, error.line),
                        (number, *line),
                        "seed {seed}\n{shown}"
                    );
                    assert_eq!(
                        (error.code, &error.field),
                        (*code, field),
                        "seed {seed}\n{shown}"
                    );
                }
                (item, _) => panic!("seed {seed}: item {number} is {item:?}\n{shown}"),
            }
        }
        assert_eq!(
            rows.blank_lines(),
            export.blank_lines,
            "seed {seed}: blank lines\n{shown}"
        );
    }
}

/// Compressed or not, but never truncated: these exports must read whole.
fn maybe_compress_whole(rng: &mut StdRng, bytes: Vec<u8>) -> Vec<u8> {
    match rng.random_range(0..3) {
        0 => gzip(&bytes),
        1 => zstd(&bytes),
        _ => bytes,
    }
}

#[test]
fn generated_json_lines_come_out_line_for_line() {
    let bad_lines = [
        ("{\"a\": 1", code::INVALID_JSON),
        ("[1, 2]", code::NOT_AN_OBJECT),
        ("nope", code::INVALID_JSON),
        ("{\"a\": 1, \"a\": 2}", code::DUPLICATE_KEY),
        ("{\"a\": \"M\u{fc}ller\"} x", code::INVALID_JSON),
    ];
    for seed in 0..500 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut text = String::new();
        let mut expected: Vec<Result<Value, &str>> = Vec::new();
        for _ in 0..rng.random_range(1..40) {
            if rng.random_bool(0.1) {
                text.push_str("  \n");
            }
            if rng.random_bool(0.2) {
                let (line, code) = pick(&mut rng, &bad_lines);
                text.push_str(line);
                expected.push(Err(code));
            } else {
                let value = json!({
                    "name": random_text(&mut rng),
                    "n": rng.random_range(-1000..1000),
                    "tags": [random_text(&mut rng)],
                });
                text.push_str(&value.to_string());
                expected.push(Ok(value));
            }
            text.push_str(pick(&mut rng, &["\n", "\r\n"]));
        }
        let input = maybe_compress_whole(&mut rng, text.clone().into_bytes());
        let options = ReadOptions {
            format: FormatHint::JsonLines,
            ..ReadOptions::default()
        };
        let rows =
            open(Cursor::new(input), &options).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let items: Vec<_> = rows.collect();
        assert_eq!(items.len(), expected.len(), "seed {seed}\n{text}");
        for (item, expected) in items.iter().zip(&expected) {
            match (item, expected) {
                (Ok(row), Ok(value)) => {
                    assert_eq!(
                        row.fields,
                        Fields::Object(value.as_object().cloned().unwrap_or_default())
                    )
                }
                (Err(ReadError::Row(error)), Err(code)) => {
                    assert_eq!(error.code, *code, "seed {seed}")
                }
                (item, _) => panic!("seed {seed}: {item:?} for {expected:?}\n{text}"),
            }
        }
    }
}
