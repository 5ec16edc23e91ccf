//! The `Idempotency-Key` header on writes: the first request runs, a repeat
//! replays its response, the same key with another payload is refused.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};
use strata_lambda_kit::Problem;
use strata_store::{Claim, StoredResponse};

use super::{ApiState, BATCH_BODY_LIMIT};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
const MAX_KEY_BYTES: usize = 255;

/// Handed to a handler that runs under an idempotency key: the same for the
/// same key and request (method, path, body), so a request run again after
/// a failure can recognise what its first run did (a batch's order claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdentity(pub String);

pub async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(key)
            if !key.is_empty()
                && key.len() <= MAX_KEY_BYTES
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            key.to_owned()
        }
        _ => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BATCH_BODY_LIMIT).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "The request body is too large",
        )
        .into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());
    let store = &state.idempotency;
    match store.claim(&key, &fingerprint, Utc::now()).await {
        Err(error) => Problem::from(&error).into_response(),
        Ok(Claim::Mismatch) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "This Idempotency-Key was used for a different request",
        )
        .into_response(),
        Ok(Claim::InProgress) => Problem::new(
            StatusCode::CONFLICT,
            "request-in-progress",
            "A request with this Idempotency-Key is still running",
        )
        .into_response(),
        Ok(Claim::Replay(stored)) => replay(stored),
        Ok(Claim::Run) => {
            let identity = Sha256::digest(format!("{key}\0{fingerprint}"));
            parts
                .extensions
                .insert(RequestIdentity(hex::encode(&identity[..16])));
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (head, body) = response.into_parts();
            let Ok(body) = to_bytes(body, usize::MAX).await else {
                let _ = store.release(&key, &fingerprint).await;
                return Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The response could not be read",
                )
                .into_response();
            };
            let stored = StoredResponse {
                status: head.status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            // A server-side failure may succeed on retry, so the key is freed for it.
            let kept = if head.status.is_server_error() {
                store.release(&key, &fingerprint).await
            } else {
                store.complete(&key, &fingerprint, stored).await
            };
            if let Err(error) = kept {
                tracing::warn!(%error, "could not record the idempotent response");
            }
            Response::from_parts(head, Body::from(body))
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        strata_lambda_kit::problem::CONTENT_TYPE
    };
    let mut response = (status, stored.body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
