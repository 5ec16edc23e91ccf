//! Backups as the domain sees them: snapshots, which kind to take next, and
//! which ones a retention policy keeps. Pure rules; the snapshot crate does
//! the I/O.

mod retention;
mod schedule;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use retention::{KeepReason, RetentionPlan, RetentionPolicy, plan_retention};
pub use schedule::{BackupSchedule, NextSnapshot, next_snapshot};

/// Names a snapshot: its UTC start time to the millisecond and 8 random hex
/// digits, so ids sort by time and two runs never collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnapshotId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a snapshot id (expected e.g. 20261122T030000123Z-1a2b3c4d)")]
pub struct InvalidSnapshotId(pub String);

impl SnapshotId {
    pub fn generate(taken_at: DateTime<Utc>) -> Self {
        // The last hex digits of a version-7 UUID are random bits.
        let random = uuid::Uuid::now_v7().simple().to_string();
        SnapshotId(format!(
            "{}-{}",
            taken_at.format("%Y%m%dT%H%M%S%3fZ"),
            &random[random.len() - 8..]
        ))
    }

    pub fn parse(text: &str) -> Result<Self, InvalidSnapshotId> {
        let bad = || InvalidSnapshotId(text.to_owned());
        let (time, random) = text.split_once('-').ok_or_else(bad)?;
        let time_ok = time.len() == 19
            && time.as_bytes()[8] == b'T'
            && time.ends_with('Z')
            && time
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 8 || i == 18 || b.is_ascii_digit());
        let random_ok = random.len() == 8
            && random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if time_ok && random_ok {
            Ok(SnapshotId(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The time the id was made from (to the millisecond).
    pub fn taken_at(&self) -> Option<DateTime<Utc>> {
        chrono::NaiveDateTime::parse_from_str(self.0.get(..18)?, "%Y%m%dT%H%M%S%3f")
            .ok()
            .map(|time| time.and_utc())
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SnapshotId {
    type Error = InvalidSnapshotId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        SnapshotId::parse(&text)
    }
}

impl From<SnapshotId> for String {
    fn from(id: SnapshotId) -> String {
        id.0
    }
}

/// A full snapshot holds every item; an incremental one holds what changed
/// since its parent and needs the parent chain, back to a full, to restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    Full,
    Incremental,
}

impl SnapshotKind {
    pub fn name(self) -> &'static str {
        match self {
            SnapshotKind::Full => "full",
            SnapshotKind::Incremental => "incremental",
        }
    }
}

/// How far a snapshot got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotState {
    /// Complete and read back: every stream matched its manifest.
    Verified,
    /// Complete (its manifest was written) but not, or not successfully, read back.
    Unverified,
    /// No manifest: still being written, or its run failed.
    Incomplete,
}

/// What the rules need to know of a stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: SnapshotId,
    pub taken_at: DateTime<Utc>,
    pub kind: SnapshotKind,
    pub parent: Option<SnapshotId>,
    pub state: SnapshotState,
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a valid time")
    }

    pub fn snapshot(
        taken_at: &str,
        kind: SnapshotKind,
        parent: Option<&SnapshotInfo>,
        state: SnapshotState,
    ) -> SnapshotInfo {
        let taken_at = at(taken_at);
        SnapshotInfo {
            id: SnapshotId::generate(taken_at),
            taken_at,
            kind,
            parent: parent.map(|p| p.id.clone()),
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_round_trip() {
        let early = SnapshotId::generate(test_support::at("2026-11-01T03:00:00Z"));
        let late = SnapshotId::generate(test_support::at("2026-11-22T03:00:00.5Z"));
        assert!(early < late);
        assert!(late.as_str().starts_with("20261122T030000500Z-"));
        assert_eq!(
            late.taken_at(),
            Some(test_support::at("2026-11-22T03:00:00.5Z"))
        );
        assert_eq!(SnapshotId::parse(late.as_str()), Ok(late.clone()));
        let json = serde_json::to_string(&late).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotId>(&json).unwrap(), late);
    }

    #[test]
    fn ids_that_could_escape_a_key_prefix_are_refused() {
        for bad in [
            "",
            "../x",
            "20261122T030000500Z-1a2b3c4/",
            "20261122T030000500Z-1A2B3C4D",
            "20261122X030000500Z-1a2b3c4d",
        ] {
            assert!(SnapshotId::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
