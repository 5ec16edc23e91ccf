//! Memory stays bounded whatever the input: a counting allocator measures the
//! peak heap while huge rows and long inputs are read from generated streams
//! (never held in memory by the test either). One test, so nothing else runs
//! in this binary while it measures.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use strata_rows::{FormatHint, ReadError, ReadOptions, code, open};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let now = CURRENT.fetch_add(size, Ordering::SeqCst) + size;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only
// the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `head`, then `body` repeated `times`, then `tail`, produced as read.
struct Generated {
    parts: Vec<(Vec<u8>, u64)>,
    part: usize,
    offset: usize,
    repeat: u64,
}

impl Generated {
    fn new(head: &str, body: &[u8], times: u64, tail: &str) -> Self {
        let parts = vec![
            (head.as_bytes().to_vec(), 1),
            (body.to_vec(), times),
            (tail.as_bytes().to_vec(), 1),
        ];
        Self {
            parts,
            part: 0,
            offset: 0,
            repeat: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && self.part < self.parts.len() {
            let (bytes, times) = &self.parts[self.part];
            if self.repeat == *times || bytes.is_empty() {
                self.part += 1;
                self.repeat = 0;
                continue;
            }
            let n = (bytes.len() - self.offset).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&bytes[self.offset..self.offset + n]);
            filled += n;
            self.offset += n;
            if self.offset == bytes.len() {
                self.offset = 0;
                self.repeat += 1;
            }
        }
        Ok(filled)
    }
}

/// Reads everything, returning the codes of the row errors, the number of
/// rows and the peak heap growth while reading.
fn measure(
    input: impl Read + Send + 'static,
    options: &ReadOptions,
) -> (Vec<&'static str>, u64, usize) {
    let baseline = CURRENT.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let rows = open(input, options).unwrap_or_else(|e| panic!("{e}"));
    let mut errors = Vec::new();
    let mut good = 0;
    for item in rows {
        match item {
            Ok(_) => good += 1,
            Err(ReadError::Row(error)) => errors.push(error.code),
            Err(ReadError::Io(error)) => panic!("{error}"),
        }
    }
    (errors, good, PEAK.load(Ordering::SeqCst) - baseline)
}

const MIB: usize = 1 << 20;

#[test]
fn memory_stays_bounded_by_the_row_cap_not_the_input() {
    let defaults = ReadOptions::default();
    // A row buffer is at most the row cap, and twice that for the moment it
    // is copied while growing; everything else is a few fixed buffers.
    let bound = 2 * defaults.max_row_bytes + MIB;
    let x = vec![b'x'; 64 << 10];

    // A 64 MiB field in the middle of a CSV file.
    let input = Generated::new("id,bio,city\n1,a,b\n2,", &x, 1024, ",c\n3,d,e\n");
    let (errors, good, peak) = measure(input, &defaults);
    assert_eq!((errors, good), (vec![code::FIELD_TOO_LONG], 2));
    assert!(peak < bound, "peak {peak} bytes for a 64 MiB field");

    // A 64 MiB row of 1 KiB fields.
    let mut field = vec![b'x'; 1023];
    field.push(b',');
    let input = Generated::new("a,b\n", &field, 65_536, "\n1,2\n");
    let (errors, good, peak) = measure(input, &defaults);
    assert_eq!((errors, good), (vec![code::ROW_TOO_LONG], 1));
    assert!(peak < bound, "peak {peak} bytes for a 64 MiB row");

    // A 64 MiB JSON Lines line, and the same in aligned columns.
    let input = Generated::new("{\"a\": 1}\n{\"bio\": \"", &x, 1024, "\"}\n{\"a\": 2}\n");
    let (errors, good, peak) = measure(input, &defaults);
    assert_eq!((errors, good), (vec![code::ROW_TOO_LONG], 2));
    assert!(peak < bound, "peak {peak} bytes for a 64 MiB JSON line");
    let whitespace = ReadOptions {
        format: FormatHint::Whitespace,
        ..defaults
    };
    let input = Generated::new("a b\n1 2\n", &x, 1024, " 3\n");
    let (errors, good, peak) = measure(input, &whitespace);
    assert_eq!((errors, good), (vec![code::ROW_TOO_LONG], 1));
    assert!(peak < bound, "peak {peak} bytes for a 64 MiB line");

    // Half a million ordinary rows (about 20 MiB), plain and gzip.
    let row = b"12345,Ann Lee,ann@example.com,Oslo,1299\n";
    let input = Generated::new("id,name,email,city,cents\n", row, 500_000, "");
    let (errors, good, peak) = measure(input, &defaults);
    assert_eq!((errors.len(), good), (0, 500_000));
    assert!(peak < 2 * MIB, "peak {peak} bytes for 500,000 rows");
    let mut text = Vec::new();
    Generated::new("id,name,email,city,cents\n", row, 500_000, "")
        .read_to_end(&mut text)
        .expect("generated");
    let compressed = common::gzip(&text);
    drop(text);
    let (errors, good, peak) = measure(io::Cursor::new(compressed), &defaults);
    assert_eq!((errors.len(), good), (0, 500_000));
    assert!(peak < 2 * MIB, "peak {peak} bytes for 500,000 gzip rows");
}
