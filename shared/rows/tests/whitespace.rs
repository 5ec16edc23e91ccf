mod common;

use common::{read, read_with};
use strata_rows::{FormatHint, Layout, ReadOptions, code};

/// The first lines of the CDNOW log (as shipped in PyPI `lifetimes`), byte
/// for byte: leading blanks, aligned columns, CRLF line ends.
const CDNOW: &str = " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n 00002 19970112  5   77.00\r\n 00003 19970102  2   20.76\r\n";

#[test]
fn cdnow_style_aligned_columns() {
    let read = read(CDNOW);
    assert_eq!(read.rows.format().layout, Layout::Whitespace);
    assert_eq!(
        read.rows.header(),
        ["customer_id", "date", "number_of_cds", "dollar_value"]
    );
    assert_eq!(read.columns(0), ["00001", "19970101", "1", "11.77"]);
    assert_eq!(read.columns(3), ["00003", "19970102", "2", "20.76"]);
    assert_eq!(read.numbers_and_lines(), [(1, 2), (2, 3), (3, 4), (4, 5)]);
}

#[test]
fn ragged_lines_and_blank_lines_in_aligned_columns() {
    let input = format!(
        "{CDNOW}\r\n 00004 19970101\r\n   \r\n 00005 19970101  1  9.99  extra\r\n 00006 19970103  3   3.00"
    );
    let read = read(&input);
    assert_eq!(read.items.len(), 7);
    let short = read.error(4);
    assert_eq!(
        (short.number, short.line, short.code),
        (5, 7, code::COLUMN_COUNT)
    );
    assert_eq!(short.raw, " 00004 19970101");
    assert_eq!(read.error(5).code, code::COLUMN_COUNT);
    assert_eq!(read.columns(6), ["00006", "19970103", "3", "3.00"]);
    assert_eq!(read.row(6).line, 10);
    assert_eq!(read.rows.blank_lines(), 2);
}

#[test]
fn long_lines_and_fields_in_aligned_columns() {
    let options = ReadOptions {
        format: FormatHint::Whitespace,
        max_field_bytes: 4,
        max_row_bytes: 12,
        ..ReadOptions::default()
    };
    let read = read_with("a b\n1 2\n12345 1\n1 2 3 4 5 6 7\n9 9\n", &options);
    assert_eq!(read.columns(0), ["1", "2"]);
    let field = read.error(1);
    assert_eq!(
        (field.code, field.field.as_deref()),
        (code::FIELD_TOO_LONG, Some("a"))
    );
    let row = read.error(2);
    assert_eq!((row.code, row.line), (code::ROW_TOO_LONG, 4));
    assert_eq!(read.columns(3), ["9", "9"]);
}

#[test]
fn aligned_columns_without_a_header() {
    let options = ReadOptions {
        has_header: false,
        ..ReadOptions::default()
    };
    let read = read_with(
        " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n",
        &options,
    );
    assert_eq!(read.rows.format().layout, Layout::Whitespace);
    assert_eq!(
        read.rows.header(),
        ["column_1", "column_2", "column_3", "column_4"]
    );
    assert_eq!(read.columns(1), ["00002", "19970112", "1", "12.00"]);
    assert_eq!(read.numbers_and_lines(), [(1, 1), (2, 2)]);
}
