//! From the caller's byte stream to decompressed text bytes: compression
//! sniffed from magic bytes, streaming decoders only, and error messages that
//! say whether the input or the compressed stream is at fault.

use std::fmt;
use std::io::{self, BufRead, Read};

use crate::error::OpenError;
use crate::options::Compression;

/// Which decompression was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Zstd,
}

pub(crate) type Stream = Box<dyn Read + Send>;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// Formats people upload by mistake, refused by name rather than read as text.
const REFUSED_MAGIC: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
    (b"BZh", "bzip2-compressed"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz-compressed"),
    (&[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], "a 7-Zip archive"),
];
const LONGEST_MAGIC: usize = 6;

/// Wraps `input` in the decoder its first bytes (or `choice`) call for.
pub(crate) fn decompress(input: Stream, choice: Compression) -> Result<(Stream, Codec), OpenError> {
    let mut input: Stream = Box::new(InputErrors(input));
    let (magic, error) = read_prefix(&mut input, LONGEST_MAGIC);
    if let Some(error) = error {
        return Err(OpenError::Io(error));
    }
    let codec = match choice {
        Compression::Auto => sniff(&magic)?,
        Compression::None => Codec::Plain,
        Compression::Gzip => Codec::Gzip,
        Compression::Zstd => Codec::Zstd,
    };
    let input = Prefixed::new(magic, None, input);
    let stream: Stream = match codec {
        Codec::Plain => Box::new(input),
        Codec::Gzip => Box::new(DecoderErrors {
            inner: flate2::read::MultiGzDecoder::new(input),
            codec: "gzip",
        }),
        Codec::Zstd => Box::new(DecoderErrors {
            inner: zstd::stream::read::Decoder::new(input)?,
            codec: "zstd",
        }),
    };
    Ok((stream, codec))
}

fn sniff(magic: &[u8]) -> Result<Codec, OpenError> {
    if magic.starts_with(GZIP_MAGIC) {
        return Ok(Codec::Gzip);
    }
    if magic.starts_with(ZSTD_MAGIC) {
        return Ok(Codec::Zstd);
    }
    match REFUSED_MAGIC.iter().find(|(m, _)| magic.starts_with(m)) {
        Some((_, what)) => Err(OpenError::UnsupportedCompression(what)),
        None => Ok(Codec::Plain),
    }
}

/// Reads up to `limit` bytes, stopping early at the end of the input or at
/// an error, which is handed back rather than thrown so the bytes before it
/// still count.
pub(crate) fn read_prefix(input: &mut Stream, limit: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut prefix = vec![0; limit];
    let mut filled = 0;
    while filled < limit {
        match input.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                prefix.truncate(filled);
                return (prefix, Some(e));
            }
        }
    }
    prefix.truncate(filled);
    (prefix, None)
}

/// Bytes already read (for sniffing) put back in front of the rest of the
/// stream; an error met while reading them comes after them, not before.
pub(crate) struct Prefixed {
    prefix: Vec<u8>,
    position: usize,
    pending: Option<io::Error>,
    rest: Stream,
}

impl Prefixed {
    pub(crate) fn new(prefix: Vec<u8>, pending: Option<io::Error>, rest: Stream) -> Self {
        Self {
            prefix,
            position: 0,
            pending,
            rest,
        }
    }
}

impl Read for Prefixed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position < self.prefix.len() {
            let n = (self.prefix.len() - self.position).min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[self.position..self.position + n]);
            self.position += n;
            if self.position == self.prefix.len() {
                self.prefix = Vec::new();
                self.position = 0;
            }
            return Ok(n);
        }
        if let Some(error) = self.pending.take() {
            return Err(error);
        }
        self.rest.read(buf)
    }
}

/// Marks errors from the caller's stream so a decoder above it does not
/// blame the compressed data for a broken connection.
struct InputErrors(Stream);

#[derive(Debug)]
struct InputError(io::Error);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl Read for InputErrors {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(e.kind(), InputError(e))
            }
        })
    }
}

/// Says in the error that the compressed stream is at fault, unless the
/// error came from the input underneath.
struct DecoderErrors<R> {
    inner: R,
    codec: &'static str,
}

impl<R: Read> Read for DecoderErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let from_input = e.get_ref().is_some_and(|inner| inner.is::<InputError>());
            if from_input || e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(
                    e.kind(),
                    format!("the {} stream is corrupt or truncated: {e}", self.codec),
                )
            }
        })
    }
}

/// `BufRead::fill_buf`, retried when interrupted.
pub(crate) fn fill_buf(input: &mut (dyn BufRead + Send)) -> io::Result<&[u8]> {
    loop {
        match input.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Returning the slice from inside the loop does not pass today's
            // borrow checker; once a fill has succeeded, asking again just
            // hands back the buffered bytes.
            other => {
                other?;
                return input.fill_buf();
            }
        }
    }
}
