//! When a record is cold: the tiering policy, per record kind. Pure rules;
//! the store finds the facts and the tiering job acts on the answers.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::churn::RiskBand;

/// The kinds of record that can move to the cold tier. Profiles, lookups,
/// churn scores and the rest stay hot: identity resolution and the indexes
/// need them, and they are small next to a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierableKind {
    Order,
    Interaction,
    Review,
}

/// When records turn cold. Ages count from when a record was last
/// *touched*: the latest of its own time (placed, happened), when it was
/// last written, and when its customer's history was last read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TieringPolicy {
    /// Orders untouched this long are cold; `None` keeps them hot.
    pub orders_after_days: Option<u32>,
    pub interactions_after_days: Option<u32>,
    /// Off by default: the reviews-of-a-product index reads only hot reviews.
    pub reviews_after_days: Option<u32>,
    /// A customer with no activity (record, profile change or read) for this
    /// long has every tierable record moved, whatever its own age.
    pub inactive_customer_days: Option<u32>,
    /// Customers scored in these bands are never tiered: the early-warning
    /// list is worked on now.
    pub exempt_bands: Vec<RiskBand>,
    /// A complaint counts as open this long after it was made (interactions
    /// carry no resolution yet); a customer with one is never tiered.
    pub complaint_open_days: u32,
}

impl Default for TieringPolicy {
    fn default() -> Self {
        TieringPolicy {
            orders_after_days: Some(365),
            interactions_after_days: Some(180),
            reviews_after_days: None,
            inactive_customer_days: Some(730),
            exempt_bands: vec![RiskBand::High],
            complaint_open_days: 90,
        }
    }
}

/// What the store knows of one customer when the job looks at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    /// Latest record time, profile change or history read.
    pub last_touched: Option<DateTime<Utc>>,
    pub band: Option<RiskBand>,
    pub last_complaint_at: Option<DateTime<Utc>>,
}

/// Why a customer's records all stay hot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exemption {
    EarlyWarning,
    OpenComplaint,
}

/// The policy's answer for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerVerdict {
    Exempt(Exemption),
    /// Inactive: every tierable record is cold.
    Inactive,
    /// Records are cold one by one, by age.
    ByAge,
}

impl TieringPolicy {
    pub fn judge(&self, facts: &CustomerFacts, now: DateTime<Utc>) -> CustomerVerdict {
        if facts.band.is_some_and(|b| self.exempt_bands.contains(&b)) {
            return CustomerVerdict::Exempt(Exemption::EarlyWarning);
        }
        let complaint_open = facts
            .last_complaint_at
            .is_some_and(|at| at > now - days(self.complaint_open_days));
        if complaint_open {
            return CustomerVerdict::Exempt(Exemption::OpenComplaint);
        }
        match (self.inactive_customer_days, facts.last_touched) {
            (Some(limit), Some(touched)) if touched <= now - days(limit) => {
                CustomerVerdict::Inactive
            }
            _ => CustomerVerdict::ByAge,
        }
    }

    /// Whether one record of a customer judged `verdict` is cold.
    pub fn is_cold(
        &self,
        kind: TierableKind,
        last_touched: DateTime<Utc>,
        verdict: CustomerVerdict,
        now: DateTime<Utc>,
    ) -> bool {
        match verdict {
            CustomerVerdict::Exempt(_) => false,
            CustomerVerdict::Inactive => true,
            CustomerVerdict::ByAge => self
                .after_days(kind)
                .is_some_and(|limit| last_touched <= now - days(limit)),
        }
    }

    pub fn after_days(&self, kind: TierableKind) -> Option<u32> {
        match kind {
            TierableKind::Order => self.orders_after_days,
            TierableKind::Interaction => self.interactions_after_days,
            TierableKind::Review => self.reviews_after_days,
        }
    }
}

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn records_turn_cold_by_kind_and_age() {
        let policy = TieringPolicy::default();
        let now = at("2026-11-22T00:00:00Z");
        let verdict = policy.judge(
            &CustomerFacts {
                last_touched: Some(at("2026-10-01T00:00:00Z")),
                ..CustomerFacts::default()
            },
            now,
        );
        assert_eq!(verdict, CustomerVerdict::ByAge);
        let old = at("2025-01-01T00:00:00Z");
        let recent = at("2026-05-01T00:00:00Z");
        assert!(policy.is_cold(TierableKind::Order, old, verdict, now));
        assert!(!policy.is_cold(TierableKind::Order, recent, verdict, now));
        assert!(policy.is_cold(TierableKind::Interaction, recent, verdict, now));
        assert!(!policy.is_cold(TierableKind::Review, old, verdict, now));
    }

    #[test]
    fn inactive_customers_go_whole_and_exempt_ones_stay() {
        let policy = TieringPolicy::default();
        let now = at("2026-11-22T00:00:00Z");
        let idle = CustomerFacts {
            last_touched: Some(at("2024-01-01T00:00:00Z")),
            ..CustomerFacts::default()
        };
        let verdict = policy.judge(&idle, now);
        assert_eq!(verdict, CustomerVerdict::Inactive);
        assert!(policy.is_cold(TierableKind::Order, now, verdict, now));
        let warned = CustomerFacts {
            band: Some(RiskBand::High),
            ..idle
        };
        assert_eq!(
            policy.judge(&warned, now),
            CustomerVerdict::Exempt(Exemption::EarlyWarning)
        );
        let complained = CustomerFacts {
            last_complaint_at: Some(at("2026-11-01T00:00:00Z")),
            ..idle
        };
        assert_eq!(
            policy.judge(&complained, now),
            CustomerVerdict::Exempt(Exemption::OpenComplaint)
        );
        let old_complaint = CustomerFacts {
            last_complaint_at: Some(at("2024-01-01T00:00:00Z")),
            ..idle
        };
        assert_eq!(policy.judge(&old_complaint, now), CustomerVerdict::Inactive);
    }

    #[test]
    fn policy_reads_from_json_with_defaults_for_the_rest() {
        let policy: TieringPolicy =
            serde_json::from_str(r#"{"orders_after_days": 30, "reviews_after_days": null}"#)
                .unwrap();
        assert_eq!(policy.orders_after_days, Some(30));
        assert_eq!(policy.interactions_after_days, Some(180));
        assert!(serde_json::from_str::<TieringPolicy>(r#"{"order_days": 1}"#).is_err());
    }
}
