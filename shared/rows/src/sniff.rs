//! Which layout a sample of the input is in. Each candidate splits the first
//! records the way the real reader would (quotes respected, so a comma inside
//! quotes does not count); the one that splits them most consistently wins.

use std::cmp::Ordering;

use crate::error::OpenError;
use crate::options::FormatHint;

/// How the text is split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Delimited { delimiter: u8 },
    Whitespace,
    JsonLines,
}

pub(crate) struct Sniffed {
    pub(crate) layout: Layout,
    /// How many fields the first record has in that layout.
    pub(crate) first_width: usize,
}

const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];
const RECORDS_LOOKED_AT: usize = 100;

/// `complete` says the sample is the whole input, so its last record is whole.
pub(crate) fn sniff(sample: &[u8], complete: bool, hint: FormatHint) -> Result<Sniffed, OpenError> {
    if looks_binary(sample) {
        return Err(OpenError::UnsupportedFormat(
            "the input looks like UTF-16 text or a binary file (it is full of NUL bytes); upload UTF-8 text: CSV, TSV or JSON Lines".into(),
        ));
    }
    let sniffed = |layout| {
        let first_width = widths(sample, complete, layout)
            .first()
            .copied()
            .unwrap_or(0);
        Sniffed {
            layout,
            first_width,
        }
    };
    let layout = match hint {
        FormatHint::JsonLines => Layout::JsonLines,
        FormatHint::Whitespace => Layout::Whitespace,
        FormatHint::Delimited {
            delimiter: Some(delimiter),
        } => Layout::Delimited { delimiter },
        FormatHint::Delimited { delimiter: None } => {
            best(sample, complete, false).unwrap_or(Layout::Delimited { delimiter: b',' })
        }
        FormatHint::Auto => match json_start(sample) {
            Some(b'{') => Layout::JsonLines,
            Some(_) => {
                return Err(OpenError::UnsupportedFormat(
                    "the input is a JSON array; export it as JSON Lines (one object per line)"
                        .into(),
                ));
            }
            None => best(sample, complete, true).unwrap_or(Layout::Delimited { delimiter: b',' }),
        },
    };
    Ok(sniffed(layout))
}

/// Text has no NUL bytes; UTF-16 has one in every other byte of ASCII.
fn looks_binary(sample: &[u8]) -> bool {
    let nuls = sample.iter().filter(|&&b| b == 0).count();
    nuls * 8 > sample.len()
}

/// `{` if the first non-blank line opens a JSON object, `[` if the input
/// opens a JSON array of objects or arrays.
fn json_start(sample: &[u8]) -> Option<u8> {
    let mut bytes = sample.iter().copied().skip_while(u8::is_ascii_whitespace);
    match bytes.next()? {
        b'{' => Some(b'{'),
        b'[' => match bytes.find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[' | b']') | None => Some(b'['),
            Some(_) => None,
        },
        _ => None,
    }
}

struct Score {
    layout: Layout,
    header_width: usize,
    agreeing: usize,
    records: usize,
}

impl Score {
    /// More records as wide as the first wins; then a real delimiter over
    /// whitespace; then more columns; then the earlier delimiter.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.agreeing * other.records)
            .cmp(&(other.agreeing * self.records))
            .then_with(|| {
                matches!(self.layout, Layout::Delimited { .. })
                    .cmp(&matches!(other.layout, Layout::Delimited { .. }))
            })
            .then_with(|| self.header_width.cmp(&other.header_width))
    }
}

fn best(sample: &[u8], complete: bool, whitespace_allowed: bool) -> Option<Layout> {
    let mut candidates: Vec<Layout> = DELIMITERS
        .iter()
        .map(|&delimiter| Layout::Delimited { delimiter })
        .collect();
    if whitespace_allowed {
        candidates.push(Layout::Whitespace);
    }
    let mut best: Option<Score> = None;
    for layout in candidates {
        let widths = widths(sample, complete, layout);
        let Some(&header_width) = widths.first() else {
            continue;
        };
        let records = widths.len();
        let agreeing = widths.iter().filter(|&&w| w == header_width).count();
        // Whitespace that does not line up is words in a one-column file.
        let too_ragged = layout == Layout::Whitespace && agreeing * 2 < records;
        if header_width < 2 || too_ragged {
            continue;
        }
        let score = Score {
            layout,
            header_width,
            agreeing,
            records,
        };
        // Strictly better only, so the earlier delimiter wins ties.
        if best
            .as_ref()
            .is_none_or(|b| score.cmp(b) == Ordering::Greater)
        {
            best = Some(score);
        }
    }
    best.map(|score| score.layout)
}

