//! Sealed streams: a byte stream cut into chunks, each encrypted and
//! authenticated on its own with AES-256-GCM, so a stream of any size is
//! sealed and opened in constant memory and damage is caught chunk by chunk.
//!
//! ```text
//! header  "STRSNAP1" | stream id (u32 BE) | chunk size (u32 BE)     16 bytes
//! frame   ciphertext length (u32 BE) | ciphertext ‖ 16-byte tag     repeated
//! nonce   stream id (4 bytes) | chunk counter (7 bytes BE) | last? (1 byte)
//! AAD     header ‖ snapshot id
//! ```
//!
//! The counter in the nonce catches reordered, dropped or repeated chunks;
//! the last-chunk flag catches a stream cut at a chunk boundary; the stream
//! id catches one object swapped for another of the same snapshot; the
//! snapshot id in the associated data, and a data key per snapshot, catch
//! objects moved between snapshots.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use strata_domain::backup::SnapshotId;
use strata_domain::ports::keys::DataKey;

const MAGIC: &[u8; 8] = b"STRSNAP1";
pub const HEADER_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
const LENGTH_BYTES: usize = 4;
/// Chunks above this are refused when reading, so a damaged length field
/// cannot make a reader allocate without bound.
pub const MAX_CHUNK_BYTES: u32 = 16 * 1024 * 1024;
/// The counter has 7 bytes in the nonce.
const MAX_CHUNKS: u64 = 1 << 56;
/// Reserved for the manifest's authentication tag; no data stream uses it.
const MANIFEST_STREAM: u32 = u32::MAX;

const NOT_LAST: u8 = 0;
const LAST: u8 = 1;
const MANIFEST_TAG: u8 = 2;

/// Why a sealed stream could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Damage(pub String);

/// The cipher of one snapshot: its data key, bound to its id.
#[derive(Clone)]
pub struct StreamCipher {
    cipher: Aes256Gcm,
    snapshot: SnapshotId,
}

impl StreamCipher {
    pub fn new(key: &DataKey, snapshot: &SnapshotId) -> Self {
        StreamCipher {
            cipher: Aes256Gcm::new(key.expose().into()),
            snapshot: snapshot.clone(),
        }
    }

    pub fn sealer(&self, stream: u32, chunk_bytes: u32) -> Sealer {
        let header = header(stream, chunk_bytes);
        Sealer {
            aad: self.aad(&header),
            cipher: self.cipher.clone(),
            stream,
            chunk_bytes: chunk_bytes.clamp(1, MAX_CHUNK_BYTES) as usize,
            header: Some(header),
            pending: Vec::new(),
            counter: 0,
            finished: false,
        }
    }

    pub fn opener(&self, stream: u32) -> Opener {
        Opener {
            cipher: self.clone(),
            stream,
            aad: Vec::new(),
            chunk_bytes: 0,
            header_read: false,
            buffer: Vec::new(),
            counter: 0,
        }
    }

    /// An authentication tag over `bytes` (the manifest), under a nonce no
    /// data stream uses.
    pub fn tag(&self, bytes: &[u8]) -> Result<Vec<u8>, Damage> {
        let nonce = nonce(MANIFEST_STREAM, 0, MANIFEST_TAG);
        let mut aad = self.snapshot.as_str().as_bytes().to_vec();
        aad.extend_from_slice(bytes);
        // Encrypting nothing yields just the tag.
        self.cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &[],
                    aad: &aad,
                },
            )
            .map_err(|_| Damage("AES-GCM refused to tag the manifest".into()))
    }

    fn aad(&self, header: &[u8; HEADER_BYTES]) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend_from_slice(self.snapshot.as_str().as_bytes());
        aad
    }
}

fn header(stream: u32, chunk_bytes: u32) -> [u8; HEADER_BYTES] {
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&stream.to_be_bytes());
    header[12..].copy_from_slice(&chunk_bytes.to_be_bytes());
    header
}

fn nonce(stream: u32, counter: u64, flag: u8) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&stream.to_be_bytes());
    nonce[4..11].copy_from_slice(&counter.to_be_bytes()[1..]);
    nonce[11] = flag;
    Nonce::from(nonce)
}

/// Seals a stream pushed in pieces of any size.
pub struct Sealer {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    stream: u32,
    chunk_bytes: usize,
    header: Option<[u8; HEADER_BYTES]>,
    pending: Vec<u8>,
    counter: u64,
    finished: bool,
}

