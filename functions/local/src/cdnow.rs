//! Reads the CDNOW transaction log: whitespace-aligned columns of customer
//! id, date (yyyymmdd), number of CDs and dollars, one purchase per line.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use strata_domain::FieldError;
use strata_domain::contact::{DateOrder, parse_instant};
use strata_domain::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub line: usize,
    pub customer: String,
    pub at: DateTime<Utc>,
    pub cds: u32,
    pub amount: Money,
}

/// A line that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    pub raw: String,
    pub error: FieldError,
}

/// Every line, read: a purchase or a rejection. Blank lines are skipped.
pub fn read(input: impl BufRead) -> std::io::Result<(Vec<Purchase>, Vec<Rejected>)> {
    let (mut purchases, mut rejected) = (Vec::new(), Vec::new());
    for (index, line) in input.lines().enumerate() {
        let raw = line?;
        if raw.trim().is_empty() {
            continue;
        }
        match parse(index + 1, &raw) {
            Ok(purchase) => purchases.push(purchase),
            Err(error) => rejected.push(Rejected {
                line: index + 1,
                raw,
                error,
            }),
        }
    }
    Ok((purchases, rejected))
}

fn parse(line: usize, raw: &str) -> Result<Purchase, FieldError> {
    let columns: Vec<&str> = raw.split_whitespace().collect();
    let [customer, date, cds, dollars] = columns[..] else {
        return Err(FieldError::new(
            "row",
            "column_count",
            format!("has {} columns; expected 4", columns.len()),
        ));
    };
    let cds = cds
        .parse::<u32>()
        .map_err(|_| FieldError::new("cds", "invalid_number", format!("`{cds}` is not a count")))?;
    let amount = Money::parse("dollars", dollars, Currency::USD)?;
    if amount.minor < 0 {
        return Err(FieldError::new(
            "dollars",
            "negative",
            "must not be negative",
        ));
    }
    Ok(Purchase {
        line,
        customer: strata_domain::text::identifier("customer", customer)?,
        at: parse_instant("date", date, DateOrder::YearMonthDay)?,
        cds,
        amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aligned_columns_and_reports_bad_lines() {
        let log = "00001 19970101  1  11.77\n\n00002 19970112  1  12.00\n00003 19970231 2 1.00\n00004 19970101 x 1.00\n00005 19970101 1\n";
        let (purchases, rejected) = read(log.as_bytes()).unwrap();
        assert_eq!(purchases.len(), 2);
        assert_eq!(purchases[0].customer, "00001");
        assert_eq!(purchases[0].amount.minor, 1177);
        assert_eq!(purchases[1].line, 3);
        let reasons: Vec<(usize, &str)> = rejected
            .iter()
            .map(|r| (r.line, r.error.field.as_str()))
            .collect();
        assert_eq!(reasons, [(4, "date"), (5, "cds"), (6, "row")]);
    }
}
