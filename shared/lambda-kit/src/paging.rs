//! Paged lists: the `limit` and `cursor` query parameters every list route
//! takes. A cursor is the table's, handed out as opaque base64url JSON.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use strata_domain::ports::table::Cursor;
use strata_domain::{FieldError, Invalid};

use crate::Problem;

/// A 422 naming one field.
pub fn invalid(field: &str, message: &str) -> Problem {
    Problem::from(Invalid::from(FieldError::new(field, "invalid", message)))
}

/// `limit`, or `default` without one; 1 to `max`.
pub fn page_limit(raw: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
    let limit = raw.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid("limit", &format!("must be 1 to {max}")))
    }
}

/// A page cursor as a client sends it back.
pub fn cursor_in(raw: Option<&str>) -> Result<Option<Cursor>, Problem> {
    raw.map(|raw| {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
            .ok_or_else(|| invalid("cursor", "is not a cursor this API gave out"))
    })
    .transpose()
}

pub fn cursor_out(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let cursor = Cursor(
            [(
                "pk".to_owned(),
                strata_domain::ports::table::Value::S("CUST#1".into()),
            )]
            .into(),
        );
        let out = cursor_out(&cursor);
        assert_eq!(cursor_in(Some(&out)).unwrap(), Some(cursor));
        assert_eq!(cursor_in(Some("not-a-cursor")).unwrap_err().status, 422);
        assert_eq!(page_limit(Some(0), 50, 100).unwrap_err().status, 422);
        assert_eq!(page_limit(None, 50, 100).unwrap(), 50);
    }
}
