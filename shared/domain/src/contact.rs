//! Normalised contact and identity values: e-mail, phone, dates, ID documents.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A lower-cased, trimmed e-mail address with a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldError> {
        let email = raw.trim().to_lowercase();
        let invalid = |why: &str| {
            FieldError::new(
                field,
                "invalid_email",
                format!("is not an e-mail address: {why}"),
            )
        };
        if email.len() > 254 {
            return Err(invalid("longer than 254 bytes"));
        }
        let (local, domain) = email.split_once('@').ok_or_else(|| invalid("no `@`"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before `@` must be 1 to 64 bytes"));
        }
        if domain.contains('@') {
            return Err(invalid("more than one `@`"));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
        {
            return Err(invalid("contains a space or a forbidden character"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok =
            |l: &&str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-');
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid(
                "the domain must have at least two dot-separated labels",
            ));
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+8613812345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

/// The region assumed for phone numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(phonenumber::country::Id);

impl PhoneRegion {
    pub const CHINA: PhoneRegion = PhoneRegion(phonenumber::country::Id::CN);
}

impl Default for PhoneRegion {
    fn default() -> Self {
        PhoneRegion::CHINA
    }
}

impl FromStr for PhoneRegion {
    type Err = String;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        code.trim()
            .to_uppercase()
            .parse::<phonenumber::country::Id>()
            .map(PhoneRegion)
            .map_err(|_| format!("`{code}` is not an ISO 3166 region code"))
    }
}

impl Phone {
    pub fn parse(field: &str, raw: &str, region: PhoneRegion) -> Result<Phone, FieldError> {
        let invalid = || FieldError::new(field, "invalid_phone", "is not a valid phone number");
        let trimmed = raw.trim();
        if trimmed.len() > 40 {
            return Err(invalid());
        }
        let number = phonenumber::parse(Some(region.0), trimmed).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid());
        }
        Ok(Phone(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to read an all-numeric date with separators, which exports write in
/// different orders (`03/04/2024`). ISO dates are read the same under every order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    #[default]
    YearMonthDay,
    MonthDayYear,
    DayMonthYear,
}

/// Reads a calendar date: ISO `2024-03-15`, compact `20240315`, or with `/`
/// or `.` separators in the given order. Anything else is an error.
pub fn parse_date(field: &str, raw: &str, order: DateOrder) -> Result<NaiveDate, FieldError> {
    let text = raw.trim();
    let invalid = || {
        FieldError::new(
            field,
            "invalid_date",
            format!("`{}` is not a date", preview(text)),
        )
    };
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date);
    }
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(text, "%Y%m%d").map_err(|_| invalid());
    }
    let parts: Vec<&str> = text.split(['/', '.', '-']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let n = |i: usize| parts[i].parse::<u32>().map_err(|_| invalid());
    let (y, m, d) = if parts[0].len() == 4 {
        (n(0)?, n(1)?, n(2)?)
    } else {
        match order {
            DateOrder::MonthDayYear => (n(2)?, n(0)?, n(1)?),
            DateOrder::DayMonthYear | DateOrder::YearMonthDay => (n(2)?, n(1)?, n(0)?),
        }
    };
    if parts[0].len() != 4 && parts[2].len() != 4 {
        return Err(invalid());
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(invalid)
}

/// Reads an instant: RFC 3339 (`2024-03-15T08:30:00+08:00`), a naive
/// `2024-03-15 08:30[:00]` taken as UTC, or a bare date at 00:00 UTC.
pub fn parse_instant(
    field: &str,
    raw: &str,
    order: DateOrder,
) -> Result<DateTime<Utc>, FieldError> {
    let text = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    let date = parse_date(field, text, order).map_err(|_| {
        FieldError::new(
            field,
            "invalid_time",
            format!("`{}` is not a date or time", preview(text)),
        )
    })?;
    Ok(Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN)))
}

/// The start of a value, for error messages that must stay short whatever the input.
pub fn preview(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Kinds of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A national identity card, e.g. the PRC Resident Identity Card.
    NationalId,
    Passport,
    DrivingLicence,
    Other,
}

/// An identity document number, upper-cased with spaces and dashes removed.
/// PRC resident ID numbers are checked against their check digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdDocument {
    pub kind: DocumentKind,
    /// ISO 3166 alpha-2 code of the issuing country.
    pub country: String,
    pub number: String,
}

