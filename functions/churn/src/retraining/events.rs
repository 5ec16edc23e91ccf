//! The retraining Lambda's events, all through EventBridge: its schedule,
//! the bucket's "Object Created" events for candidate cards (the bucket
//! sends its events to EventBridge), and operators' requests
//! (`source: strata.operations`).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::run::run_of_candidate_card;
use super::{RetrainError, RetrainReport, Retraining};
use crate::retraining::run::Review;

pub const RETRAIN_REQUESTED: &str = "Strata Churn Retraining Requested";
pub const ROLLBACK_REQUESTED: &str = "Strata Churn Rollback Requested";

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Schedule,
    Retrain,
    Review {
        run: String,
    },
    Rollback {
        version: String,
    },
    /// Not for this function (or malformed): logged and acknowledged, so a
    /// stray event is not retried into the dead-letter queue.
    Ignore(String),
}

pub fn request(event: &EventBridgeEvent) -> Request {
    let detail = &event.detail;
    match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.events" | "aws.scheduler", "Scheduled Event") => Request::Schedule,
        ("aws.s3", "Object Created") => {
            let key = detail["object"]["key"].as_str().unwrap_or_default();
            match run_of_candidate_card(key) {
                Some(run) => Request::Review { run },
                None => Request::Ignore(format!("not a candidate card: `{key}`")),
            }
        }
        ("strata.operations", RETRAIN_REQUESTED) => Request::Retrain,
        ("strata.operations", ROLLBACK_REQUESTED) => match detail["version"].as_str() {
            Some(version) if !version.is_empty() => Request::Rollback {
                version: version.to_owned(),
            },
            _ => Request::Ignore("a rollback request names no `version`".into()),
        },
        (source, kind) => Request::Ignore(format!("unexpected event `{kind}` from `{source}`")),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "did", rename_all = "snake_case")]
pub enum Handled {
    Scheduled(Box<RetrainReport>),
    Reviewed(Review),
    RolledBack { version: String },
    Ignored { reason: String },
}

/// Handles one event as of its time (now if it has none).
pub async fn handle(
    service: &Retraining,
    event: EventBridgeEvent,
) -> Result<Handled, RetrainError> {
    let now: DateTime<Utc> = event.time.unwrap_or_else(Utc::now);
    Ok(match request(&event) {
        Request::Schedule => Handled::Scheduled(Box::new(service.on_schedule(now, false).await?)),
        Request::Retrain => Handled::Scheduled(Box::new(service.on_schedule(now, true).await?)),
        Request::Review { run } => Handled::Reviewed(service.review(&run, now).await?),
        Request::Rollback { version } => {
            service.rollback(&version, now).await?;
            Handled::RolledBack { version }
        }
        Request::Ignore(reason) => {
            tracing::warn!(%reason, "event ignored");
            Handled::Ignored { reason }
        }
    })
}
