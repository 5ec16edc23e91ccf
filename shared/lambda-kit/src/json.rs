//! JSON bodies that fail with a problem response naming the field, never a
//! bare 400/500: syntax errors, wrong types, unknown fields, oversized bodies.

use crate::Problem;
use crate::problem::unknown_field;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde::de::DeserializeOwned;
use strata_domain::FieldError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                let problem = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(status, "payload-too-large", "The request body is too large")
                } else {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        "unreadable-body",
                        "The request body could not be read",
                    )
                };
                problem.detail(rejection.body_text())
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Reads JSON, reporting where in the document it went wrong.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
            )
            .detail(inner.to_string());
        }
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        // A field the client may not set (role, owner, version, scores, …)
        // or a typo: named exactly, so mass assignment is refused visibly.
        if let Some(name) = unknown_field(&message) {
            let field = match path.as_str() {
                "." => name.to_owned(),
                parent if parent.ends_with(name) => parent.to_owned(),
                parent => format!("{parent}.{name}"),
            };
            return Problem::from(strata_domain::Invalid {
                errors: vec![FieldError::new(field, "unknown_field", message)],
            });
        }
        let field = if path == "." { "body".to_owned() } else { path };
        Problem::from(strata_domain::Invalid {
            errors: vec![FieldError::new(field, "invalid_value", message)],
        })
    })
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
