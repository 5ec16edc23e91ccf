//! When the churn model is trained again: on a schedule (the champion has
//! served long enough), when the formal customers have grown by a set
//! fraction since it was trained, or when an operator asks — and never
//! while another training run is still under way.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The operator's settings for retraining.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrainPolicy {
    /// Train again once formal customers exceed the champion's by this
    /// fraction (0.2 = 20% more).
    pub growth: f64,
    /// Train again once the champion is this old, whatever the growth.
    pub max_age: Duration,
    /// A run that has produced no candidate after this long is given up,
    /// so a lost training job cannot block retraining for ever.
    pub run_timeout: Duration,
}

impl Default for RetrainPolicy {
    fn default() -> Self {
        RetrainPolicy {
            growth: 0.2,
            max_age: Duration::days(30),
            run_timeout: Duration::hours(6),
        }
    }
}

/// What the decision needs to know about the serving model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChampionFacts {
    pub trained_at: DateTime<Utc>,
    /// Formal customers when its training data was exported.
    pub customers: u64,
}

/// Why a training run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetrainReason {
    Growth { trained_on: u64, now: u64 },
    Age { days: i64 },
    Requested,
}

impl std::fmt::Display for RetrainReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetrainReason::Growth { trained_on, now } => write!(
                f,
                "formal customers grew from {trained_on} to {now} since the champion was trained"
            ),
            RetrainReason::Age { days } => write!(f, "the champion was trained {days} days ago"),
            RetrainReason::Requested => f.write_str("an operator asked for it"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RetrainDecision {
    Start(RetrainReason),
    Skip(String),
}

/// What the scheduled job sees when it wakes up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrainSituation {
    pub now: DateTime<Utc>,
    pub champion: ChampionFacts,
    /// Formal customers now.
    pub formal_customers: u64,
    /// When the latest run without an outcome started, if there is one.
    pub run_in_flight_since: Option<DateTime<Utc>>,
    pub requested: bool,
}

/// Decides whether to start a training run. A run still within its timeout
/// always wins (two runs would race for the same pointer); a store without
/// formal customers has nothing to learn from.
pub fn decide_retraining(policy: &RetrainPolicy, situation: &RetrainSituation) -> RetrainDecision {
    if let Some(started) = situation.run_in_flight_since
        && situation.now - started < policy.run_timeout
    {
        return RetrainDecision::Skip(format!(
            "a training run started at {started} has not delivered its candidate yet"
        ));
    }
    if situation.formal_customers == 0 {
        return RetrainDecision::Skip("no formal customers to learn from".into());
    }
    if situation.requested {
        return RetrainDecision::Start(RetrainReason::Requested);
    }
    let champion = situation.champion;
    if super::retraining_due(
        situation.formal_customers,
        champion.customers,
        policy.growth,
    ) {
        return RetrainDecision::Start(RetrainReason::Growth {
            trained_on: champion.customers,
            now: situation.formal_customers,
        });
    }
    let age = situation.now - champion.trained_at;
    if age >= policy.max_age {
        return RetrainDecision::Start(RetrainReason::Age {
            days: age.num_days(),
        });
    }
    RetrainDecision::Skip(format!(
        "{} formal customers (trained on {}), champion {} days old: neither threshold reached",
        situation.formal_customers,
        champion.customers,
        age.num_days()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000 + day)
    }

    fn situation(formal: u64, day: i64) -> RetrainSituation {
        RetrainSituation {
            now: at(day),
            champion: ChampionFacts {
                trained_at: at(0),
                customers: 1_000,
            },
            formal_customers: formal,
            run_in_flight_since: None,
            requested: false,
        }
    }

    fn starts(decision: &RetrainDecision) -> bool {
        matches!(decision, RetrainDecision::Start(_))
    }

    #[test]
    fn growth_past_the_fraction_starts_a_run() {
        let policy = RetrainPolicy::default();
        assert!(!starts(&decide_retraining(&policy, &situation(1_199, 1))));
        assert_eq!(
            decide_retraining(&policy, &situation(1_200, 1)),
            RetrainDecision::Start(RetrainReason::Growth {
                trained_on: 1_000,
                now: 1_200
            })
        );
        let eager = RetrainPolicy {
            growth: 0.05,
            ..policy
        };
        assert!(starts(&decide_retraining(&eager, &situation(1_050, 1))));
        assert!(
            !starts(&decide_retraining(&policy, &situation(900, 1))),
            "a shrinking base does not count as growth"
        );
    }

    #[test]
    fn an_old_champion_is_retrained_on_schedule() {
        let policy = RetrainPolicy::default();
        assert!(!starts(&decide_retraining(&policy, &situation(1_000, 29))));
        assert_eq!(
            decide_retraining(&policy, &situation(1_000, 30)),
            RetrainDecision::Start(RetrainReason::Age { days: 30 })
        );
    }

    #[test]
    fn a_run_in_flight_blocks_another_until_it_times_out() {
        let policy = RetrainPolicy::default();
        let mut busy = situation(5_000, 90);
        busy.requested = true;
        busy.run_in_flight_since = Some(busy.now - Duration::hours(5));
        assert!(!starts(&decide_retraining(&policy, &busy)));
        busy.run_in_flight_since = Some(busy.now - Duration::hours(6));
        assert!(starts(&decide_retraining(&policy, &busy)));
    }

    #[test]
    fn a_request_starts_a_run_unless_there_is_nothing_to_learn() {
        let policy = RetrainPolicy::default();
        let mut asked = situation(1_000, 1);
        asked.requested = true;
        assert_eq!(
            decide_retraining(&policy, &asked),
            RetrainDecision::Start(RetrainReason::Requested)
        );
        asked.formal_customers = 0;
        assert!(!starts(&decide_retraining(&policy, &asked)));
    }
}