/// The field count of each of the first non-blank records in `layout`.
fn widths(sample: &[u8], complete: bool, layout: Layout) -> Vec<usize> {
    let (mut widths, last_is_whole) = match layout {
        Layout::Delimited { delimiter } => delimited_widths(sample, delimiter),
        Layout::Whitespace => whitespace_widths(sample),
        Layout::JsonLines => return Vec::new(),
    };
    if !complete && !last_is_whole && widths.len() > 1 {
        widths.pop();
    }
    widths
}

#[derive(Clone, Copy, PartialEq)]
enum FieldState {
    Start,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// The same quoting rules as csv-core; returns whether the sample ended
/// exactly at a record end.
fn delimited_widths(sample: &[u8], delimiter: u8) -> (Vec<usize>, bool) {
    let mut widths = Vec::new();
    let mut state = FieldState::Start;
    let mut fields = 1;
    let mut has_content = false;
    for &b in sample {
        if widths.len() == RECORDS_LOOKED_AT {
            return (widths, true);
        }
        let line_end = b == b'\n' || b == b'\r';
        state = match state {
            FieldState::Quoted if b == b'"' => FieldState::QuoteInQuoted,
            FieldState::Quoted => FieldState::Quoted,
            FieldState::QuoteInQuoted if b == b'"' => FieldState::Quoted,
            FieldState::Start if b == b'"' => FieldState::Quoted,
            _ if b == delimiter => {
                fields += 1;
                FieldState::Start
            }
            _ if line_end => {
                if has_content {
                    widths.push(fields);
                }
                fields = 1;
                has_content = false;
                FieldState::Start
            }
            _ => FieldState::Unquoted,
        };
        has_content |= b == delimiter || b == b'"' || !(line_end || b == b' ' || b == b'\t');
    }
    let ended_at_record_end = !has_content;
    if has_content {
        widths.push(fields);
    }
    (widths, ended_at_record_end)
}

fn whitespace_widths(sample: &[u8]) -> (Vec<usize>, bool) {
    let widths = sample
        .split(|&b| b == b'\n')
        .map(|line| {
            line.split(|b| b.is_ascii_whitespace())
                .filter(|t| !t.is_empty())
                .count()
        })
        .filter(|&width| width > 0)
        .take(RECORDS_LOOKED_AT)
        .collect();
    (widths, sample.ends_with(b"\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(sample: &str) -> Layout {
        sniff(sample.as_bytes(), true, FormatHint::Auto)
            .map(|s| s.layout)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn picks_the_delimiter_that_splits_lines_consistently() {
        assert_eq!(
            auto("a,b,c\n1,2,3\n"),
            Layout::Delimited { delimiter: b',' }
        );
        assert_eq!(auto("a\tb\n1\t2\n"), Layout::Delimited { delimiter: b'\t' });
        assert_eq!(
            auto("name;amount\nA;1,5\nB;2,75\n"),
            Layout::Delimited { delimiter: b';' }
        );
        assert_eq!(auto("a|b\n1|2\n"), Layout::Delimited { delimiter: b'|' });
    }

    #[test]
    fn commas_inside_quotes_do_not_fool_it() {
        let sample = "\"Doe, Jane\";\"Paris, FR\";x\n\"Roe, R\";\"Lyon, FR\";y\n";
        assert_eq!(auto(sample), Layout::Delimited { delimiter: b';' });
        let sample = "name\tnote\n\"Doe, Jane\"\t\"a, b, c\"\n\"x\"\"y, z\"\tq\n";
        assert_eq!(auto(sample), Layout::Delimited { delimiter: b'\t' });
    }

    #[test]
    fn aligned_columns_are_whitespace_and_prose_is_one_column() {
        let cdnow =
            " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n";
        assert_eq!(auto(cdnow), Layout::Whitespace);
        let notes = "note\nhello there\nfine\nnot at all\n";
        assert_eq!(auto(notes), Layout::Delimited { delimiter: b',' });
    }

    #[test]
    fn json_objects_are_json_lines_and_arrays_are_refused() {
        assert_eq!(auto("\n  {\"a\": 1}\n"), Layout::JsonLines);
        assert!(matches!(
            sniff(b"[\n {\"a\": 1}\n]", true, FormatHint::Auto),
            Err(OpenError::UnsupportedFormat(_))
        ));
        assert_eq!(
            auto("[id],[name]\n1,x\n"),
            Layout::Delimited { delimiter: b',' }
        );
    }

    #[test]
    fn a_record_cut_off_by_the_sample_end_is_not_counted() {
        let sample = b"a,b\n1,2\n3,\"long";
        let widths = widths(sample, false, Layout::Delimited { delimiter: b',' });
        assert_eq!(widths, vec![2, 2]);
    }
}
