//! The backup function: on its EventBridge schedule it takes a snapshot of
//! the table (full on the configured weekday, incremental otherwise), reads
//! it back, copies every verified snapshot into the locked archive, mirrors
//! the erasure ledger there, and applies retention to both stores. On
//! request it takes a snapshot now, or restores one into a new table.
//!
//! [`handle`] is what the Lambda runs; the local host and the tests call it
//! (or the service) the same way.

pub mod events;
pub mod lambda;
pub mod local;
mod service;
mod settings;
mod targets;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use serde_json::Value;
use strata_lambda_kit::metrics::Metrics;

pub use events::Command;
pub use service::{
    Archive, BackupError, BackupRun, BackupService, RestoreRequest, RestoreSource, RestoreTargets,
    restore_from,
};
pub use settings::BackupSettings;
pub use targets::EmbeddedTargets;

/// Handles one event and answers with what was done (JSON). Errors fail the
/// invocation, so the schedule's failure alarm fires; a failed restore is
/// reported to whoever asked.
pub async fn handle(
    service: &BackupService,
    event: EventBridgeEvent<Value>,
) -> Result<Value, BackupError> {
    let mut metrics = Metrics::new("Strata").dimension("Function", "backup");
    let outcome = match events::command(event, Utc::now())? {
        Command::Backup {
            scheduled_for,
            kind,
        } => service
            .run(scheduled_for, kind, &mut metrics)
            .await
            .map(|run| serde_json::to_value(run).unwrap_or(Value::Null)),
        Command::Restore(request) => {
            let report = service.restore(&request).await;
            if let Ok(report) = &report {
                metrics.add(
                    "RestoredItems",
                    report.items_restored as f64,
                    strata_lambda_kit::metrics::Unit::Count,
                );
            }
            report.map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
        }
    };
    metrics.flush();
    if let Err(error) = &outcome {
        tracing::error!(%error, "backup function failed");
    }
    outcome
}
