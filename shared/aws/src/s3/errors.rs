//! Mapping of SDK errors onto the blob port's errors.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use strata_domain::ports::blob::BlobError;

/// `key` names the object the request was about, for `NotFound`/`InvalidKey`.
pub(crate) fn blob_error<E>(err: SdkError<E, HttpResponse>, key: &str) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let detail = match err.code() {
                Some(code) => format!("{code}: {}", err.message().unwrap_or_default()),
                None => format!("HTTP {status}: {}", DisplayErrorContext(&err)),
            };
            by_code(err.code(), detail, status, key)
        }
        SdkError::ConstructionFailure(_) => {
            BlobError::Refused(DisplayErrorContext(&err).to_string())
        }
        // Dispatch and timeout failures, unreadable responses.
        _ => BlobError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

fn by_code(code: Option<&str>, detail: String, status: u16, key: &str) -> BlobError {
    match code.unwrap_or_default() {
        "NoSuchKey" | "NotFound" => BlobError::NotFound(key.to_owned()),
        "KeyTooLongError" => BlobError::InvalidKey(key.to_owned()),
        // Object Lock refusals come as AccessDenied too.
        "AccessDenied" | "AllAccessDisabled" => BlobError::Refused(detail),
        "SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
            BlobError::Throttled(detail)
        }
        // A missing bucket is a deployment fault, not a fault of the request.
        "NoSuchBucket" => BlobError::Unavailable(detail),
        // S3 answers 503 when it wants the client to slow down.
        _ if status == 503 => BlobError::Throttled(detail),
        _ if status >= 500 => BlobError::Unavailable(detail),
        _ => BlobError::Refused(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_port_errors() {
        assert_eq!(
            by_code(Some("NoSuchKey"), String::new(), 404, "a/b"),
            BlobError::NotFound("a/b".into())
        );
        assert!(matches!(
            by_code(Some("AccessDenied"), String::new(), 403, "k"),
            BlobError::Refused(_)
        ));
        assert!(matches!(
            by_code(Some("SlowDown"), String::new(), 503, "k"),
            BlobError::Throttled(_)
        ));
        assert!(matches!(
            by_code(Some("InternalError"), String::new(), 500, "k"),
            BlobError::Unavailable(_)
        ));
        assert!(matches!(
            by_code(None, String::new(), 400, "k"),
            BlobError::Refused(_)
        ));
    }
}
