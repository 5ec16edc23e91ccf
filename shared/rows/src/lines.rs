//! Physical lines with a length cap: the part of an over-long line past the
//! cap is read and dropped, never buffered.

use std::io::{self, BufRead};

pub(crate) struct LineReader {
    input: Box<dyn BufRead + Send>,
    max_bytes: usize,
    text: Vec<u8>,
    lines_read: u64,
    blank_lines: u64,
}

/// One line; its text (without the line end) is `LineReader::text`.
pub(crate) struct Line {
    /// 1-based physical line number.
    pub(crate) number: u64,
    /// Length without the line end; more than `max_bytes` means `text` holds
    /// only the first `max_bytes`.
    pub(crate) length: u64,
}

impl LineReader {
    pub(crate) fn new(input: Box<dyn BufRead + Send>, max_bytes: usize) -> Self {
        Self {
            input,
            max_bytes,
            text: Vec::new(),
            lines_read: 0,
            blank_lines: 0,
        }
    }

    /// The text of the line last returned (at most `max_bytes`).
    pub(crate) fn text(&self) -> &[u8] {
        &self.text
    }

    pub(crate) fn blank_lines(&self) -> u64 {
        self.blank_lines
    }

    /// The next line with something other than whitespace on it, counting
    /// the blank ones skipped.
    pub(crate) fn next_non_blank(&mut self) -> io::Result<Option<Line>> {
        while let Some(line) = self.next_line()? {
            let blank = line.length <= self.max_bytes as u64
                && self.text.iter().all(u8::is_ascii_whitespace);
            if !blank {
                return Ok(Some(line));
            }
            self.blank_lines += 1;
        }
        Ok(None)
    }

    fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.text.clear();
        let mut length: u64 = 0;
        let mut last_byte = None;
        let mut any = false;
        loop {
            let buf = crate::source::fill_buf(&mut *self.input)?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, consumed, ended) = match buf.iter().position(|&b| b == b'\n') {
                Some(at) => (&buf[..at], at + 1, true),
                None => (buf, buf.len(), false),
            };
            let kept = &chunk[..chunk.len().min(self.max_bytes - self.text.len())];
            reserve_capped(&mut self.text, kept.len(), self.max_bytes);
            self.text.extend_from_slice(kept);
            length += chunk.len() as u64;
            last_byte = chunk.last().copied().or(last_byte);
            self.input.consume(consumed);
            if ended {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if last_byte == Some(b'\r') {
            length -= 1;
            // A capped prefix may stop short of the `\r`.
            if self.text.len() as u64 > length {
                self.text.pop();
            }
        }
        self.lines_read += 1;
        Ok(Some(Line {
            number: self.lines_read,
            length,
        }))
    }
}

/// Grows `text` by doubling as `Vec` does, but never past `cap`, so a capped
/// line does not leave twice the cap allocated.
fn reserve_capped(text: &mut Vec<u8>, additional: usize, cap: usize) {
    let needed = text.len() + additional;
    if needed > text.capacity() {
        let target = (text.capacity() * 2).clamp(needed, cap.max(needed));
        text.reserve_exact(target - text.len());
    }
}
