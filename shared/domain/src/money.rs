//! Money as an integer count of minor units. Never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// An ISO 4217 currency code, upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(field: &str, raw: &str) -> Result<Currency, FieldError> {
        let code = raw.trim().to_uppercase();
        match <[u8; 3]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Currency(bytes)),
            _ => Err(FieldError::new(
                field,
                "invalid_currency",
                "must be a three-letter ISO 4217 code",
            )),
        }
    }

    pub fn code(&self) -> &str {
        // The bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217 exponent).
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" | b"UGX" | b"XAF" | b"XOF" => 0,
            b"BHD" | b"KWD" | b"OMR" | b"JOD" | b"TND" | b"LYD" | b"IQD" => 3,
            _ => 2,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Currency::parse("currency", &code).map_err(|e| e.message)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in a currency's minor units (cents, fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Reads a decimal amount such as `1,234.50`, `29.33` or `-3`. Thousands
    /// separators (`,`, `_`, thin and plain spaces) are allowed between digit
    /// groups; more fractional digits than the currency has is an error rather
    /// than a silent rounding.
    pub fn parse(field: &str, raw: &str, currency: Currency) -> Result<Money, FieldError> {
        let invalid = |why: &str| {
            FieldError::new(field, "invalid_amount", format!("is not an amount: {why}"))
        };
        let text = raw.trim();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let whole_digits = strip_group_separators(whole)
            .ok_or_else(|| invalid("misplaced thousands separator"))?;
        if whole_digits.is_empty() && fraction.is_empty() {
            return Err(invalid("no digits"));
        }
        if !whole_digits.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                "only digits, one `.`, a sign and thousands separators are allowed",
            ));
        }
        let exponent = currency.exponent();
        if fraction.len() > exponent as usize {
            return Err(invalid(&format!(
                "{currency} has {exponent} decimal places"
            )));
        }
        let padded = format!(
            "{whole_digits}{fraction:0<width$}",
            width = exponent as usize
        );
        let magnitude: i64 = padded.trim_start_matches('0').parse().or_else(|_| {
            if padded.bytes().all(|b| b == b'0') {
                Ok(0)
            } else {
                Err(invalid("too large"))
            }
        })?;
        Ok(Money {
            minor: if negative { -magnitude } else { magnitude },
            currency,
        })
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.minor.checked_add(other.minor))
            .flatten()
            .map(|minor| Money {
                minor,
                currency: self.currency,
            })
    }

    pub fn checked_mul(self, factor: u32) -> Option<Money> {
        self.minor
            .checked_mul(i64::from(factor))
            .map(|minor| Money {
                minor,
                currency: self.currency,
            })
    }
}

/// `1,234,567` → `1234567`; `None` when separators do not split groups of three.
fn strip_group_separators(whole: &str) -> Option<String> {
    let groups: Vec<&str> = whole
        .split([',', '_', ' ', '\u{2009}', '\u{202f}'])
        .collect();
    if groups.len() == 1 {
        return Some(whole.to_owned());
    }
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    (first_ok && rest_ok).then(|| groups.concat())
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let scale = 10i64.pow(exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if exponent == 0 {
            write!(f, "{sign}{magnitude} {}", self.currency)
        } else {
            let scale = scale as u64;
            write!(
                f,
                "{sign}{}.{:0width$} {}",
                magnitude / scale,
                magnitude % scale,
                self.currency,
                width = exponent as usize
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(raw: &str) -> Result<i64, FieldError> {
        Money::parse("amount", raw, Currency::USD).map(|m| m.minor)
    }

    #[test]
    fn parses_exact_decimal_amounts() {
        assert_eq!(usd("29.33").unwrap(), 2933);
        assert_eq!(usd("1,234.5").unwrap(), 123_450);
        assert_eq!(usd("1 234 567").unwrap(), 123_456_700);
        assert_eq!(usd("-3").unwrap(), -300);
        assert_eq!(usd("0.00").unwrap(), 0);
        assert_eq!(usd(".5").unwrap(), 50);
        assert_eq!(
            Money::parse("a", "1500", Currency::parse("c", "jpy").unwrap())
                .unwrap()
                .minor,
            1500
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        for bad in [
            "",
            "1.234",
            "12,34",
            "1e3",
            "NaN",
            "１２",
            "99999999999999999999",
            "--1",
            "1.2.3",
        ] {
            assert_eq!(usd(bad).unwrap_err().code, "invalid_amount", "{bad}");
        }
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let a = Money {
            minor: 150,
            currency: Currency::USD,
        };
        assert_eq!(a.checked_add(a).unwrap().minor, 300);
        assert!(a.checked_add(Money::zero(Currency::CNY)).is_none());
        assert!(
            Money {
                minor: i64::MAX,
                currency: Currency::USD
            }
            .checked_mul(2)
            .is_none()
        );
        assert_eq!(a.to_string(), "1.50 USD");
        assert_eq!(
            Money {
                minor: -5,
                currency: Currency::CNY
            }
            .to_string(),
            "-0.05 CNY"
        );
    }
}
