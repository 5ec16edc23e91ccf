use std::time::Duration;

/// Failures while configuring an adapter or provisioning its resources.
/// Request failures of the ports use the ports' own error types.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("a part size of {0} bytes is outside S3's limits (5 MiB to 5 GiB)")]
    PartSize(usize),
    #[error("{operation} failed: {detail}")]
    Request {
        operation: &'static str,
        detail: String,
    },
    #[error("table `{table}` was not active after {waited:?}")]
    NotActive { table: String, waited: Duration },
}

impl SetupError {
    pub(crate) fn request(operation: &'static str, err: impl std::error::Error) -> Self {
        SetupError::Request {
            operation,
            detail: aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
        }
    }
}
