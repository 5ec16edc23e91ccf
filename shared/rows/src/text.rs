//! Bytes to text in the declared encoding: strict for fields, lossy (and
//! short) for the `raw` copy of a bad row.

use std::borrow::Cow;

use crate::options::Encoding;

/// How much of a bad row's input is kept for `RowError::raw`.
pub(crate) const RAW_LIMIT: usize = 2048;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoder {
    encoding: Encoding,
}

impl Decoder {
    pub(crate) fn new(encoding: Encoding) -> Self {
        Self { encoding }
    }

    /// The text, or why the bytes are not valid in the encoding.
    pub(crate) fn decode<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, String> {
        match self.encoding.legacy() {
            None => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
                let at = e.valid_up_to();
                format!(
                    "not valid UTF-8 (byte 0x{:02X} at offset {at}); if the file was saved in a legacy encoding such as GBK or Latin-1, declare it",
                    bytes[at]
                )
            }),
            Some(encoding) => encoding
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or_else(|| format!("not valid {} text", encoding.name())),
        }
    }

    /// `raw` bytes of a row for people to look at: decoded with replacement
    /// characters, with a marker when `total` says there was more.
    pub(crate) fn render_raw(&self, raw: &[u8], total: u64) -> String {
        let kept = &raw[..raw.len().min(RAW_LIMIT)];
        let truncated = (kept.len() as u64) < total;
        let kept = if truncated {
            kept
        } else {
            let line_end = kept.iter().rev().take_while(|&&b| b == b'\n' || b == b'\r');
            &kept[..kept.len() - line_end.count()]
        };
        let mut text = match self.encoding.legacy() {
            None => String::from_utf8_lossy(utf8_whole_chars(kept)).into_owned(),
            Some(encoding) => encoding.decode_without_bom_handling(kept).0.into_owned(),
        };
        if truncated {
            text.push_str(&format!("…[truncated, {total} bytes]"));
        }
        text
    }
}

/// Drops a character cut in half at the end, so truncation does not show up
/// as a replacement character.
fn utf8_whole_chars(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    }
}
