//! Normalisation of free-form text fields.
//!
//! Text is stored in Unicode NFC so that the same name typed on two systems
//! compares equal; non-ASCII text (Chinese, emoji) passes through intact.

use unicode_normalization::UnicodeNormalization;

use crate::error::FieldError;

/// Limits for the kinds of text Strata stores.
pub const MAX_LINE_CHARS: usize = 200;
pub const MAX_FREE_TEXT_CHARS: usize = 20_000;
pub const MAX_ID_BYTES: usize = 128;

/// A single-line value such as a name or a city: NFC, trimmed, inner runs of
/// white space folded to one space, no control characters. Empty → `None`.
pub fn line(field: &str, raw: &str, max_chars: usize) -> Result<Option<String>, FieldError> {
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(FieldError::new(
            field,
            "control_character",
            "contains a control character",
        ));
    }
    let folded: String = raw
        .nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    check_length(field, folded, max_chars)
}

/// Multi-line free text such as a chat message: NFC, line endings made `\n`,
/// trimmed, no control characters other than new lines and tabs.
pub fn free_text(field: &str, raw: &str, max_chars: usize) -> Result<Option<String>, FieldError> {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    if unified
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            field,
            "control_character",
            "contains a control character",
        ));
    }
    let normal: String = unified.nfc().collect();
    check_length(field, normal.trim().to_owned(), max_chars)
}

/// An identifier from a source system: trimmed, printable, at most 128 bytes.
pub fn identifier(field: &str, raw: &str) -> Result<String, FieldError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(FieldError::required(field));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("is longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "control_character",
            "contains a control character",
        ));
    }
    Ok(id.nfc().collect())
}

fn check_length(field: &str, text: String, max_chars: usize) -> Result<Option<String>, FieldError> {
    if text.is_empty() {
        return Ok(None);
    }
    // Counting stops early so a hostile multi-megabyte value costs little.
    if text.chars().nth(max_chars).is_some() {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("is longer than {max_chars} characters"),
        ));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_white_space_and_keeps_chinese_and_emoji() {
        assert_eq!(
            line("name", "  王   小明 🎉 ", 50).unwrap().as_deref(),
            Some("王 小明 🎉")
        );
        assert_eq!(line("name", "   ", 50).unwrap(), None);
    }

    #[test]
    fn composes_to_nfc() {
        let decomposed = "Jose\u{301}";
        assert_eq!(
            line("name", decomposed, 50).unwrap().as_deref(),
            Some("Jos\u{e9}")
        );
    }

    #[test]
    fn refuses_control_characters_and_overlong_text() {
        assert_eq!(
            line("name", "a\u{0}b", 50).unwrap_err().code,
            "control_character"
        );
        assert_eq!(line("name", &"x".repeat(51), 50).unwrap_err().field, "name");
        assert_eq!(
            free_text("text", "line one\r\nline two\rthree", 100)
                .unwrap()
                .as_deref(),
            Some("line one\nline two\nthree")
        );
        assert_eq!(
            free_text("text", "bell\u{7}", 100).unwrap_err().code,
            "control_character"
        );
    }

    #[test]
    fn identifiers_are_trimmed_and_bounded() {
        assert_eq!(identifier("id", " A-1 ").unwrap(), "A-1");
        assert_eq!(identifier("id", "").unwrap_err().code, "required");
        assert_eq!(
            identifier("id", &"x".repeat(129)).unwrap_err().code,
            "too_long"
        );
    }
}
