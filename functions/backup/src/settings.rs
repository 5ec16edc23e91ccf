//! What the backup job is told: schedule, sizing, retention, archive lock.
//! Read from the environment by the Lambda, built from flags locally.

use chrono::{Duration, Weekday};
use strata_domain::backup::{BackupSchedule, RetentionPolicy};
use strata_lambda_kit::EnvReader;
use strata_snapshot::{RestoreOptions, SnapshotSettings};

#[derive(Debug, Clone)]
pub struct BackupSettings {
    pub schedule: BackupSchedule,
    pub snapshot: SnapshotSettings,
    /// Retention in the snapshot store.
    pub retention: RetentionPolicy,
    /// Retention in the archive; its lock may keep copies longer.
    pub archive_retention: RetentionPolicy,
    /// Days each archive copy is locked (compliance mode) after it was taken.
    pub archive_lock_days: u32,
    pub restore: RestoreOptions,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            schedule: BackupSchedule::default(),
            snapshot: SnapshotSettings::default(),
            retention: RetentionPolicy::default(),
            archive_retention: RetentionPolicy {
                daily: 0,
                weekly: 4,
                monthly: 12,
                grace: Duration::days(1),
            },
            archive_lock_days: 90,
            restore: RestoreOptions::default(),
        }
    }
}

impl BackupSettings {
    /// Reads every setting that is present, keeping defaults for the rest;
    /// malformed values are reported by `env.finish()`.
    pub fn from_env(env: &mut EnvReader) -> BackupSettings {
        let defaults = BackupSettings::default();
        let policy = |env: &mut EnvReader, prefix: &str, base: RetentionPolicy| RetentionPolicy {
            daily: env.parsed_or(&format!("{prefix}_DAILY"), base.daily),
            weekly: env.parsed_or(&format!("{prefix}_WEEKLY"), base.weekly),
            monthly: env.parsed_or(&format!("{prefix}_MONTHLY"), base.monthly),
            grace: base.grace,
        };
        BackupSettings {
            schedule: BackupSchedule {
                full_on: env
                    .parsed_or::<Weekday>("STRATA_BACKUP_FULL_WEEKDAY", defaults.schedule.full_on),
                max_chain: env.parsed_or("STRATA_BACKUP_MAX_CHAIN", defaults.schedule.max_chain),
            },
            snapshot: SnapshotSettings {
                segments: env.parsed_or("STRATA_BACKUP_SEGMENTS", defaults.snapshot.segments),
                concurrency: env
                    .parsed_or("STRATA_BACKUP_CONCURRENCY", defaults.snapshot.concurrency),
                ..defaults.snapshot
            },
            retention: policy(env, "STRATA_KEEP", defaults.retention),
            archive_retention: policy(env, "STRATA_ARCHIVE_KEEP", defaults.archive_retention),
            archive_lock_days: env
                .parsed_or("STRATA_ARCHIVE_LOCK_DAYS", defaults.archive_lock_days),
            restore: defaults.restore,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn reads_what_is_set_keeps_defaults_and_names_bad_values() {
        let vars = BTreeMap::from([
            ("STRATA_BACKUP_FULL_WEEKDAY", "wed"),
            ("STRATA_KEEP_DAILY", "14"),
            ("STRATA_ARCHIVE_LOCK_DAYS", "365"),
            ("STRATA_BACKUP_SEGMENTS", "many"),
        ]);
        let mut env = EnvReader::from_lookup(move |name| vars.get(name).map(|v| v.to_string()));
        let settings = BackupSettings::from_env(&mut env);
        assert_eq!(settings.schedule.full_on, Weekday::Wed);
        assert_eq!(settings.retention.daily, 14);
        assert_eq!(settings.retention.weekly, RetentionPolicy::default().weekly);
        assert_eq!(settings.archive_lock_days, 365);
        let error = env.finish().unwrap_err();
        assert_eq!(
            error.problems.keys().collect::<Vec<_>>(),
            ["STRATA_BACKUP_SEGMENTS"]
        );
    }
}
