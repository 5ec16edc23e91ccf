//! What the caller may say about an input; everything left on `Auto` is sniffed.

/// How to read an input. `ReadOptions::default()` sniffs compression and
/// format, expects strict UTF-8 and a header line, and caps fields at 1 MiB
/// and rows at 4 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub compression: Compression,
    pub format: FormatHint,
    pub encoding: Encoding,
    /// Whether the first non-blank line names the columns (delimited and
    /// whitespace formats; JSON Lines has no header). Without one, the
    /// columns are called `column_1`, `column_2`, … and the first line's
    /// width is the expected width.
    pub has_header: bool,
    /// A longer field is a `field_too_long` row error.
    pub max_field_bytes: usize,
    /// A longer row (raw bytes, quotes and line end included) is a
    /// `row_too_long` row error; no more than about this much of a row is
    /// ever held in memory.
    pub max_row_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            compression: Compression::Auto,
            format: FormatHint::Auto,
            encoding: Encoding::Utf8,
            has_header: true,
            max_field_bytes: 1 << 20,
            max_row_bytes: 4 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Sniffed from magic bytes: gzip `1f 8b`, zstd `28 b5 2f fd`, else none.
    #[default]
    Auto,
    None,
    /// Multi-member streams (concatenated gzip files) are read to the end.
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatHint {
    /// JSON Lines if the first non-blank line starts with `{`; otherwise the
    /// delimiter (`,` `\t` `;` `|`) or whitespace alignment that splits the
    /// first lines most consistently, quotes respected.
    #[default]
    Auto,
    /// RFC 4180 text: `"` quotes, `""` inside quotes, fields may span lines.
    /// `None` sniffs the delimiter among `,` `\t` `;` `|`.
    Delimited { delimiter: Option<u8> },
    /// Columns separated by runs of spaces or tabs, no quoting (fixed-width
    /// logs such as CDNOW's).
    Whitespace,
    /// One JSON object per line.
    JsonLines,
}

/// The text encoding of the input. Delimiters, quotes and line ends must be
/// ASCII bytes, so only ASCII-compatible encodings can be declared; UTF-16
/// files are refused with a message saying to re-export as UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Strict: a field with bytes that are not UTF-8 is an `invalid_encoding`
    /// row error naming the field; nothing is replaced or dropped.
    #[default]
    Utf8,
    /// GBK, decoded as its superset GB18030 (Simplified Chinese exports).
    Gbk,
    /// Big5 (Traditional Chinese).
    Big5,
    ShiftJis,
    EucKr,
    /// Western European; decoded as windows-1252, the superset spreadsheet
    /// programs actually write when they say "Latin-1".
    Latin1,
    /// Any other ASCII-compatible WHATWG encoding; see [`Encoding::from_label`].
    Other(&'static encoding_rs::Encoding),
}

impl Encoding {
    /// The encoding a WHATWG label names (`"gb2312"`, `"cp1252"`,
    /// `"iso-8859-2"`, …), if it is one this crate can read.
    pub fn from_label(label: &str) -> Option<Self> {
        let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes())?;
        let known = [
            (encoding_rs::UTF_8, Self::Utf8),
            (encoding_rs::GBK, Self::Gbk),
            (encoding_rs::GB18030, Self::Gbk),
            (encoding_rs::BIG5, Self::Big5),
            (encoding_rs::SHIFT_JIS, Self::ShiftJis),
            (encoding_rs::EUC_KR, Self::EucKr),
            (encoding_rs::WINDOWS_1252, Self::Latin1),
        ];
        if let Some((_, named)) = known.iter().find(|(e, _)| *e == encoding) {
            return Some(*named);
        }
        encoding
            .is_ascii_compatible()
            .then_some(Self::Other(encoding))
    }

    /// The legacy decoder, or `None` for strict UTF-8 (checked by std).
    pub(crate) fn legacy(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            Self::Utf8 => None,
            Self::Gbk => Some(encoding_rs::GBK),
            Self::Big5 => Some(encoding_rs::BIG5),
            Self::ShiftJis => Some(encoding_rs::SHIFT_JIS),
            Self::EucKr => Some(encoding_rs::EUC_KR),
            Self::Latin1 => Some(encoding_rs::WINDOWS_1252),
            Self::Other(encoding) if encoding == encoding_rs::UTF_8 => None,
            Self::Other(encoding) => Some(encoding),
        }
    }
}
