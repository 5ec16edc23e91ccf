mod common;

use common::{read, read_with};
use strata_rows::{Codec, FormatHint, Layout, OpenError, ReadOptions, code, open};

fn delimiter(input: &str) -> u8 {
    match read(input).rows.format().layout {
        Layout::Delimited { delimiter } => delimiter,
        other => panic!("not delimited: {other:?}"),
    }
}

#[test]
fn sniffs_comma_tab_semicolon_and_pipe() {
    assert_eq!(delimiter("id,name\n1,Ann\n"), b',');
    assert_eq!(delimiter("id\tname\n1\tAnn Lee\n"), b'\t');
    assert_eq!(delimiter("id;amount\n1;1,50\n2;2,75\n"), b';');
    assert_eq!(delimiter("id|name\n1|Ann\n"), b'|');
    let read = read("id;amount\n1;1,50\n");
    assert_eq!(read.columns(0), ["1", "1,50"]);
    assert_eq!(read.rows.format().compression, Codec::Plain);
}

#[test]
fn a_comma_inside_quotes_does_not_fool_the_sniffer() {
    let input = "name;city\n\"Doe, Jane\";\"Paris, FR\"\n\"Roe, Rick\";\"Lyon, FR\"\n";
    let read = read(input);
    assert_eq!(
        read.rows.format().layout,
        Layout::Delimited { delimiter: b';' }
    );
    assert_eq!(read.columns(0), ["Doe, Jane", "Paris, FR"]);
    assert_eq!(read.items.len(), 2);
}

#[test]
fn a_given_delimiter_is_used_as_is() {
    let options = ReadOptions {
        format: FormatHint::Delimited {
            delimiter: Some(b';'),
        },
        ..ReadOptions::default()
    };
    let read = read_with("a,b\n1,2\n", &options);
    assert_eq!(read.rows.header(), ["a,b"]);
    assert_eq!(read.columns(0), ["1,2"]);
}

#[test]
fn quoted_fields_keep_newlines_and_doubled_quotes_and_lines_stay_right() {
    let input = "id,note,city\n\
                 1,\"first line\nsecond line\",Oslo\n\
                 2,\"she said \"\"hi\"\"\",Rome\n\
                 3,\"a\r\nb\nc\",Bergen\n\
                 4,plain,Turin\n";
    let read = read(input);
    assert_eq!(read.columns(0), ["1", "first line\nsecond line", "Oslo"]);
    assert_eq!(read.columns(1), ["2", "she said \"hi\"", "Rome"]);
    assert_eq!(read.columns(2), ["3", "a\r\nb\nc", "Bergen"]);
    assert_eq!(read.columns(3), ["4", "plain", "Turin"]);
    assert_eq!(read.numbers_and_lines(), [(1, 2), (2, 4), (3, 5), (4, 8)]);
}

#[test]
fn crlf_line_ends_and_a_missing_final_line_end() {
    let read = read("id,name\r\n1,Ann\r\n\r\n2,Bo\r\n3,Cy");
    assert_eq!(read.rows.header(), ["id", "name"]);
    assert_eq!(read.columns(0), ["1", "Ann"]);
    assert_eq!(read.columns(2), ["3", "Cy"]);
    assert_eq!(read.numbers_and_lines(), [(1, 2), (2, 4), (3, 5)]);
    assert_eq!(read.rows.blank_lines(), 1);
}

#[test]
fn bom_is_stripped_and_header_names_are_trimmed_but_values_are_not() {
    let read = read("\u{feff} id , full name \n 7 ,  Ann Lee  \n");
    assert_eq!(read.rows.header(), ["id", "full name"]);
    assert_eq!(read.columns(0), [" 7 ", "  Ann Lee  "]);
}

#[test]
fn blank_lines_are_skipped_and_counted_but_a_line_of_delimiters_is_a_row() {
    let read = read("\n\na,b,c\n1,2,3\n\n   \n,,\n\t\n4,5,6\n\n");
    assert_eq!(read.rows.header(), ["a", "b", "c"]);
    assert_eq!(read.columns(0), ["1", "2", "3"]);
    assert_eq!(read.columns(1), ["", "", ""]);
    assert_eq!(read.columns(2), ["4", "5", "6"]);
    assert_eq!(read.numbers_and_lines(), [(1, 4), (2, 7), (3, 9)]);
    assert_eq!(read.rows.blank_lines(), 6);
}

#[test]
fn quoted_whitespace_is_a_value_not_a_blank_line() {
    let read = read("note\n\"  \"\n\"\"\nx\n");
    assert_eq!(read.columns(0), ["  "]);
    assert_eq!(read.columns(1), [""]);
    assert_eq!(read.columns(2), ["x"]);
    assert_eq!(read.rows.blank_lines(), 0);
}

#[test]
fn missing_and_extra_columns_are_row_errors_and_numbering_goes_on() {
    let read = read("a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n");
    assert_eq!(read.items.len(), 4);
    let missing = read.error(1);
    assert_eq!(
        (missing.number, missing.line, missing.code),
        (2, 3, code::COLUMN_COUNT)
    );
    assert_eq!(
        missing.reason,
        "expected 3 columns (as in the header), found 2"
    );
    assert_eq!(missing.raw, "1,2");
    assert_eq!(missing.field, None);
    let extra = read.error(2);
    assert_eq!(
        (extra.number, extra.line, extra.code),
        (3, 4, code::COLUMN_COUNT)
    );
    assert!(extra.reason.contains("found 4"), "{}", extra.reason);
    assert_eq!(read.columns(3), ["5", "6", "7"]);
    assert_eq!(read.row(3).number, 4);
}

