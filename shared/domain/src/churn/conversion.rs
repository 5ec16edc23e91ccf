//! Conversion likelihood of intent customers (asked, never bought) by
//! criteria an admin sets: rules on signals from the customer's recent
//! interactions, each worth points; enough points make a customer
//! "convertible". The criteria are stored configuration, not code.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Collector, FieldError, Invalid};
use crate::interaction::{Interaction, InteractionKind};

/// What a rule can look at, measured over the criteria's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Every interaction of any kind.
    Interactions,
    /// Inquiries, chats, calls and e-mails: questions before a purchase.
    Inquiries,
    /// Complaints and after-sales requests.
    Complaints,
    /// Distinct channels used.
    Channels,
    /// Distinct products asked about.
    Products,
    /// Days since the last interaction (any time, not only in the window).
    DaysSinceLastInteraction,
    /// 1 when the latest marketing consent is a grant, else 0.
    MarketingConsent,
}

/// One rule: a bound on a signal and the points it is worth when met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub signal: Signal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
    pub points: u32,
}

impl Rule {
    fn holds(&self, value: f64) -> bool {
        self.at_least.is_none_or(|min| value >= min) && self.at_most.is_none_or(|max| value <= max)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionCriteria {
    /// Days back that the counted signals cover.
    pub window_days: u32,
    pub rules: Vec<Rule>,
    /// Points at or above which a customer is convertible.
    pub threshold: u32,
}

pub const MAX_RULES: usize = 32;
pub const MAX_WINDOW_DAYS: u32 = 730;
pub const MAX_POINTS: u32 = 1000;

impl ConversionCriteria {
    /// Checks the criteria an admin sent, naming every bad field.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors = Collector::default();
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            errors.push(FieldError::new(
                "window_days",
                "out_of_range",
                format!("must be 1 to {MAX_WINDOW_DAYS}"),
            ));
        }
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            errors.push(FieldError::new(
                "rules",
                "out_of_range",
                format!("give 1 to {MAX_RULES} rules"),
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let field = |name: &str| format!("rules[{i}].{name}");
            if rule.at_least.is_none() && rule.at_most.is_none() {
                errors.push(FieldError::new(
                    field("at_least"),
                    "required",
                    "a rule needs at_least, at_most or both",
                ));
            }
            for (name, bound) in [("at_least", rule.at_least), ("at_most", rule.at_most)] {
                if bound.is_some_and(|b| !b.is_finite() || b < 0.0) {
                    errors.push(FieldError::new(
                        field(name),
                        "out_of_range",
                        "must be a finite number, 0 or more",
                    ));
                }
            }
            if let (Some(min), Some(max)) = (rule.at_least, rule.at_most)
                && min > max
            {
                errors.push(FieldError::new(
                    field("at_most"),
                    "empty_range",
                    "must not be below at_least",
                ));
            }
            if !(1..=MAX_POINTS).contains(&rule.points) {
                errors.push(FieldError::new(
                    field("points"),
                    "out_of_range",
                    format!("must be 1 to {MAX_POINTS}"),
                ));
            }
        }
        if self.threshold == 0 || self.threshold > self.max_points() {
            errors.push(FieldError::new(
                "threshold",
                "out_of_range",
                "must be 1 to the rules' total points",
            ));
        }
        errors.finish(|| ())
    }

    pub fn max_points(&self) -> u32 {
        self.rules.iter().map(|r| r.points).sum()
    }

    /// Rates an intent customer as of an instant.
    pub fn evaluate(
        &self,
        interactions: &[Interaction],
        marketing_consent: bool,
        as_of: DateTime<Utc>,
    ) -> ConversionOutcome {
        let signals = measure(
            interactions,
            marketing_consent,
            as_of,
            Duration::days(i64::from(self.window_days)),
        );
        let mut matched = Vec::new();
        let mut points = 0;
        for rule in &self.rules {
            if rule.holds(signals[&rule.signal]) {
                points += rule.points;
                matched.push(rule.signal);
            }
        }
        let max_points = self.max_points();
        ConversionOutcome {
            points,
            max_points,
            threshold: self.threshold,
            likelihood: if max_points == 0 {
                0.0
            } else {
                f64::from(points) / f64::from(max_points)
            },
            convertible: points >= self.threshold,
            matched,
            signals,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionOutcome {
    pub points: u32,
    pub max_points: u32,
    pub threshold: u32,
    /// Points as a share of the most the criteria give, 0 to 1.
    pub likelihood: f64,
    pub convertible: bool,
    /// The signals whose rules held, in the criteria's order.
    pub matched: Vec<Signal>,
    pub signals: BTreeMap<Signal, f64>,
}

fn measure(
    interactions: &[Interaction],
    marketing_consent: bool,
    as_of: DateTime<Utc>,
    window: Duration,
) -> BTreeMap<Signal, f64> {
    let past: Vec<&Interaction> = interactions.iter().filter(|i| i.at < as_of).collect();
    let recent: Vec<&&Interaction> = past.iter().filter(|i| i.at >= as_of - window).collect();
    let count = |wanted: fn(InteractionKind) -> bool| {
        recent.iter().filter(|i| wanted(i.kind)).count() as f64
    };
    let channels: std::collections::HashSet<_> = recent.iter().map(|i| i.channel).collect();
    let products: BTreeSet<_> = recent
        .iter()
        .filter_map(|i| i.product_id.as_ref())
        .collect();
    let since_last = past.iter().map(|i| i.at).max().map_or(f64::INFINITY, |at| {
        (as_of - at).num_seconds() as f64 / 86_400.0
    });
    BTreeMap::from([
        (Signal::Interactions, recent.len() as f64),
        (
            Signal::Inquiries,
            count(|k| {
                matches!(
                    k,
                    InteractionKind::Inquiry
                        | InteractionKind::Chat
                        | InteractionKind::Call
                        | InteractionKind::Email
                )
            }),
        ),
        (
            Signal::Complaints,
            count(|k| {
                matches!(
                    k,
                    InteractionKind::Complaint | InteractionKind::AfterSalesRequest
                )
            }),
        ),
        (Signal::Channels, channels.len() as f64),
        (Signal::Products, products.len() as f64),
        (Signal::DaysSinceLastInteraction, since_last),
        (
            Signal::MarketingConsent,
            f64::from(u8::from(marketing_consent)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::ids::{CustomerId, InteractionId, ProductId};

    fn contact(day: &str, kind: InteractionKind, channel: Channel, product: &str) -> Interaction {
        Interaction {
            id: InteractionId::generate(),
            customer_id: CustomerId::generate(),
            kind,
            channel,
            at: format!("{day}T09:00:00Z").parse().unwrap(),
            text: None,
            product_id: Some(ProductId::parse("p", product).unwrap()),
            order_id: None,
        }
    }

    fn criteria() -> ConversionCriteria {
        serde_json::from_str(
            r#"{"window_days": 30, "threshold": 60, "rules": [
                {"signal": "inquiries", "at_least": 2, "points": 40},
                {"signal": "days_since_last_interaction", "at_most": 7, "points": 30},
                {"signal": "complaints", "at_most": 0, "points": 10},
                {"signal": "marketing_consent", "at_least": 1, "points": 20}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn points_from_recent_signals_decide_convertibility() {
        let as_of: DateTime<Utc> = "2026-03-31T00:00:00Z".parse().unwrap();
        let history = [
            contact("2026-01-10", InteractionKind::Inquiry, Channel::Web, "A"), // outside
            contact("2026-03-10", InteractionKind::Inquiry, Channel::Web, "A"),
            contact("2026-03-28", InteractionKind::Chat, Channel::Wechat, "B"),
        ];
        let criteria = criteria();
        criteria.validate().unwrap();
        let keen = criteria.evaluate(&history, false, as_of);
        assert_eq!(keen.points, 80);
        assert!(keen.convertible);
        assert_eq!(
            keen.matched,
            [
                Signal::Inquiries,
                Signal::DaysSinceLastInteraction,
                Signal::Complaints
            ]
        );
        assert_eq!(keen.signals[&Signal::Channels], 2.0);
        assert_eq!(keen.signals[&Signal::Products], 2.0);
        assert!((keen.likelihood - 0.8).abs() < 1e-9);

        let cold = criteria.evaluate(&history[..2], true, as_of);
        assert_eq!(cold.matched, [Signal::Complaints, Signal::MarketingConsent]);
        assert!(!cold.convertible);
    }

    #[test]
    fn refuses_criteria_that_cannot_work_and_names_the_fields() {
        let mut bad = criteria();
        bad.window_days = 0;
        bad.threshold = 500;
        bad.rules[1].at_most = None;
        bad.rules[2].at_least = Some(3.0);
        bad.rules[3].points = 0;
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "window_days",
                "rules[1].at_least",
                "rules[2].at_most",
                "rules[3].points",
                "threshold"
            ]
        );
        let unknown = serde_json::from_str::<ConversionCriteria>(
            r#"{"window_days":1,"threshold":1,"rules":[{"signal":"mood","at_least":1,"points":1}]}"#,
        );
        assert!(unknown.is_err());
    }
}
