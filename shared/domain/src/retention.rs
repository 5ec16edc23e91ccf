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

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A kind of data with a retention limit of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetainedData {
    /// The free text of an interaction, counted from when it happened.
    InteractionText,
    /// The free text of a review, counted from when it was written.
    ReviewText,
    /// A merge-log entry, counted from the merge.
    MergeLog,
    /// A network trace of a profile (IP address, device, user agent),
    /// counted from when it was seen.
    NetworkTrace,
}

impl RetainedData {
    pub fn name(self) -> &'static str {
        match self {
            RetainedData::InteractionText => "interaction_text",
            RetainedData::ReviewText => "review_text",
            RetainedData::MergeLog => "merge_log",
            RetainedData::NetworkTrace => "network_trace",
        }
    }

    pub fn from_name(name: &str) -> Option<RetainedData> {
        [
            RetainedData::InteractionText,
            RetainedData::ReviewText,
            RetainedData::MergeLog,
            RetainedData::NetworkTrace,
        ]
        .into_iter()
        .find(|data| data.name() == name)
    }
}

/// A calendar month (UTC) of one kind of data. Copies of data that cannot
/// be rewritten (cold objects, snapshots, the locked archive) are sealed
/// under a key of their month as well, so retention reaches them by
/// destroying that key once the whole month is past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RetentionMonth {
    pub data: RetainedData,
    pub year: i32,
    pub month: u32,
}

impl RetentionMonth {
    pub fn of(data: RetainedData, at: DateTime<Utc>) -> Self {
        RetentionMonth {
            data,
            year: at.year(),
            month: at.month(),
        }
    }

    /// `interaction_text/2024-05`: how the month is named in keys and seals.
    pub fn label(&self) -> String {
        format!("{}/{:04}-{:02}", self.data.name(), self.year, self.month)
    }

    pub fn parse(label: &str) -> Option<Self> {
        let (data, month) = label.split_once('/')?;
        let (year, month) = month.split_once('-')?;
        let parsed = RetentionMonth {
            data: RetainedData::from_name(data)?,
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (parsed.label() == label).then_some(parsed)
    }

    /// The first instant after the month: every record of it is older.
    fn end(&self) -> Option<DateTime<Utc>> {
        let (year, month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        let first = NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)?;
        Some(Utc.from_utc_datetime(&first))
    }
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
    /// Days a profile's network trace is kept; `None` keeps it (still only
    /// the last 20 per profile).
    pub network_trace_days: Option<u32>,
    /// Days a customer may go without any activity before everything held
    /// about them is erased, as `DELETE /v1/customers/{id}` erases (GDPR
    /// storage limitation); `None` keeps them. Shops typically set 1095
    /// (three years). What counts as activity is
    /// `strata_store::Partition::last_activity`.
    pub inactive_customer_days: Option<u32>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            interaction_text_days: Some(730),
            review_text_days: None,
            merge_log_days: Some(1095),
            network_trace_days: Some(365),
            inactive_customer_days: None,
        }
    }
}

impl RetentionPolicy {
    fn limit_days(&self, data: RetainedData) -> Option<u32> {
        match data {
            RetainedData::InteractionText => self.interaction_text_days,
            RetainedData::ReviewText => self.review_text_days,
            RetainedData::MergeLog => self.merge_log_days,
            RetainedData::NetworkTrace => self.network_trace_days,
        }
    }

    /// Whether everything of the month is past its limit on `as_of`.
    pub fn month_expired(&self, month: RetentionMonth, as_of: DateTime<Utc>) -> bool {
        match (self.limit_days(month.data), month.end()) {
            (Some(days), Some(end)) => as_of - end >= Duration::days(i64::from(days)),
            _ => false,
        }
    }

    /// When a customer last active at `last_active` is due for erasure;
    /// `None` while inactive customers are kept.
    pub fn inactive_erasure_due(&self, last_active: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inactive_customer_days
            .map(|days| last_active + Duration::days(i64::from(days)))
    }

    /// Whether a customer last active at `last_active` is past the limit on `as_of`.
    pub fn inactive_past_limit(&self, last_active: DateTime<Utc>, as_of: DateTime<Utc>) -> bool {
        self.inactive_erasure_due(last_active)
            .is_some_and(|due| as_of > due)
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
    fn a_month_expires_once_its_last_instant_is_past_the_limit() {
        let policy = RetentionPolicy::default();
        let may: DateTime<Utc> = "2024-05-31T23:59:59Z".parse().unwrap();
        let month = RetentionMonth::of(RetainedData::InteractionText, may);
        assert_eq!(month.label(), "interaction_text/2024-05");
        assert_eq!(RetentionMonth::parse(&month.label()), Some(month));
        assert_eq!(RetentionMonth::parse("interaction_text/2024-5"), None);
        assert_eq!(RetentionMonth::parse("chat/2024-05"), None);
        // 730 days after 1 June 2024.
        let limit: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        assert!(!policy.month_expired(month, limit - Duration::seconds(1)));
        assert!(policy.expired(RetainedData::InteractionText, may, limit));
        assert!(policy.month_expired(month, limit));
        let december = RetentionMonth::of(
            RetainedData::InteractionText,
            "2023-12-10T00:00:00Z".parse().unwrap(),
        );
        // 730 days after 1 January 2024 (a leap year).
        assert!(policy.month_expired(december, "2025-12-31T00:00:00Z".parse().unwrap()));
        assert!(!policy.month_expired(december, "2025-12-30T23:59:59Z".parse().unwrap()));
        let review = RetentionMonth::of(RetainedData::ReviewText, may);
        assert!(!policy.month_expired(review, limit + Duration::days(10_000)));
    }

    #[test]
    fn a_policy_reads_from_json_with_defaults_for_what_it_leaves_out() {
        let policy: RetentionPolicy = serde_json::from_str(r#"{"review_text_days": 365}"#).unwrap();
        assert_eq!(policy.review_text_days, Some(365));
        assert_eq!(policy.interaction_text_days, Some(730));
        assert!(serde_json::from_str::<RetentionPolicy>(r#"{"chat_days": 1}"#).is_err());
    }

    #[test]
    fn inactive_customers_are_kept_unless_a_limit_is_set() {
        let as_of: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let last = as_of - Duration::days(1095);
        assert!(
            !RetentionPolicy::default().inactive_past_limit(last - Duration::days(9_000), as_of)
        );
        let policy: RetentionPolicy =
            serde_json::from_str(r#"{"inactive_customer_days": 1095}"#).unwrap();
        assert_eq!(policy.inactive_erasure_due(last), Some(as_of));
        assert!(!policy.inactive_past_limit(last, as_of));
        assert!(policy.inactive_past_limit(last - Duration::seconds(1), as_of));
    }
}
