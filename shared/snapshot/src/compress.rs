//! zstd over pushed pieces, in memory, so compression sits between the
//! record writer and the sealer without a thread or an async adapter.

use std::io::Write;

/// Bytes fed to the decoder at once; bounds how much one call inflates.
const INFLATE_STEP: usize = 64 * 1024;

pub struct Compressor {
    encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
}

impl Compressor {
    pub fn new(level: i32) -> std::io::Result<Self> {
        Ok(Compressor {
            encoder: zstd::stream::write::Encoder::new(Vec::new(), level)?,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.encoder.write_all(data)
    }

    /// How many compressed bytes are waiting.
    pub fn ready(&mut self) -> usize {
        self.encoder.get_mut().len()
    }

    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.encoder.get_mut())
    }

    /// Ends the zstd frame and returns the rest of the output.
    pub fn finish(&mut self) -> std::io::Result<Vec<u8>> {
        self.encoder.do_finish()?;
        Ok(self.take())
    }
}

pub struct Decompressor {
    decoder: zstd::stream::write::Decoder<'static, Vec<u8>>,
}

impl Decompressor {
    pub fn new() -> std::io::Result<Self> {
        Ok(Decompressor {
            decoder: zstd::stream::write::Decoder::new(Vec::new())?,
        })
    }

    /// Inflates `data` step by step, handing each step's output on, so no
    /// single call holds more than one step's worth of inflated bytes.
    pub fn write(
        &mut self,
        data: &[u8],
        mut out: impl FnMut(Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        for step in data.chunks(INFLATE_STEP) {
            self.decoder
                .write_all(step)
                .map_err(|e| format!("zstd: {e}"))?;
            let inflated = std::mem::take(self.decoder.get_mut());
            if !inflated.is_empty() {
                out(inflated)?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.decoder.flush().map_err(|e| format!("zstd: {e}"))?;
        Ok(std::mem::take(self.decoder.get_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_pieces() {
        let data: Vec<u8> = (0..500_000u32)
            .flat_map(|i| (i % 1000).to_be_bytes())
            .collect();
        let mut compressor = Compressor::new(3).unwrap();
        let mut packed = Vec::new();
        for piece in data.chunks(10_000) {
            compressor.write(piece).unwrap();
            packed.extend(compressor.take());
        }
        packed.extend(compressor.finish().unwrap());
        assert!(
            compressor.finish().unwrap().is_empty(),
            "finishing twice adds nothing"
        );
        assert!(packed.len() < data.len() / 4);
        let mut decompressor = Decompressor::new().unwrap();
        let mut unpacked = Vec::new();
        for piece in packed.chunks(777) {
            decompressor
                .write(piece, |out| {
                    unpacked.extend(out);
                    Ok(())
                })
                .unwrap();
        }
        unpacked.extend(decompressor.finish().unwrap());
        assert_eq!(unpacked, data);
    }
}
