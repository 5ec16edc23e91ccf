//! Throughput of reading a generated 1,000,000-row customer export: plain,
//! gzip and zstd CSV, and JSON Lines. Run with `cargo bench -p strata-rows`;
//! prints rows/s and MB/s (of uncompressed text) for the best of 3 runs.

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use strata_rows::{ReadError, ReadOptions, open};

const ROWS: usize = 1_000_000;
const RUNS: usize = 3;

fn csv() -> Vec<u8> {
    let mut text = Vec::with_capacity(ROWS * 100);
    text.extend_from_slice(b"customer_id,email,name,city,amount,ordered_at,note\n");
    for i in 0..ROWS {
        let name = if i % 5 == 0 { "张伟" } else { "Ann Lee" };
        let note = if i % 7 == 0 {
            "\"said \"\"call me\"\", then left\""
        } else {
            ""
        };
        writeln!(
            text,
            "{i:08},user{i}@example.com,{name},Oslo,\"{},{:03}.{:02}\",2026-11-{:02}T10:00:00Z,{note}",
            i % 9 + 1,
            i % 1000,
            i % 100,
            i % 28 + 1
        )
        .expect("writing to memory");
    }
    text
}

fn json_lines() -> Vec<u8> {
    let mut text = Vec::with_capacity(ROWS * 130);
    for i in 0..ROWS {
        writeln!(
            text,
            r#"{{"customer_id": "{i:08}", "email": "user{i}@example.com", "name": "Ann Lee", "city": "Oslo", "amount_cents": {}, "tags": ["vip"]}}"#,
            i % 100_000
        )
        .expect("writing to memory");
    }
    text
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The best of `RUNS` full reads, and the number of rows read.
fn time_read(input: &[u8]) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..RUNS {
        let input = Cursor::new(input.to_vec());
        let started = Instant::now();
        let rows = match open(input, &ReadOptions::default()) {
            Ok(rows) => rows,
            Err(e) => panic!("open: {e}"),
        };
        count = 0;
        for item in rows {
            match item {
                Ok(row) => {
                    std::hint::black_box(row);
                    count += 1;
                }
                Err(ReadError::Row(e)) => panic!("row error in generated data: {e}"),
                Err(ReadError::Io(e)) => panic!("{e}"),
            }
        }
        best = best.min(started.elapsed());
    }
    (best, count)
}

fn report(name: &str, input: &[u8], text_bytes: usize) {
    let (elapsed, rows) = time_read(input);
    assert_eq!(rows, ROWS, "{name}: every row read");
    let seconds = elapsed.as_secs_f64();
    println!(
        "{name:<12} {rows} rows, {:>6.1} MB in, {:>6.1} MB text: {:>6.3} s, {:>10.0} rows/s, {:>6.1} MB/s of text",
        input.len() as f64 / 1e6,
        text_bytes as f64 / 1e6,
        seconds,
        rows as f64 / seconds,
        text_bytes as f64 / 1e6 / seconds,
    );
}

fn main() {
    // `cargo test --all-targets` (as in `cargo xtask test`) runs bench
    // targets too; only `cargo bench` (which passes `--bench`) measures.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let text = csv();
    report("csv", &text, text.len());
    report("csv.gz", &gzip(&text), text.len());
    let zstd = zstd::stream::encode_all(text.as_slice(), 3).expect("writing to memory");
    report("csv.zst", &zstd, text.len());
    let lines = json_lines();
    report("jsonl", &lines, lines.len());
}
