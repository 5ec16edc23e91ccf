//! Mapping of SDK errors onto the table port's errors.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use strata_domain::ports::table::TableError;

pub(crate) fn table_error<E>(err: SdkError<E, HttpResponse>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            let detail = match err.code() {
                Some(code) => format!("{code}: {}", err.message().unwrap_or_default()),
                None => format!("HTTP {}: {}", status.as_u16(), DisplayErrorContext(&err)),
            };
            by_code(err.code(), detail, status.is_server_error())
        }
        SdkError::ConstructionFailure(_) => {
            TableError::InvalidRequest(DisplayErrorContext(&err).to_string())
        }
        // Dispatch and timeout failures, unreadable responses.
        _ => TableError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

fn by_code(code: Option<&str>, detail: String, server_error: bool) -> TableError {
    match code.unwrap_or_default() {
        "ConditionalCheckFailedException" => TableError::ConditionFailed,
        "TransactionCanceledException" => TableError::TransactionCanceled(detail),
        // A conflict with a concurrent transaction clears up when retried later.
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TransactionConflictException" => TableError::Throttled(detail),
        "ValidationException" | "SerializationException" => TableError::InvalidRequest(detail),
        // A missing table or missing permissions are deployment faults: the
        // request itself is fine, the table is not there for it.
        "ResourceNotFoundException" | "AccessDeniedException" | "UnrecognizedClientException" => {
            TableError::Unavailable(detail)
        }
        _ if server_error => TableError::Unavailable(detail),
        _ => TableError::InvalidRequest(detail),
    }
}

/// A cancelled transaction, described in DynamoDB's wording (as the
/// embedded adapter does): one reason per operation, in order, `None` for
/// those that were fine. When every failing operation was only throttled or
/// in conflict, the transaction may succeed if retried, so it maps to
/// `Throttled`.
pub(crate) fn canceled(reasons: &[CancellationReason], message: Option<&str>) -> TableError {
    if reasons.is_empty() {
        return TableError::TransactionCanceled(message.unwrap_or("no reason given").to_owned());
    }
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.code().unwrap_or("Unknown"))
        .collect();
    let detail = format!("cancellation reasons [{}]", codes.join(", "));
    let transient = [
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "TransactionConflict",
    ];
    if codes
        .iter()
        .filter(|c| **c != "None")
        .all(|c| transient.contains(c))
    {
        TableError::Throttled(detail)
    } else {
        TableError::TransactionCanceled(detail)
    }
}

/// SDK builders fail only when a required field is missing, which would be
/// a bug here; it still must not panic on a request path.
pub(crate) fn built<T>(result: Result<T, BuildError>) -> Result<T, TableError> {
    result.map_err(|e| TableError::InvalidRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    #[test]
    fn cancellation_reasons_are_listed_per_operation() {
        let err = canceled(&[reason("None"), reason("ConditionalCheckFailed")], None);
        let expected = "cancellation reasons [None, ConditionalCheckFailed]";
        assert_eq!(err, TableError::TransactionCanceled(expected.into()));
    }

    #[test]
    fn cancellations_by_contention_alone_are_retryable() {
        let err = canceled(
            &[
                reason("TransactionConflict"),
                reason("None"),
                reason("ThrottlingError"),
            ],
            None,
        );
        assert!(matches!(err, TableError::Throttled(_)));
    }

    #[test]
    fn codes_map_to_port_errors() {
        assert_eq!(
            by_code(
                Some("ConditionalCheckFailedException"),
                String::new(),
                false
            ),
            TableError::ConditionFailed
        );
        assert!(matches!(
            by_code(Some("ThrottlingException"), String::new(), false),
            TableError::Throttled(_)
        ));
        assert!(matches!(
            by_code(Some("ValidationException"), String::new(), false),
            TableError::InvalidRequest(_)
        ));
        assert!(matches!(
            by_code(Some("InternalServerError"), String::new(), true),
            TableError::Unavailable(_)
        ));
    }
}
