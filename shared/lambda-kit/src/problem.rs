//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use strata_domain::{FieldError, Invalid};
use strata_store::StoreError;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem; relative, resolved against the API.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields at fault, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str) -> Self {
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<Invalid> for Problem {
    fn from(invalid: Invalid) -> Self {
        let mut problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "The request has invalid fields",
        );
        problem.detail = Some(invalid.to_string());
        problem.errors = invalid.errors;
        problem
    }
}

impl From<&StoreError> for Problem {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "The record was changed meanwhile",
            )
            .detail(error.to_string()),
            StoreError::IdentifierTaken { .. } => Problem::new(
                StatusCode::CONFLICT,
                "identifier-taken",
                "The identifier belongs to another customer",
            )
            .detail(error.to_string()),
            StoreError::AlreadyExists { .. } => Problem::new(
                StatusCode::CONFLICT,
                "already-exists",
                "The record already exists",
            )
            .detail(error.to_string()),
            StoreError::NotFound { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                    .detail(error.to_string())
            }
            StoreError::Archived { .. } => Problem::new(
                StatusCode::CONFLICT,
                "archived",
                "The record is archived in the cold tier",
            )
            .detail(error.to_string()),
            StoreError::InsufficientPoints { .. } => {
                let mut problem = Problem::from(Invalid {
                    errors: vec![FieldError::new(
                        "points",
                        "insufficient_points",
                        error.to_string(),
                    )],
                });
                problem.title = "The balance does not cover the points asked for".into();
                problem
            }
            other if other.is_retryable() => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Storage is busy; retry shortly",
            ),
            // Internal detail stays in the logs, not in the response.
            _ => {
                tracing::error!(%error, "storage failure");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side",
                )
            }
        }
    }
}

/// The field serde names in "unknown field `name`, expected …": a field the
/// client may not set (role, owner, version, scores: mass assignment) or a
/// typo; bodies deny unknown fields so that either is refused by name.
pub fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split('`')
        .next()
        .filter(|name| !name.is_empty())
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = self.status, title = %self.title, "request failed");
        }
        let mut response = (status, Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problems_name_the_fields() {
        let invalid = Invalid {
            errors: vec![FieldError::new(
                "email",
                "invalid_email",
                "is not an e-mail address",
            )],
        };
        let problem = Problem::from(invalid);
        assert_eq!(problem.status, 422);
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["errors"][0]["field"], "email");
        assert_eq!(json["type"], "/problems/invalid-input");
        let response = problem.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(
            unknown_field("unknown field `role`, expected one of `name`, `email`"),
            Some("role")
        );
        assert_eq!(unknown_field("invalid type: integer"), None);
        assert_eq!(unknown_field("unknown field ``"), None);
    }

    #[test]
    fn storage_errors_map_to_conflict_or_unavailable() {
        let conflict = StoreError::Conflict {
            what: "customer".into(),
        };
        assert_eq!(Problem::from(&conflict).status, 409);
        let busy = StoreError::Table(strata_domain::ports::table::TableError::Throttled(
            "slow down".into(),
        ));
        assert_eq!(Problem::from(&busy).status, 503);
        let corrupt = StoreError::Encode("secret detail".into());
        let problem = Problem::from(&corrupt);
        assert_eq!(problem.status, 500);
        assert!(problem.detail.is_none(), "internal detail must not leak");
    }
}
