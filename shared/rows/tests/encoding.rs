mod common;

use common::{read, read_with};
use strata_rows::{Encoding, OpenError, ReadOptions, code, open};

/// "张伟" and "北京" in GBK.
const ZHANG_WEI_GBK: &[u8] = &[0xd5, 0xc5, 0xce, 0xb0];
const BEIJING_GBK: &[u8] = &[0xb1, 0xb1, 0xbe, 0xa9];

fn gbk_export() -> Vec<u8> {
    let mut input = b"id,name,city\n1,".to_vec();
    input.extend_from_slice(ZHANG_WEI_GBK);
    input.push(b',');
    input.extend_from_slice(BEIJING_GBK);
    input.extend_from_slice(b"\n2,Ann,Oslo\n");
    input
}

#[test]
fn chinese_names_and_emoji_pass_intact() {
    let read = read("id,name,note\n1,张伟,喜欢 🎧 and café\n2,李娜,👍🏽\n");
    assert_eq!(read.columns(0), ["1", "张伟", "喜欢 🎧 and café"]);
    assert_eq!(read.columns(1), ["2", "李娜", "👍🏽"]);
}

#[test]
fn gbk_bytes_under_utf8_are_an_error_naming_the_column() {
    let read = read(gbk_export());
    let error = read.error(0);
    assert_eq!(
        (error.number, error.line, error.code),
        (1, 2, code::INVALID_ENCODING)
    );
    assert_eq!(error.field.as_deref(), Some("name"));
    assert!(
        error
            .reason
            .contains("not valid UTF-8 (byte 0xD5 at offset 0)"),
        "{}",
        error.reason
    );
    assert!(error.raw.starts_with("1,\u{fffd}"), "{}", error.raw);
    assert_eq!(read.columns(1), ["2", "Ann", "Oslo"]);
}

#[test]
fn declared_gbk_decodes_to_the_right_chinese_text() {
    let options = ReadOptions {
        encoding: Encoding::Gbk,
        ..ReadOptions::default()
    };
    let read = read_with(gbk_export(), &options);
    assert_eq!(read.columns(0), ["1", "张伟", "北京"]);
    assert_eq!(read.columns(1), ["2", "Ann", "Oslo"]);
    assert_eq!(Encoding::from_label("gb2312"), Some(Encoding::Gbk));
}

#[test]
fn invalid_utf8_in_a_later_column_is_named() {
    let read = read(b"id,name,city\n1,Ann,M\xfcnchen\n".as_slice());
    let error = read.error(0);
    assert_eq!(
        (error.code, error.field.as_deref()),
        (code::INVALID_ENCODING, Some("city"))
    );
    assert!(
        error.reason.contains("byte 0xFC at offset 1"),
        "{}",
        error.reason
    );
}

#[test]
fn declared_latin1_decodes_western_text() {
    let options = ReadOptions {
        encoding: Encoding::Latin1,
        ..ReadOptions::default()
    };
    let read = read_with(b"name;city\nJos\xe9;M\xfcnchen\n".as_slice(), &options);
    assert_eq!(read.columns(0), ["José", "München"]);
}

#[test]
fn any_ascii_compatible_encoding_can_be_named_by_label() {
    let Some(encoding) = Encoding::from_label(" ISO-8859-2 ") else {
        panic!("iso-8859-2 is a WHATWG label");
    };
    let options = ReadOptions {
        encoding,
        ..ReadOptions::default()
    };
    let read = read_with(b"name\n\xa3\xf3d\xbc\n".as_slice(), &options);
    assert_eq!(read.columns(0), ["Łódź"]);
}

#[test]
fn bytes_invalid_in_the_declared_encoding_are_an_error_too() {
    let options = ReadOptions {
        encoding: Encoding::ShiftJis,
        ..ReadOptions::default()
    };
    let read = read_with(b"a,b\nok,\x81\n".as_slice(), &options);
    let error = read.error(0);
    assert_eq!(
        (error.code, error.field.as_deref()),
        (code::INVALID_ENCODING, Some("b"))
    );
    assert_eq!(error.reason, "not valid Shift_JIS text");
}

#[test]
fn a_header_that_is_not_utf8_cannot_be_opened() {
    let mut input = b"id,".to_vec();
    input.extend_from_slice(ZHANG_WEI_GBK);
    input.extend_from_slice(b"\n1,x\n");
    match open(std::io::Cursor::new(input), &ReadOptions::default()) {
        Err(OpenError::InvalidHeader { line: 1, reason }) => {
            assert!(reason.starts_with("column 2: not valid UTF-8"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn utf16_is_refused_with_a_message_saying_what_to_do() {
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("a,b\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    match open(std::io::Cursor::new(utf16), &ReadOptions::default()) {
        Err(OpenError::UnsupportedEncoding(message)) => {
            assert!(message.contains("UTF-16"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Encoding::from_label("utf-16le"), None);
    let without_bom: Vec<u8> = "id,name\n1,Ann\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    match open(std::io::Cursor::new(without_bom), &ReadOptions::default()) {
        Err(OpenError::UnsupportedFormat(message)) => {
            assert!(message.contains("UTF-16"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
