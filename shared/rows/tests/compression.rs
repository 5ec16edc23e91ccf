mod common;

use std::io::Cursor;

use common::{gzip, read, read_with, zstd};
use strata_rows::{Codec, Compression, OpenError, ReadError, ReadOptions, Row, open};

fn export(rows: usize) -> String {
    let mut text = String::from("id,name,city\n");
    for i in 1..=rows {
        text.push_str(&format!("{i},name {i},city {}\n", i % 7));
    }
    text
}

/// The rows read and the fatal error that must end them; row errors before
/// it are counted (corrupt deflate data can decode to garbage before the
/// checksum at the end of the member catches it).
fn rows_then_error(input: Vec<u8>) -> (Vec<Row>, usize, std::io::Error) {
    let rows = open(Cursor::new(input), &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut good = Vec::new();
    let mut bad = 0;
    let mut items = rows.into_iter();
    for item in items.by_ref() {
        match item {
            Ok(row) => good.push(row),
            Err(ReadError::Row(_)) => bad += 1,
            Err(ReadError::Io(error)) => {
                assert!(items.next().is_none(), "items after the fatal error");
                return (good, bad, error);
            }
        }
    }
    panic!("no I/O error after {} rows", good.len());
}

#[test]
fn gzip_and_zstd_are_sniffed_and_read() {
    let text = export(3);
    let plain = read(&text);
    for (bytes, codec) in [
        (gzip(text.as_bytes()), Codec::Gzip),
        (zstd(text.as_bytes()), Codec::Zstd),
    ] {
        let read = read(bytes);
        assert_eq!(read.rows.format().compression, codec);
        assert_eq!(read.rows.header(), ["id", "name", "city"]);
        assert_eq!(read.items.len(), 3);
        assert_eq!(read.columns(2), plain.columns(2));
    }
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    let mut bytes = gzip(b"id,name\n1,Ann\n");
    bytes.extend(gzip(b"2,Bo\n"));
    bytes.extend(gzip(b"3,Cy\n"));
    let read = read(bytes);
    assert_eq!(read.items.len(), 3);
    assert_eq!(read.columns(2), ["3", "Cy"]);
}

#[test]
fn a_declared_compression_is_used_without_sniffing() {
    let options = ReadOptions {
        compression: Compression::None,
        ..ReadOptions::default()
    };
    let read = read_with("id\n1\n", &options);
    assert_eq!(read.rows.format().compression, Codec::Plain);
    let options = ReadOptions {
        compression: Compression::Gzip,
        ..ReadOptions::default()
    };
    match open(Cursor::new(b"id\n1\n".to_vec()), &options) {
        Err(OpenError::Io(error)) => assert!(
            error.to_string().contains("gzip stream is corrupt"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_truncated_gzip_stream_is_a_fatal_error_after_the_rows_before_it() {
    let text = export(20_000);
    let whole = gzip(text.as_bytes());
    let (rows, bad, error) = rows_then_error(whole[..whole.len() * 2 / 3].to_vec());
    assert!(
        rows.len() > 1000 && rows.len() < 20_000,
        "{} rows",
        rows.len()
    );
    assert_eq!(bad, 0);
    assert_eq!(rows.last().map(|r| r.number), Some(rows.len() as u64));
    let message = error.to_string();
    assert!(
        message.contains("the gzip stream is corrupt or truncated"),
        "{message}"
    );
    assert!(
        message.contains(&format!("after data row {}", rows.len())),
        "{message}"
    );
}

#[test]
fn a_truncated_zstd_stream_is_a_fatal_error_after_the_rows_before_it() {
    let text = export(20_000);
    let whole = zstd(text.as_bytes());
    let (rows, bad, error) = rows_then_error(whole[..whole.len() / 2].to_vec());
    assert_eq!(bad, 0);
    assert!(
        !rows.is_empty() && rows.len() < 20_000,
        "{} rows",
        rows.len()
    );
    assert!(
        error
            .to_string()
            .contains("the zstd stream is corrupt or truncated"),
        "{error}"
    );
}

#[test]
fn a_corrupt_gzip_stream_is_a_fatal_error() {
    let text = export(20_000);
    let mut bytes = gzip(text.as_bytes());
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    let (rows, bad, error) = rows_then_error(bytes);
    assert!(rows.len() + bad < 20_000);
    assert!(
        error.to_string().contains("gzip stream is corrupt"),
        "{error}"
    );
}

#[test]
fn a_failing_input_is_reported_as_the_input_not_as_corrupt_data() {
    struct Broken(Cursor<Vec<u8>>);
    impl std::io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset",
                )),
                n => Ok(n),
            }
        }
    }
    let bytes = gzip(export(20_000).as_bytes());
    let partial = bytes[..bytes.len() / 2].to_vec();
    let rows = open(Broken(Cursor::new(partial)), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let last = rows.last().expect("an item");
    match last {
        Err(ReadError::Io(error)) => {
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
            assert!(!error.to_string().contains("corrupt"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn archives_are_refused_by_name() {
    for (magic, what) in [(&b"PK\x03\x04rest"[..], "zip"), (b"BZh91AY", "bzip2")] {
        match open(Cursor::new(magic.to_vec()), &ReadOptions::default()) {
            Err(OpenError::UnsupportedCompression(message)) => assert!(message.contains(what)),
            other => panic!("{other:?}"),
        }
    }
}