#[test]
fn formula_prefixes_and_thousand_separators_come_back_as_text() {
    let input = "name,amount,note\n=HYPERLINK(\"x\"),\"1,234.50\",+1 555\n@SUM(A1),-3,\"=1+2\"\n";
    let read = read(input);
    assert_eq!(read.columns(0), ["=HYPERLINK(\"x\")", "1,234.50", "+1 555"]);
    assert_eq!(read.columns(1), ["@SUM(A1)", "-3", "=1+2"]);
}

#[test]
fn without_a_header_columns_are_numbered_from_the_first_line() {
    let options = ReadOptions {
        has_header: false,
        ..ReadOptions::default()
    };
    let read = read_with("1,Ann\n2,Bo\n3\n", &options);
    assert_eq!(read.rows.header(), ["column_1", "column_2"]);
    assert_eq!(read.columns(0), ["1", "Ann"]);
    assert_eq!(read.numbers_and_lines()[..2], [(1, 1), (2, 2)]);
    assert_eq!(read.error(2).code, code::COLUMN_COUNT);
}

#[test]
fn a_header_only_file_has_no_rows_and_an_empty_file_is_an_error() {
    let read = read("a,b\n");
    assert_eq!(read.rows.header(), ["a", "b"]);
    assert!(read.items.is_empty());
    for empty in ["", "\n\n  \r\n", "\u{feff}"] {
        let result = open(std::io::Cursor::new(empty), &ReadOptions::default());
        assert!(matches!(result, Err(OpenError::Empty)), "{empty:?}");
    }
}

#[test]
fn a_10_mb_field_is_a_row_error_naming_its_column() {
    let mut input = b"id,bio,city\n1,short,Oslo\n2,".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10 << 20));
    input.extend_from_slice(b",Rome\n3,\"quoted, long\",Bergen\n");
    let read = read(&input);
    assert_eq!(read.columns(0), ["1", "short", "Oslo"]);
    let error = read.error(1);
    assert_eq!(
        (error.number, error.line, error.code),
        (2, 3, code::FIELD_TOO_LONG)
    );
    assert_eq!(error.field.as_deref(), Some("bio"));
    assert!(error.raw.len() < 2200, "raw is {} bytes", error.raw.len());
    assert!(
        error
            .raw
            .ends_with(&format!("…[truncated, {} bytes]", (10 << 20) + 8)),
        "{}",
        &error.raw[2000..]
    );
    assert_eq!(read.columns(2), ["3", "quoted, long", "Bergen"]);
    assert_eq!(read.numbers_and_lines()[2], (3, 4));
}

#[test]
fn fields_and_rows_over_the_configured_limits() {
    let options = ReadOptions {
        max_field_bytes: 5,
        max_row_bytes: 20,
        ..ReadOptions::default()
    };
    let input = "a,b,c\n1,12345,x\n1,123456,x\n1,2,\"a\nb\"\n1234,1234,1234,1234,1234\n9,9,9\n";
    let read = read_with(input, &options);
    assert_eq!(read.columns(0), ["1", "12345", "x"]);
    let field = read.error(1);
    assert_eq!(
        (field.code, field.field.as_deref()),
        (code::FIELD_TOO_LONG, Some("b"))
    );
    assert_eq!(read.columns(2), ["1", "2", "a\nb"]);
    let row = read.error(3);
    assert_eq!(
        (row.code, row.field.as_deref(), row.line),
        (code::ROW_TOO_LONG, None, 6)
    );
    assert!(
        row.reason.contains("25 bytes, over the 20-byte limit"),
        "{}",
        row.reason
    );
    assert_eq!(read.columns(4), ["9", "9", "9"]);
}

#[test]
fn a_row_of_too_many_fields_is_a_row_error() {
    let input = format!("a,b\n{}\n1,2\n", ",".repeat(70_000));
    let read = read(input);
    let error = read.error(0);
    assert_eq!((error.code, error.line), (code::ROW_TOO_LONG, 2));
    assert_eq!(error.reason, "the row has more than 65536 fields");
    assert_eq!(read.columns(1), ["1", "2"]);
}

#[test]
fn a_quote_never_closed_is_an_error_not_a_row_that_swallowed_the_rest() {
    let broken = read("a,b\n1,x\n2,\"open\n3,y\n4,z\n");
    assert_eq!(broken.items.len(), 2);
    assert_eq!(broken.columns(0), ["1", "x"]);
    let error = broken.error(1);
    assert_eq!(
        (error.number, error.line, error.code),
        (2, 3, code::UNCLOSED_QUOTE)
    );
    assert_eq!(error.field.as_deref(), Some("b"));
    assert_eq!(error.raw, "2,\"open\n3,y\n4,z");
    let closed_at_the_end = read("a,b\n1,\"x\ny\"");
    assert_eq!(closed_at_the_end.columns(0), ["1", "x\ny"]);
}

#[test]
fn a_too_long_header_cannot_be_opened() {
    let options = ReadOptions {
        max_field_bytes: 4,
        ..ReadOptions::default()
    };
    let result = open(std::io::Cursor::new("id,surname\n1,x\n"), &options);
    match result {
        Err(OpenError::InvalidHeader { line: 1, reason }) => {
            assert!(reason.contains("column 2"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
