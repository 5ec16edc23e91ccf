//! The scheduled erasure of customers inactive past the retention limit
//! (`RetentionPolicy::inactive_customer_days`). It runs in the import
//! function: erasing needs the customers' keys (to open a profile and find
//! its lookups) and only the ingest functions' roles may use them; the
//! import function is the one invoked asynchronously, with retries and a
//! dead-letter queue. The tiering job marks the customers (it reads
//! pseudonymously); `strata_store::InactiveErasure` erases them.

use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use chrono::Utc;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_store::{InactiveErasure, InactiveErasureReport, StoreError};

/// What EventBridge's schedules send as `detail-type`.
const SCHEDULED: &str = "Scheduled Event";

/// The import function's two triggers.
#[derive(Debug)]
pub enum ImportFunctionEvent {
    /// Objects created under `imports/`: an import starts or resumes.
    Upload(S3Event),
    /// The schedule: erase customers inactive past the limit.
    Schedule(EventBridgeEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not an S3 notification nor a scheduled event: {0}")]
    Unrecognised(String),
    #[error("a malformed {what}: {source}")]
    Malformed {
        what: &'static str,
        source: serde_json::Error,
    },
}

impl ImportFunctionEvent {
    /// Tells the triggers apart by shape: S3 sends `Records`, EventBridge a
    /// `detail-type`. Anything else is refused, never read as an empty
    /// S3 event.
    pub fn classify(event: serde_json::Value) -> Result<Self, EventError> {
        let malformed = |what| move |source| EventError::Malformed { what, source };
        if event.get("Records").is_some() {
            return serde_json::from_value(event)
                .map(ImportFunctionEvent::Upload)
                .map_err(malformed("S3 notification"));
        }
        match event.get("detail-type").and_then(|t| t.as_str()) {
            Some(SCHEDULED) => serde_json::from_value(event)
                .map(ImportFunctionEvent::Schedule)
                .map_err(malformed("scheduled event")),
            Some(other) => Err(EventError::Unrecognised(format!("detail-type `{other}`"))),
            None => Err(EventError::Unrecognised(
                "neither `Records` nor `detail-type`".into(),
            )),
        }
    }
}

/// Time kept back from Lambda's deadline: the run stops taking customers
/// then, so the one in hand finishes and the report goes out.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// One scheduled run as of the event's time (now if it has none); stops
/// before `deadline` and leaves the rest to the next run.
pub async fn on_schedule(
    erasure: &InactiveErasure,
    event: EventBridgeEvent,
    deadline: Option<Instant>,
) -> Result<InactiveErasureReport, StoreError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let started = Instant::now();
    let stop_at = deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d));
    let report = erasure.run(as_of, stop_at).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "inactive-erasure");
    metrics.add("InactiveCustomersErased", report.erased as f64, Unit::Count);
    metrics.add(
        "InactiveCustomersKept",
        report.kept_active as f64,
        Unit::Count,
    );
    metrics.add("AuditWriteFailed", report.audit_failed as f64, Unit::Count);
    metrics.add(
        "Duration",
        started.elapsed().as_secs_f64() * 1e3,
        Unit::Milliseconds,
    );
    metrics.flush();
    tracing::info!(?report, %as_of, "inactive-customer erasure done");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_import_functions_triggers_are_told_apart_and_nothing_else_is_taken() {
        let scheduled = ImportFunctionEvent::classify(fixture("inactive-erasure-schedule.json"));
        let Ok(ImportFunctionEvent::Schedule(event)) = scheduled else {
            panic!("{scheduled:?}");
        };
        assert_eq!(
            event.time,
            Some("2029-11-26T03:00:00Z".parse().unwrap()),
            "the run is as of the schedule's time"
        );
        let upload = ImportFunctionEvent::classify(fixture("s3-object-created-import.json"));
        assert!(
            matches!(upload, Ok(ImportFunctionEvent::Upload(ref e)) if e.records.len() == 1),
            "{upload:?}"
        );
        for other in [
            serde_json::json!({}),
            serde_json::json!({"detail-type": "Backup Requested", "source": "strata", "detail": {}}),
        ] {
            assert!(matches!(
                ImportFunctionEvent::classify(other),
                Err(EventError::Unrecognised(_))
            ));
        }
    }
}
