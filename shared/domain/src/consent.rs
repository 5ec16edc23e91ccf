//! The consent ledger and the one rule saying which purpose gates which use
//! of a customer's data. No I/O: the store keeps the ledger, the jobs and
//! APIs ask `permits` before they use a profile.
//!
//! Every decision that arrives is kept as a `ConsentRecord`, never changed;
//! the decision in force for a purpose is the latest one by `at` (a tie goes
//! to the decision recorded last). A profile carries that current state
//! (`Customer.consents`, one decision per purpose), so a job reading a
//! profile needs no second read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Consent, ConsentInput, Purpose};
use crate::error::Invalid;
use crate::options::ReadOptions;

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::Marketing,
        Purpose::Profiling,
        Purpose::Personalisation,
        Purpose::Analytics,
        Purpose::ThirdPartySharing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Purpose::Marketing => "marketing",
            Purpose::Profiling => "profiling",
            Purpose::Personalisation => "personalisation",
            Purpose::Analytics => "analytics",
            Purpose::ThirdPartySharing => "third_party_sharing",
        }
    }
}

/// One decision in the ledger: what was decided, and what recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    #[serde(flatten)]
    pub decision: Consent,
    /// `api`, or `import:<import id> row <n>`.
    pub recorded_by: String,
    /// When Strata stored it (`at` is when the customer decided).
    pub recorded_at: DateTime<Utc>,
}

impl ConsentRecord {
    pub fn new(decision: Consent, recorded_by: impl Into<String>, now: DateTime<Utc>) -> Self {
        ConsentRecord {
            decision,
            recorded_by: recorded_by.into(),
            recorded_at: now,
        }
    }
}

/// What recorded decisions coming through the API say they came from.
pub const RECORDED_BY_API: &str = "api";

/// What recorded a decision read from an import's row.
pub fn recorded_by_import(import: &str, row: u64) -> String {
    format!("import:{import} row {row}")
}

/// The decision in force per purpose: the latest by `at`, ties to the one
/// listed last. One entry per purpose that has any decision, in purpose order.
pub fn current(decisions: &[Consent]) -> Vec<Consent> {
    let mut latest: BTreeMap<Purpose, &Consent> = BTreeMap::new();
    for decision in decisions {
        let newer = latest
            .get(&decision.purpose)
            .is_none_or(|held| held.at <= decision.at);
        if newer {
            latest.insert(decision.purpose, decision);
        }
    }
    latest.into_values().cloned().collect()
}

/// The decision in force on the purpose that gates this use, if any.
pub fn in_force(decisions: &[Consent], use_: Use) -> Option<Consent> {
    let purpose = use_.purpose();
    current(decisions)
        .into_iter()
        .find(|c| c.purpose == purpose)
}

/// The uses Strata makes of a customer's data that consent can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Use {
    /// Churn scores (batch and online), conversion ratings, tiers, segments.
    Profiling,
    /// Product recommendations for this customer.
    Recommendations,
    /// Counts and analyses across customers (monthly churn counts).
    Analytics,
    /// Being listed as someone to contact (the early-warning list's follow-up).
    Marketing,
}

impl Use {
    pub const ALL: [Use; 4] = [
        Use::Profiling,
        Use::Recommendations,
        Use::Analytics,
        Use::Marketing,
    ];

    /// The purpose whose consent gates this use: the whole rule.
    pub fn purpose(self) -> Purpose {
        match self {
            Use::Profiling => Purpose::Profiling,
            Use::Recommendations => Purpose::Personalisation,
            Use::Analytics => Purpose::Analytics,
            Use::Marketing => Purpose::Marketing,
        }
    }
}

/// Whether a use needs an explicit grant, or only the absence of a
/// withdrawal. The default is the latter: data the shop holds under its
/// legitimate interest may be used until the customer objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentPolicy {
    #[default]
    UntilWithdrawn,
    GrantRequired,
}

impl ConsentPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ConsentPolicy::UntilWithdrawn => "until-withdrawn",
            ConsentPolicy::GrantRequired => "grant-required",
        }
    }
}

/// `until-withdrawn` or `grant-required` (the `STRATA_CONSENT_POLICY` setting).
impl std::str::FromStr for ConsentPolicy {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        [ConsentPolicy::UntilWithdrawn, ConsentPolicy::GrantRequired]
            .into_iter()
            .find(|policy| policy.name() == raw)
            .ok_or_else(|| "must be `until-withdrawn` or `grant-required`".to_owned())
    }
}

/// Why a use is not permitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissingConsent {
    #[error("the customer withdrew consent to {}", .purpose.name())]
    Withdrawn { purpose: Purpose, at: DateTime<Utc> },
    #[error("the customer has not granted consent to {}", .purpose.name())]
    NotGranted { purpose: Purpose },
}