impl Sealer {
    /// Takes plaintext; returns the sealed bytes that are ready. A full
    /// chunk is held back until more input arrives, because only then is it
    /// known not to be the last.
    pub fn push(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, Damage> {
        self.pending.extend_from_slice(plaintext);
        let mut out = self.header.take().map(Vec::from).unwrap_or_default();
        while self.pending.len() > self.chunk_bytes {
            let rest = self.pending.split_off(self.chunk_bytes);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.seal(&chunk, NOT_LAST, &mut out)?;
        }
        Ok(out)
    }

    /// Seals what is left as the last chunk (empty if nothing is left).
    /// Nothing can be sealed after it.
    pub fn finish(&mut self) -> Result<Vec<u8>, Damage> {
        let mut out = self.header.take().map(Vec::from).unwrap_or_default();
        let last = std::mem::take(&mut self.pending);
        self.seal(&last, LAST, &mut out)?;
        self.finished = true;
        Ok(out)
    }

    fn seal(&mut self, chunk: &[u8], flag: u8, out: &mut Vec<u8>) -> Result<(), Damage> {
        if self.finished {
            return Err(Damage("the stream was already finished".into()));
        }
        if self.counter >= MAX_CHUNKS {
            return Err(Damage("the stream has too many chunks".into()));
        }
        let sealed = self
            .cipher
            .encrypt(
                &nonce(self.stream, self.counter, flag),
                Payload {
                    msg: chunk,
                    aad: &self.aad,
                },
            )
            .map_err(|_| Damage("AES-GCM refused to seal a chunk".into()))?;
        self.counter += 1;
        out.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok(())
    }
}

/// Opens a sealed stream fed in pieces of any size.
pub struct Opener {
    cipher: StreamCipher,
    stream: u32,
    aad: Vec<u8>,
    chunk_bytes: usize,
    header_read: bool,
    buffer: Vec<u8>,
    counter: u64,
}

impl Opener {
    /// Takes sealed bytes; returns the plaintext of every chunk that is
    /// complete and followed by more input (so known not to be the last).
    pub fn push(&mut self, sealed: &[u8]) -> Result<Vec<u8>, Damage> {
        self.buffer.extend_from_slice(sealed);
        if !self.header_read {
            if self.buffer.len() < HEADER_BYTES {
                return Ok(Vec::new());
            }
            self.read_header()?;
        }
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(length) = self.frame_length(at)? {
            let end = at + LENGTH_BYTES + length;
            if self.buffer.len() <= end {
                break; // the frame is incomplete, or may be the last
            }
            let plain = self.open(&self.buffer[at + LENGTH_BYTES..end], NOT_LAST)?;
            self.counter += 1;
            out.extend_from_slice(&plain);
            at = end;
        }
        self.buffer.drain(..at);
        Ok(out)
    }

    /// The input has ended: opens the last chunk. A stream cut short fails
    /// here, since what remains was not sealed as the last chunk.
    pub fn finish(self) -> Result<Vec<u8>, Damage> {
        if !self.header_read {
            return Err(Damage(format!(
                "truncated: {} bytes, shorter than the header",
                self.buffer.len()
            )));
        }
        let Some(length) = self.frame_length(0)? else {
            return Err(Damage("truncated: the last chunk is missing".into()));
        };
        if self.buffer.len() != LENGTH_BYTES + length {
            return Err(Damage(format!(
                "truncated: the last chunk needs {} bytes, {} are there",
                LENGTH_BYTES + length,
                self.buffer.len()
            )));
        }
        self.open(&self.buffer[LENGTH_BYTES..], LAST).map_err(|_| {
            Damage(format!(
                "chunk {} failed authentication as the last chunk: the stream is truncated or damaged",
                self.counter
            ))
        })
    }

    fn read_header(&mut self) -> Result<(), Damage> {
        let header: [u8; HEADER_BYTES] = self.buffer[..HEADER_BYTES]
            .try_into()
            .map_err(|_| Damage("short header".into()))?;
        if &header[..8] != MAGIC {
            return Err(Damage("not a sealed snapshot stream (bad magic)".into()));
        }
        let stream = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if stream != self.stream {
            return Err(Damage(format!(
                "holds stream {stream}, where stream {} belongs",
                self.stream
            )));
        }
        let chunk_bytes = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
        if chunk_bytes == 0 || chunk_bytes > MAX_CHUNK_BYTES {
            return Err(Damage(format!("implausible chunk size {chunk_bytes}")));
        }
        self.chunk_bytes = chunk_bytes as usize;
        self.aad = self.cipher.aad(&header);
        self.buffer.drain(..HEADER_BYTES);
        self.header_read = true;
        Ok(())
    }

