//! Stored configuration changed under its revision over HTTP: the revision
//! goes out as an `ETag` and comes back in `If-Match`, so a change applies
//! only to what the client read.

use axum::response::Response;
use http::{HeaderMap, header};

use crate::Problem;

/// The response with `ETag: "<revision>"`.
pub fn with_etag(revision: u64, mut response: Response) -> Response {
    if let Ok(value) = format!("\"{revision}\"").parse() {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The revision `If-Match` names; `None` without the header. A value that is
/// not one of these ETags is a 422 naming `If-Match`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().trim_matches('"').parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::from(strata_domain::Invalid::from(
                strata_domain::FieldError::new(
                    "If-Match",
                    "invalid",
                    "must be a revision from an ETag",
                ),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_revision_an_etag_gave() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, "\"7\"".parse().unwrap());
        assert_eq!(if_match(&headers).unwrap(), Some(7));
        headers.insert(header::IF_MATCH, "W/\"x\"".parse().unwrap());
        assert_eq!(if_match(&headers).unwrap_err().status().as_u16(), 422);
    }
}
