mod common;

use common::{read, read_with};
use serde_json::json;
use strata_rows::{Fields, FormatHint, Layout, ReadOptions, code};

fn object(read: &common::Read, i: usize) -> serde_json::Value {
    match &read.row(i).fields {
        Fields::Object(map) => serde_json::Value::Object(map.clone()),
        other => panic!("not an object: {other:?}"),
    }
}

#[test]
fn each_line_is_one_object_with_json_values_kept() {
    let input = "{\"id\": 1, \"name\": \"张伟\", \"tags\": [\"vip\"], \"amount\": \"1,234.50\", \"note\": \"=1+2\"}\r\n\n{\"id\": 2, \"ok\": true, \"n\": null}\n";
    let read = read(input);
    assert_eq!(read.rows.format().layout, Layout::JsonLines);
    assert!(read.rows.header().is_empty());
    assert_eq!(
        object(&read, 0),
        json!({"id": 1, "name": "张伟", "tags": ["vip"], "amount": "1,234.50", "note": "=1+2"})
    );
    assert_eq!(object(&read, 1), json!({"id": 2, "ok": true, "n": null}));
    assert_eq!(read.numbers_and_lines(), [(1, 1), (2, 3)]);
    assert_eq!(read.rows.blank_lines(), 1);
}

#[test]
fn invalid_json_and_non_objects_are_row_errors() {
    let input = "{\"id\": 1}\n{\"id\": 2,\n[1, 2]\n\"text\"\n{\"id\": 3} {\"id\": 4}\n{\"id\": 5, \"id\": 6}\n{\"id\": 7}\n";
    let read = read(input);
    let codes: Vec<_> = read
        .items
        .iter()
        .map(|item| match item {
            Ok(_) => "ok",
            Err(strata_rows::ReadError::Row(e)) => e.code,
            Err(e) => panic!("{e}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            code::INVALID_JSON,
            code::NOT_AN_OBJECT,
            code::NOT_AN_OBJECT,
            code::INVALID_JSON,
            code::DUPLICATE_KEY,
            "ok"
        ]
    );
    let broken = read.error(1);
    assert_eq!(
        (broken.number, broken.line, broken.raw.as_str()),
        (2, 2, "{\"id\": 2,")
    );
    assert_eq!(read.error(5).field.as_deref(), Some("id"));
    assert_eq!(read.numbers_and_lines().last(), Some(&(7, 7)));
}

#[test]
fn invalid_utf8_in_a_line_is_an_encoding_error() {
    let read = read(b"{\"name\": \"M\xfcller\"}\n{\"name\": \"ok\"}\n".as_slice());
    assert_eq!(read.error(0).code, code::INVALID_ENCODING);
    assert_eq!(object(&read, 1), json!({"name": "ok"}));
}

#[test]
fn an_over_long_line_is_skipped_without_buffering_it_and_long_values_are_named() {
    let options = ReadOptions {
        format: FormatHint::JsonLines,
        max_field_bytes: 8,
        max_row_bytes: 64,
        ..ReadOptions::default()
    };
    let huge = format!("{{\"bio\": \"{}\"}}", "x".repeat(1 << 20));
    let input = format!(
        "{{\"a\": \"short\"}}\n{huge}\n{{\"a\": {{\"deep\": [\"123456789\"]}}}}\n{{\"a\": 1}}\n"
    );
    let read = read_with(input, &options);
    assert_eq!(object(&read, 0), json!({"a": "short"}));
    let long_line = read.error(1);
    assert_eq!((long_line.code, long_line.line), (code::ROW_TOO_LONG, 2));
    assert!(
        long_line
            .raw
            .ends_with(&format!("…[truncated, {} bytes]", huge.len())),
        "{}",
        long_line.raw
    );
    let deep = read.error(2);
    assert_eq!(
        (deep.code, deep.field.as_deref()),
        (code::FIELD_TOO_LONG, Some("a"))
    );
    assert_eq!(object(&read, 3), json!({"a": 1}));
}