impl IdDocument {
    pub fn parse(
        field: &str,
        kind: DocumentKind,
        country: &str,
        raw: &str,
    ) -> Result<IdDocument, FieldError> {
        let country = country.trim().to_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(FieldError::new(
                format!("{field}.country"),
                "invalid_country",
                "must be an ISO 3166 alpha-2 code",
            ));
        }
        let number: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if number.is_empty()
            || number.len() > 32
            || !number.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                format!("{field}.number"),
                "invalid_document",
                "must be 1 to 32 letters and digits",
            ));
        }
        if kind == DocumentKind::NationalId && country == "CN" && !is_valid_prc_resident_id(&number)
        {
            return Err(FieldError::new(
                format!("{field}.number"),
                "invalid_document",
                "is not a valid PRC resident ID number (18 characters with a matching check digit)",
            ));
        }
        Ok(IdDocument {
            kind,
            country,
            number,
        })
    }
}

/// GB 11643-1999: 17 digits, then a check character from an ISO 7064 MOD 11-2 sum.
fn is_valid_prc_resident_id(number: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = number.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == bytes[17]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("email", "  Li.Na@Example.COM ")
                .unwrap()
                .as_str(),
            "li.na@example.com"
        );
        for bad in [
            "",
            "no-at",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@c.com",
            "a@-c.com",
        ] {
            assert_eq!(
                Email::parse("email", bad).unwrap_err().code,
                "invalid_email",
                "{bad}"
            );
        }
    }

    #[test]
    fn phones_become_e164_with_china_by_default() {
        let region = PhoneRegion::default();
        assert_eq!(
            Phone::parse("phone", "138 1234 5678", region)
                .unwrap()
                .as_str(),
            "+8613812345678"
        );
        assert_eq!(
            Phone::parse("phone", "+44 20 7946 0958", region)
                .unwrap()
                .as_str(),
            "+442079460958"
        );
        let us: PhoneRegion = "us".parse().unwrap();
        assert_eq!(
            Phone::parse("phone", "(415) 555-2671", us)
                .unwrap()
                .as_str(),
            "+14155552671"
        );
        assert_eq!(
            Phone::parse("phone", "12", region).unwrap_err().code,
            "invalid_phone"
        );
        assert!("ZZZ".parse::<PhoneRegion>().is_err());
    }

    #[test]
    fn dates_in_several_formats() {
        let d = |raw, order| parse_date("d", raw, order);
        let march = NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
        assert_eq!(d("2024-03-04", DateOrder::MonthDayYear).unwrap(), march);
        assert_eq!(d("20240304", DateOrder::YearMonthDay).unwrap(), march);
        assert_eq!(d("2024/3/4", DateOrder::DayMonthYear).unwrap(), march);
        assert_eq!(d("3/4/2024", DateOrder::MonthDayYear).unwrap(), march);
        assert_eq!(d("4.3.2024", DateOrder::DayMonthYear).unwrap(), march);
        assert!(d("2024-02-30", DateOrder::YearMonthDay).is_err());
        assert!(d("3/4/24", DateOrder::MonthDayYear).is_err());
        assert!(d("yesterday", DateOrder::YearMonthDay).is_err());
        let at = parse_instant("at", "2024-03-04T08:00:00+08:00", DateOrder::default()).unwrap();
        assert_eq!(at.to_rfc3339(), "2024-03-04T00:00:00+00:00");
    }

    #[test]
    fn prc_resident_ids_are_checked() {
        // The standard's published example number.
        let ok =
            IdDocument::parse("doc", DocumentKind::NationalId, "cn", "11010519491231002X").unwrap();
        assert_eq!(ok.number, "11010519491231002X");
        assert!(
            IdDocument::parse("doc", DocumentKind::NationalId, "CN", "110105194912310021").is_err()
        );
        assert!(IdDocument::parse("doc", DocumentKind::Passport, "CN", "E12345678").is_ok());
    }

    #[test]
    fn previews_cut_long_values() {
        assert_eq!(preview(&"长".repeat(100)).chars().count(), 41);
    }
}
