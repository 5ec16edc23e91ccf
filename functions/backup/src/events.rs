//! The events the function takes, all in EventBridge's envelope: the daily
//! schedule, and two operator requests sent with `aws events put-events`
//! (or `aws lambda invoke`): a backup now, and a restore.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use strata_domain::backup::SnapshotKind;

use crate::service::{BackupError, RestoreRequest};

pub const SCHEDULED: &str = "Scheduled Event";
pub const BACKUP_REQUESTED: &str = "Strata Backup Requested";
pub const RESTORE_REQUESTED: &str = "Strata Restore Requested";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `kind` forces a full or incremental snapshot; otherwise the schedule decides.
    Backup {
        scheduled_for: DateTime<Utc>,
        kind: Option<SnapshotKind>,
    },
    Restore(RestoreRequest),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupDetail {
    #[serde(default)]
    kind: Option<SnapshotKind>,
}

/// Reads an event; `now` stands in for a missing event time.
pub fn command(event: EventBridgeEvent<Value>, now: DateTime<Utc>) -> Result<Command, BackupError> {
    let scheduled_for = event.time.unwrap_or(now);
    let detail = |what: &str| -> Result<Value, BackupError> {
        if event.detail.is_null() {
            Err(BackupError::InvalidRequest(format!(
                "a {what} needs a detail"
            )))
        } else {
            Ok(event.detail.clone())
        }
    };
    match event.detail_type.as_str() {
        SCHEDULED => Ok(Command::Backup {
            scheduled_for,
            kind: None,
        }),
        BACKUP_REQUESTED => {
            let detail: BackupDetail = serde_json::from_value(detail("backup request")?)
                .map_err(|e| BackupError::InvalidRequest(format!("backup request: {e}")))?;
            Ok(Command::Backup {
                scheduled_for,
                kind: detail.kind,
            })
        }
        RESTORE_REQUESTED => serde_json::from_value(detail("restore request")?)
            .map(Command::Restore)
            .map_err(|e| BackupError::InvalidRequest(format!("restore request: {e}"))),
        other => Err(BackupError::UnknownEvent(other.to_owned())),
    }
}
