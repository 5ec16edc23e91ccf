//! Which kind of snapshot a scheduled run takes.

use chrono::{DateTime, Datelike, Utc, Weekday};

use super::{SnapshotId, SnapshotInfo, SnapshotKind, SnapshotState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSchedule {
    /// The weekday (UTC) whose run takes a full snapshot.
    pub full_on: Weekday,
    /// The most incrementals on one full; the next run after that is full,
    /// which bounds how much a restore has to read.
    pub max_chain: u32,
}

impl Default for BackupSchedule {
    fn default() -> Self {
        BackupSchedule {
            full_on: Weekday::Sun,
            max_chain: 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextSnapshot {
    Full,
    Incremental { parent: SnapshotId },
}

impl NextSnapshot {
    pub fn kind(&self) -> SnapshotKind {
        match self {
            NextSnapshot::Full => SnapshotKind::Full,
            NextSnapshot::Incremental { .. } => SnapshotKind::Incremental,
        }
    }
}

/// Full on the schedule's weekday, when nothing verified can be built on, or
/// when the chain is long enough; otherwise incremental on the newest
/// verified snapshot.
pub fn next_snapshot(
    schedule: &BackupSchedule,
    now: DateTime<Utc>,
    snapshots: &[SnapshotInfo],
) -> NextSnapshot {
    if now.weekday() == schedule.full_on {
        return NextSnapshot::Full;
    }
    let Some(newest) = snapshots
        .iter()
        .filter(|s| s.state == SnapshotState::Verified)
        .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
    else {
        return NextSnapshot::Full;
    };
    match incrementals_on_full(newest, snapshots) {
        Some(length) if length < schedule.max_chain => NextSnapshot::Incremental {
            parent: newest.id.clone(),
        },
        _ => NextSnapshot::Full,
    }
}

/// How many incrementals lead from a full to `snapshot` (itself included);
/// `None` if an ancestor is missing or not verified.
fn incrementals_on_full(snapshot: &SnapshotInfo, snapshots: &[SnapshotInfo]) -> Option<u32> {
    let mut at = snapshot;
    let mut length = 0;
    while let Some(parent) = &at.parent {
        length += 1;
        if length as usize > snapshots.len() {
            return None; // a loop in damaged metadata
        }
        at = snapshots
            .iter()
            .find(|s| &s.id == parent && s.state == SnapshotState::Verified)?;
    }
    (at.kind == SnapshotKind::Full).then_some(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::SnapshotKind::{Full, Incremental};
    use crate::backup::SnapshotState::{Unverified, Verified};
    use crate::backup::test_support::{at, snapshot};

    const MONDAY: &str = "2026-06-08T03:00:00Z";
    const SUNDAY: &str = "2026-06-14T03:00:00Z";

    #[test]
    fn the_first_run_and_the_full_weekday_take_full_snapshots() {
        let schedule = BackupSchedule::default();
        assert_eq!(
            next_snapshot(&schedule, at(MONDAY), &[]),
            NextSnapshot::Full
        );
        let full = snapshot("2026-06-07T03:00:00Z", Full, None, Verified);
        assert_eq!(
            next_snapshot(&schedule, at(MONDAY), std::slice::from_ref(&full)),
            NextSnapshot::Incremental {
                parent: full.id.clone()
            }
        );
        assert_eq!(
            next_snapshot(&schedule, at(SUNDAY), &[full]),
            NextSnapshot::Full
        );
    }

    #[test]
    fn incrementals_build_on_the_newest_verified_snapshot() {
        let full = snapshot("2026-06-07T03:00:00Z", Full, None, Verified);
        let good = snapshot("2026-06-08T03:00:00Z", Incremental, Some(&full), Verified);
        let failed = snapshot("2026-06-09T03:00:00Z", Incremental, Some(&good), Unverified);
        let next = next_snapshot(
            &BackupSchedule::default(),
            at("2026-06-10T03:00:00Z"),
            &[full, good.clone(), failed],
        );
        assert_eq!(next, NextSnapshot::Incremental { parent: good.id });
    }

    #[test]
    fn a_long_chain_or_a_broken_one_starts_over_with_a_full() {
        let schedule = BackupSchedule {
            full_on: chrono::Weekday::Sun,
            max_chain: 2,
        };
        let full = snapshot("2026-06-07T03:00:00Z", Full, None, Verified);
        let one = snapshot("2026-06-08T03:00:00Z", Incremental, Some(&full), Verified);
        let two = snapshot("2026-06-09T03:00:00Z", Incremental, Some(&one), Verified);
        let wednesday = at("2026-06-10T03:00:00Z");
        assert_eq!(
            next_snapshot(&schedule, wednesday, &[full.clone(), one.clone()]),
            NextSnapshot::Incremental {
                parent: one.id.clone()
            }
        );
        assert_eq!(
            next_snapshot(&schedule, wednesday, &[full, one.clone(), two.clone()]),
            NextSnapshot::Full
        );
        // The full is gone: the chain cannot be restored, so do not extend it.
        assert_eq!(
            next_snapshot(&schedule, wednesday, &[one, two]),
            NextSnapshot::Full
        );
    }
}