    fn frame_length(&self, at: usize) -> Result<Option<usize>, Damage> {
        let Some(bytes) = self.buffer.get(at..at + LENGTH_BYTES) else {
            return Ok(None);
        };
        let length = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if !(TAG_BYTES..=self.chunk_bytes + TAG_BYTES).contains(&length) {
            return Err(Damage(format!(
                "chunk {} claims {length} bytes, impossible for chunks of {}",
                self.counter, self.chunk_bytes
            )));
        }
        Ok(Some(length))
    }

    fn open(&self, sealed: &[u8], flag: u8) -> Result<Vec<u8>, Damage> {
        self.cipher
            .cipher
            .decrypt(
                &nonce(self.stream, self.counter, flag),
                Payload {
                    msg: sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| {
                Damage(format!(
                    "chunk {} failed authentication (damaged, reordered, or under another key)",
                    self.counter
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> StreamCipher {
        let id = SnapshotId::parse("20261122T030000000Z-0a1b2c3d").unwrap();
        StreamCipher::new(&DataKey::from_slice(&[byte; 32]).unwrap(), &id)
    }

    fn seal(cipher: &StreamCipher, stream: u32, chunk: u32, data: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = cipher.sealer(stream, chunk);
        let mut out = Vec::new();
        for part in data.chunks(piece.max(1)) {
            out.extend(sealer.push(part).unwrap());
        }
        out.extend(sealer.finish().unwrap());
        out
    }

    fn open(
        cipher: &StreamCipher,
        stream: u32,
        sealed: &[u8],
        piece: usize,
    ) -> Result<Vec<u8>, Damage> {
        let mut opener = cipher.opener(stream);
        let mut out = Vec::new();
        for part in sealed.chunks(piece.max(1)) {
            out.extend(opener.push(part)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_boundary_and_piece_size() {
        let c = cipher(1);
        for len in [0usize, 1, 63, 64, 65, 128, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            for piece in [1, 5, 64, 4096] {
                let sealed = seal(&c, 3, 64, &data, piece);
                assert_eq!(open(&c, 3, &sealed, piece + 3).unwrap(), data, "len {len}");
            }
        }
    }

    #[test]
    fn truncation_at_any_byte_is_detected() {
        let c = cipher(1);
        let data = vec![42u8; 300];
        let sealed = seal(&c, 0, 64, &data, 300);
        for cut in 0..sealed.len() {
            assert!(open(&c, 0, &sealed[..cut], 7).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn flipped_bits_reordered_chunks_and_wrong_streams_or_keys_are_refused() {
        let c = cipher(1);
        let data: Vec<u8> = (0..256u32).map(|i| i as u8).collect();
        let sealed = seal(&c, 9, 64, &data, 256);
        for at in [0, 10, HEADER_BYTES + 2, HEADER_BYTES + 30, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x40;
            assert!(open(&c, 9, &bad, 1000).is_err(), "flip at {at}");
        }
        // Swap the first two frames (all 84 bytes long: 4 + 64 + 16).
        let frame = LENGTH_BYTES + 64 + TAG_BYTES;
        let mut swapped = sealed.clone();
        let (a, b) = (HEADER_BYTES, HEADER_BYTES + frame);
        let first = sealed[a..b].to_vec();
        swapped[a..b].copy_from_slice(&sealed[b..b + frame]);
        swapped[b..b + frame].copy_from_slice(&first);
        assert!(open(&c, 9, &swapped, 1000).is_err());
        assert!(open(&c, 8, &sealed, 1000).is_err(), "another stream id");
        assert!(open(&cipher(2), 9, &sealed, 1000).is_err(), "another key");
        let mut appended = sealed.clone();
        appended.extend_from_slice(&sealed[HEADER_BYTES..HEADER_BYTES + frame]);
        assert!(
            open(&c, 9, &appended, 1000).is_err(),
            "a chunk after the last"
        );
    }

    #[test]
    fn manifest_tags_depend_on_key_snapshot_and_bytes() {
        let c = cipher(1);
        let tag = |c: &StreamCipher, bytes: &[u8]| c.tag(bytes).unwrap();
        assert_eq!(tag(&c, b"m").len(), TAG_BYTES);
        assert_eq!(tag(&c, b"m"), tag(&c, b"m"));
        assert_ne!(tag(&c, b"m"), tag(&c, b"n"));
        assert_ne!(tag(&c, b"m"), tag(&cipher(2), b"m"));
    }
}
