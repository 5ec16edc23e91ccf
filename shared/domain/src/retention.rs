//! How long each kind of data is kept. Pure rules; the scheduled tiering job
//! applies them to every customer partition it scans.
//!
//! Content that says something about a person beyond the fact of a contact
//! (the text of chats, complaints and reviews; the record of which source
//! supplied which profile field) expires; the facts the summaries, tiers and
//! models count (an order, that a complaint was made and when) stay, so no
//! derived figure changes when content expires. Short-lived records expire
//! by the table's TTL (idempotency keys, audit entries), uploads, reports
//! and cold objects by the buckets' lifecycle rules.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A kind of data with a retention limit of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetainedData {
    /// The free text of an interaction, counted from when it happened.
    InteractionText,
    /// The free text of a review, counted from when it was written.
    ReviewText,
    /// A merge-log entry, counted from the merge.
    MergeLog,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Days an interaction's text is kept; `None` keeps it.
    pub interaction_text_days: Option<u32>,
    /// Days a review's text is kept; `None` keeps it (shops publish reviews).
    pub review_text_days: Option<u32>,
    /// Days a merge-log entry is kept; `None` keeps it.
    pub merge_log_days: Option<u32>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            interaction_text_days: Some(730),
            review_text_days: None,
            merge_log_days: Some(1095),
        }
    }
}

impl RetentionPolicy {
    fn limit_days(&self, data: RetainedData) -> Option<u32> {
        match data {
            RetainedData::InteractionText => self.interaction_text_days,
            RetainedData::ReviewText => self.review_text_days,
            RetainedData::MergeLog => self.merge_log_days,
        }
    }

    /// Whether data of this kind from `at` is past its limit on `as_of`.
    pub fn expired(&self, data: RetainedData, at: DateTime<Utc>, as_of: DateTime<Utc>) -> bool {
        self.limit_days(data)
            .is_some_and(|days| as_of - at > Duration::days(i64::from(days)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_expires_after_its_own_limit_only() {
        let policy = RetentionPolicy::default();
        let as_of: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let days_ago = |d: i64| as_of - Duration::days(d);
        assert!(policy.expired(RetainedData::InteractionText, days_ago(731), as_of));
        assert!(!policy.expired(RetainedData::InteractionText, days_ago(730), as_of));
        assert!(!policy.expired(RetainedData::MergeLog, days_ago(731), as_of));
        assert!(policy.expired(RetainedData::MergeLog, days_ago(1096), as_of));
        assert!(
            !policy.expired(RetainedData::ReviewText, days_ago(10_000), as_of),
            "kept without a limit"
        );
    }

    #[test]
    fn a_policy_reads_from_json_with_defaults_for_what_it_leaves_out() {
        let policy: RetentionPolicy = serde_json::from_str(r#"{"review_text_days": 365}"#).unwrap();
        assert_eq!(policy.review_text_days, Some(365));
        assert_eq!(policy.interaction_text_days, Some(730));
        assert!(serde_json::from_str::<RetentionPolicy>(r#"{"chat_days": 1}"#).is_err());
    }
}