impl MissingConsent {
    pub fn purpose(&self) -> Purpose {
        match self {
            MissingConsent::Withdrawn { purpose, .. } | MissingConsent::NotGranted { purpose } => {
                *purpose
            }
        }
    }
}

/// Whether the customer's decisions permit this use under the policy.
pub fn permits(
    decisions: &[Consent],
    use_: Use,
    policy: ConsentPolicy,
) -> Result<(), MissingConsent> {
    let purpose = use_.purpose();
    match (in_force(decisions, use_), policy) {
        (Some(c), _) if c.granted => Ok(()),
        (Some(c), _) => Err(MissingConsent::Withdrawn { purpose, at: c.at }),
        (None, ConsentPolicy::UntilWithdrawn) => Ok(()),
        (None, ConsentPolicy::GrantRequired) => Err(MissingConsent::NotGranted { purpose }),
    }
}

/// A decision sent on its own (`POST /v1/customers/{id}/consents`); `at`
/// defaults to the time it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub purpose: Purpose,
    pub granted: bool,
    pub version: String,
    pub source: String,
    pub at: Option<String>,
}

impl ConsentRequest {
    pub fn validate(&self, options: &ReadOptions, now: DateTime<Utc>) -> Result<Consent, Invalid> {
        ConsentInput {
            purpose: self.purpose,
            granted: self.granted,
            at: self.at.clone().unwrap_or_else(|| now.to_rfc3339()),
            version: self.version.clone(),
            source: self.source.clone(),
        }
        .validate(options)
        .map_err(Invalid::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_by_name() {
        for policy in [ConsentPolicy::UntilWithdrawn, ConsentPolicy::GrantRequired] {
            assert_eq!(policy.name().parse::<ConsentPolicy>(), Ok(policy));
        }
        assert!("opt-in".parse::<ConsentPolicy>().is_err());
    }

    fn decision(purpose: Purpose, granted: bool, at: &str) -> Consent {
        Consent {
            purpose,
            granted,
            at: at.parse().unwrap(),
            version: "v1".into(),
            source: "form".into(),
        }
    }

    #[test]
    fn the_latest_decision_per_purpose_is_in_force() {
        let decisions = [
            decision(Purpose::Profiling, false, "2026-03-01T00:00:00Z"),
            decision(Purpose::Profiling, true, "2026-01-01T00:00:00Z"),
            decision(Purpose::Marketing, true, "2026-02-01T00:00:00Z"),
        ];
        let now = current(&decisions);
        assert_eq!(now.len(), 2);
        assert_eq!(now[0].purpose, Purpose::Marketing);
        assert!(
            !now[1].granted,
            "the later withdrawal wins over an earlier grant"
        );
    }

    #[test]
    fn each_use_is_gated_by_its_own_purpose() {
        for use_ in Use::ALL {
            let withdrawn = [decision(use_.purpose(), false, "2026-01-01T00:00:00Z")];
            assert_eq!(
                permits(&withdrawn, use_, ConsentPolicy::default()),
                Err(MissingConsent::Withdrawn {
                    purpose: use_.purpose(),
                    at: withdrawn[0].at
                })
            );
            for other in Use::ALL.into_iter().filter(|u| *u != use_) {
                assert_eq!(permits(&withdrawn, other, ConsentPolicy::default()), Ok(()));
            }
        }
    }

    #[test]
    fn no_decision_permits_unless_a_grant_is_required() {
        assert_eq!(
            permits(&[], Use::Profiling, ConsentPolicy::UntilWithdrawn),
            Ok(())
        );
        assert_eq!(
            permits(&[], Use::Profiling, ConsentPolicy::GrantRequired),
            Err(MissingConsent::NotGranted {
                purpose: Purpose::Profiling
            })
        );
        let granted = [decision(Purpose::Profiling, true, "2026-01-01T00:00:00Z")];
        assert_eq!(
            permits(&granted, Use::Profiling, ConsentPolicy::GrantRequired),
            Ok(())
        );
    }

    #[test]
    fn a_grant_after_a_withdrawal_permits_again() {
        let decisions = [
            decision(Purpose::Personalisation, false, "2026-01-01T00:00:00Z"),
            decision(Purpose::Personalisation, true, "2026-02-01T00:00:00Z"),
        ];
        assert_eq!(
            permits(&decisions, Use::Recommendations, ConsentPolicy::default()),
            Ok(())
        );
    }

    #[test]
    fn a_request_without_a_time_is_stamped_now() {
        let now: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
        let request = ConsentRequest {
            purpose: Purpose::Marketing,
            granted: false,
            version: "2026-10".into(),
            source: "preference-centre".into(),
            at: None,
        };
        let consent = request.validate(&ReadOptions::default(), now).unwrap();
        assert_eq!(consent.at, now);
        let blank = ConsentRequest {
            version: " ".into(),
            ..request
        };
        assert!(blank.validate(&ReadOptions::default(), now).is_err());
    }
}
