//! What an event-driven function does with a failed record: let the event
//! source retry it, or set it aside as permanently bad.

use strata_store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient (throttling, a conflict, an outage): fail the invocation or
    /// batch item so the event source delivers it again.
    Retry,
    /// Bad data or a bug: retrying cannot help; report it and move on so it
    /// reaches a dead-letter queue or a rejection file.
    Reject,
}

impl From<&StoreError> for Disposition {
    fn from(error: &StoreError) -> Self {
        if error.is_retryable() {
            Disposition::Retry
        } else {
            Disposition::Reject
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::ports::table::TableError;

    #[test]
    fn transient_errors_are_retried() {
        assert_eq!(
            Disposition::from(&StoreError::Table(TableError::Unavailable(
                "timeout".into()
            ))),
            Disposition::Retry
        );
        assert_eq!(
            Disposition::from(&StoreError::Encode("bad".into())),
            Disposition::Reject
        );
    }
}
