//! Which snapshots a retention policy keeps: the newest verified one always,
//! the newest of each of the last N days, ISO weeks and months, and every
//! snapshot a kept one needs to be restored (its parent chain).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::{SnapshotId, SnapshotInfo, SnapshotState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days (UTC) whose newest verified snapshot is kept.
    pub daily: u32,
    /// ISO weeks whose newest verified snapshot is kept.
    pub weekly: u32,
    /// Months whose newest verified snapshot is kept.
    pub monthly: u32,
    /// How long a snapshot that is not verified may be still in progress;
    /// older ones are failed runs.
    pub grace: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            daily: 7,
            weekly: 5,
            monthly: 12,
            grace: Duration::days(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeepReason {
    /// The newest verified snapshot: never deleted.
    Newest,
    Daily(NaiveDate),
    Weekly {
        year: i32,
        week: u32,
    },
    Monthly {
        year: i32,
        month: u32,
    },
    /// A kept incremental snapshot needs it to be restored.
    ChainOf(SnapshotId),
    /// Not verified, but young enough to be still in progress.
    InProgress,
    /// There is no verified snapshot at all, so nothing is deleted.
    NoVerifiedSnapshot,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    pub keep: BTreeMap<SnapshotId, Vec<KeepReason>>,
    /// Oldest first.
    pub delete: Vec<SnapshotId>,
}

pub fn plan_retention(
    policy: &RetentionPolicy,
    snapshots: &[SnapshotInfo],
    now: DateTime<Utc>,
) -> RetentionPlan {
    let mut plan = RetentionPlan::default();
    let mut verified: Vec<&SnapshotInfo> = snapshots
        .iter()
        .filter(|s| s.state == SnapshotState::Verified)
        .collect();
    if verified.is_empty() {
        for snapshot in snapshots {
            plan.keep
                .insert(snapshot.id.clone(), vec![KeepReason::NoVerifiedSnapshot]);
        }
        return plan;
    }
    verified.sort_by(|a, b| (b.taken_at, &b.id).cmp(&(a.taken_at, &a.id)));

    let mut keep = |id: &SnapshotId, reason: KeepReason| {
        plan.keep.entry(id.clone()).or_default().push(reason);
    };
    keep(&verified[0].id, KeepReason::Newest);
    for (id, day) in newest_per_period(&verified, policy.daily, |t| t.date_naive()) {
        keep(id, KeepReason::Daily(day));
    }
    for (id, (year, week)) in newest_per_period(&verified, policy.weekly, |t| {
        let week = t.iso_week();
        (week.year(), week.week())
    }) {
        keep(id, KeepReason::Weekly { year, week });
    }
    for (id, (year, month)) in
        newest_per_period(&verified, policy.monthly, |t| (t.year(), t.month()))
    {
        keep(id, KeepReason::Monthly { year, month });
    }
    for snapshot in snapshots {
        if snapshot.state != SnapshotState::Verified && now - snapshot.taken_at < policy.grace {
            keep(&snapshot.id, KeepReason::InProgress);
        }
    }
    keep_chains(&mut plan, snapshots);

    let mut doomed: Vec<&SnapshotInfo> = snapshots
        .iter()
        .filter(|s| !plan.keep.contains_key(&s.id))
        .collect();
    doomed.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    plan.delete = doomed.into_iter().map(|s| s.id.clone()).collect();
    plan
}

/// The newest snapshot of each of the `count` most recent periods that have
/// one. `newest_first` must be sorted newest first.
fn newest_per_period<'a, P: Ord + Clone>(
    newest_first: &[&'a SnapshotInfo],
    count: u32,
    period_of: impl Fn(DateTime<Utc>) -> P,
) -> Vec<(&'a SnapshotId, P)> {
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for snapshot in newest_first {
        if seen.len() as u32 >= count {
            break;
        }
        let period = period_of(snapshot.taken_at);
        if seen.insert(period.clone()) {
            kept.push((&snapshot.id, period));
        }
    }
    kept
}

/// Adds the ancestors of every kept snapshot, whatever their state.
fn keep_chains(plan: &mut RetentionPlan, snapshots: &[SnapshotInfo]) {
    let parents: HashMap<&SnapshotId, &SnapshotId> = snapshots
        .iter()
        .filter_map(|s| s.parent.as_ref().map(|p| (&s.id, p)))
        .collect();
    let kept: Vec<SnapshotId> = plan.keep.keys().cloned().collect();
    for child in kept {
        let mut at = &child;
        // A chain never loops, but damaged metadata might; the bound ends it.
        for _ in 0..snapshots.len() {
            let Some(parent) = parents.get(at) else { break };
            plan.keep
                .entry((*parent).clone())
                .or_default()
                .push(KeepReason::ChainOf(child.clone()));
            at = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::SnapshotKind::{Full, Incremental};
    use crate::backup::SnapshotState::{Incomplete, Unverified, Verified};
    use crate::backup::test_support::{at, snapshot};

    fn policy(daily: u32, weekly: u32, monthly: u32) -> RetentionPolicy {
        RetentionPolicy {
            daily,
            weekly,
            monthly,
            grace: Duration::days(1),
        }
    }

    /// A full every Sunday and an incremental on every other day, at 03:00.
    fn daily_run(days: i64) -> Vec<SnapshotInfo> {
        let start = at("2026-06-07T03:00:00Z"); // a Sunday
        let mut all: Vec<SnapshotInfo> = Vec::new();
        for day in 0..days {
            let when = (start + Duration::days(day)).to_rfc3339();
            let parent = (day % 7 != 0).then(|| all.last()).flatten().cloned();
            let kind = if parent.is_some() { Incremental } else { Full };
            all.push(snapshot(&when, kind, parent.as_ref(), Verified));
        }
        all
    }

    #[test]
    fn keeps_the_newest_of_each_recent_day_week_and_month_with_their_chains() {
        let all = daily_run(70);
        let now = all.last().unwrap().taken_at + Duration::hours(1);
        let plan = plan_retention(&policy(3, 2, 2), &all, now);

        let newest = &all[69];
        assert!(plan.keep[&newest.id].contains(&KeepReason::Newest));
        for day in [67, 68, 69] {
            assert!(
                plan.keep[&all[day].id]
                    .iter()
                    .any(|r| matches!(r, KeepReason::Daily(_))),
                "day {day} is one of the last three"
            );
        }
        // Day 69 is Saturday 15 August; ISO weeks start on Monday, so the
        // week before ends with Sunday 9 August, day 63.
        for day in [69, 63] {
            assert!(
                plan.keep[&all[day].id]
                    .iter()
                    .any(|r| matches!(r, KeepReason::Weekly { .. })),
                "day {day} is the newest of its week"
            );
        }
        // Every kept incremental keeps its chain back to its full.
        for id in plan.keep.keys() {
            let mut at = all.iter().find(|s| &s.id == id).unwrap();
            while let Some(parent) = &at.parent {
                assert!(plan.keep.contains_key(parent), "the chain of {id} is kept");
                at = all.iter().find(|s| &s.id == parent).unwrap();
            }
        }
        // Nothing is both kept and deleted, and everything is one or the other.
        assert_eq!(plan.keep.len() + plan.delete.len(), all.len());
        assert!(plan.delete.iter().all(|id| !plan.keep.contains_key(id)));
        assert!(plan.delete.contains(&all[0].id), "the oldest full expired");
        // Deletions come oldest first.
        let mut sorted = plan.delete.clone();
        sorted.sort();
        assert_eq!(plan.delete, sorted);
    }

    #[test]
    fn monthly_keeps_the_newest_snapshot_of_each_month() {
        let all = daily_run(70);
        let now = all.last().unwrap().taken_at;
        let plan = plan_retention(&policy(0, 0, 3), &all, now);
        let kept_monthly: Vec<&SnapshotId> = plan
            .keep
            .iter()
            .filter(|(_, r)| r.iter().any(|r| matches!(r, KeepReason::Monthly { .. })))
            .map(|(id, _)| id)
            .collect();
        // June 7 – August 15: the last of June, of July, and the newest of August.
        let june_30 = &all[23].id;
        let july_31 = &all[54].id;
        assert_eq!(kept_monthly, vec![june_30, july_31, &all[69].id]);
    }

    #[test]
    fn a_zero_policy_still_keeps_the_newest_verified_snapshot_and_its_chain() {
        let all = daily_run(10);
        let now = all.last().unwrap().taken_at;
        let plan = plan_retention(&policy(0, 0, 0), &all, now);
        // Day 9 is an incremental on the full of day 7.
        let kept: BTreeSet<&SnapshotId> = plan.keep.keys().collect();
        assert_eq!(kept, BTreeSet::from([&all[7].id, &all[8].id, &all[9].id]));
        assert_eq!(plan.delete.len(), 7);
    }

    #[test]
    fn failed_runs_go_after_the_grace_period_but_young_ones_stay() {
        let full = snapshot("2026-06-01T03:00:00Z", Full, None, Verified);
        let failed = snapshot("2026-06-02T03:00:00Z", Incremental, Some(&full), Unverified);
        let crashed = snapshot("2026-06-03T03:00:00Z", Full, None, Incomplete);
        let running = snapshot("2026-06-04T03:00:00Z", Full, None, Incomplete);
        let all = vec![
            full.clone(),
            failed.clone(),
            crashed.clone(),
            running.clone(),
        ];
        let plan = plan_retention(&policy(7, 0, 0), &all, at("2026-06-04T04:00:00Z"));
        assert_eq!(plan.delete, vec![failed.id, crashed.id]);
        assert_eq!(plan.keep[&running.id], vec![KeepReason::InProgress]);
        assert!(plan.keep[&full.id].contains(&KeepReason::Newest));
    }

    #[test]
    fn nothing_is_deleted_while_no_snapshot_is_verified() {
        let failed = snapshot("2026-06-01T03:00:00Z", Full, None, Unverified);
        let crashed = snapshot("2026-06-02T03:00:00Z", Full, None, Incomplete);
        let plan = plan_retention(
            &policy(1, 0, 0),
            &[failed, crashed],
            at("2026-07-01T00:00:00Z"),
        );
        assert!(plan.delete.is_empty());
        assert_eq!(plan.keep.len(), 2);
    }

    #[test]
    fn an_unverified_parent_of_a_kept_snapshot_is_kept() {
        let full = snapshot("2026-06-01T03:00:00Z", Full, None, Unverified);
        let incremental = snapshot("2026-06-02T03:00:00Z", Incremental, Some(&full), Verified);
        let plan = plan_retention(
            &policy(1, 0, 0),
            &[full.clone(), incremental.clone()],
            at("2026-07-01T00:00:00Z"),
        );
        assert!(plan.delete.is_empty());
        assert_eq!(
            plan.keep[&full.id],
            vec![KeepReason::ChainOf(incremental.id)]
        );
    }
}
