//! The churn model's features and label: the single definition that both
//! the training export and online/batch scoring use.
//!
//! Every feature of a customer is computed *as of* an instant from the
//! records strictly before it, so a past cut-off sees exactly what was known
//! then. Skewed counts and amounts enter as `ln(1 + x)`, which keeps a small
//! network's inputs well scaled.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::interaction::{Interaction, InteractionKind};
use crate::order::{Order, OrderStatus};
use crate::review::Review;

/// Days back that "recent" counts (purchases, inquiries, complaints) cover.
pub const RECENT_DAYS: i64 = 90;
/// Days since the last interaction reported for a customer who never had
/// one, and the cap for those who had one long ago.
pub const INTERACTION_DAYS_CAP: f32 = 365.0;
/// `recency / mean interval` above this adds nothing but outliers.
const OVERDUE_CAP: f32 = 50.0;

/// The features, in the order the export writes them. A model uses a
/// subset of them, in the order its card lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    RecencyDays,
    TenureDays,
    LnPurchases,
    LnRepeatDays,
    LnSpendTotal,
    LnSpendMean,
    LnItemsPerOrder,
    MeanIntervalDays,
    IntervalCv,
    RecencyOverInterval,
    LnPurchases90d,
    SpendTrend,
    ReturnShare,
    LnInquiries90d,
    LnComplaints90d,
    ReviewAttitude,
    DaysSinceInteraction,
}

impl Feature {
    pub const COUNT: usize = 17;
    pub const ALL: [Feature; Feature::COUNT] = [
        Feature::RecencyDays,
        Feature::TenureDays,
        Feature::LnPurchases,
        Feature::LnRepeatDays,
        Feature::LnSpendTotal,
        Feature::LnSpendMean,
        Feature::LnItemsPerOrder,
        Feature::MeanIntervalDays,
        Feature::IntervalCv,
        Feature::RecencyOverInterval,
        Feature::LnPurchases90d,
        Feature::SpendTrend,
        Feature::ReturnShare,
        Feature::LnInquiries90d,
        Feature::LnComplaints90d,
        Feature::ReviewAttitude,
        Feature::DaysSinceInteraction,
    ];

    /// The column name in the export and the model card.
    pub fn name(self) -> &'static str {
        match self {
            Feature::RecencyDays => "recency_days",
            Feature::TenureDays => "tenure_days",
            Feature::LnPurchases => "ln_purchases",
            Feature::LnRepeatDays => "ln_repeat_days",
            Feature::LnSpendTotal => "ln_spend_total",
            Feature::LnSpendMean => "ln_spend_mean",
            Feature::LnItemsPerOrder => "ln_items_per_order",
            Feature::MeanIntervalDays => "mean_interval_days",
            Feature::IntervalCv => "interval_cv",
            Feature::RecencyOverInterval => "recency_over_interval",
            Feature::LnPurchases90d => "ln_purchases_90d",
            Feature::SpendTrend => "spend_trend",
            Feature::ReturnShare => "return_share",
            Feature::LnInquiries90d => "ln_inquiries_90d",
            Feature::LnComplaints90d => "ln_complaints_90d",
            Feature::ReviewAttitude => "review_attitude",
            Feature::DaysSinceInteraction => "days_since_interaction",
        }
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// One line for people (API reasons, the model card's readers).
    pub fn meaning(self) -> &'static str {
        match self {
            Feature::RecencyDays => "days since the last purchase",
            Feature::TenureDays => "days since the first purchase",
            Feature::LnPurchases => "ln(1 + purchases)",
            Feature::LnRepeatDays => "ln(1 + days with a purchase after the first)",
            Feature::LnSpendTotal => "ln(1 + total spend, major units)",
            Feature::LnSpendMean => "ln(1 + mean spend per purchase)",
            Feature::LnItemsPerOrder => "ln(1 + mean items per purchase)",
            Feature::MeanIntervalDays => "mean days between purchase days (0 with one)",
            Feature::IntervalCv => "coefficient of variation of those intervals",
            Feature::RecencyOverInterval => "days since the last purchase / mean interval",
            Feature::LnPurchases90d => "ln(1 + purchases in the last 90 days)",
            Feature::SpendTrend => "ln(1 + spend, last 90 days) - ln(1 + spend, 90 days before)",
            Feature::ReturnShare => "share of orders refunded or cancelled",
            Feature::LnInquiries90d => "ln(1 + inquiries, chats, calls, e-mails in 90 days)",
            Feature::LnComplaints90d => "ln(1 + complaints and after-sales requests in 90 days)",
            Feature::ReviewAttitude => "mean review score mapped to -1..1 (0 without reviews)",
            Feature::DaysSinceInteraction => "days since the last interaction (capped at 365)",
        }
    }
}

/// All features of one customer at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureVector {
    values: [f32; Feature::COUNT],
}

impl FeatureVector {
    pub fn get(&self, feature: Feature) -> f32 {
        self.values[feature as usize]
    }

    /// Appends the values a model takes, in its order.
    pub fn write_selected(&self, order: &[Feature], out: &mut Vec<f32>) {
        out.extend(order.iter().map(|f| self.get(*f)));
    }

    fn set(&mut self, feature: Feature, value: f32) {
        self.values[feature as usize] = value;
    }
}

/// A customer's records as the features read them.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub orders: &'a [Order],
    pub interactions: &'a [Interaction],
    pub reviews: &'a [Review],
}

impl History<'_> {
    /// Whether the customer had bought before the instant (a "formal" customer).
    pub fn is_formal_at(&self, as_of: DateTime<Utc>) -> bool {
        self.orders
            .iter()
            .any(|o| o.status.is_purchase() && o.placed_at < as_of)
    }

    /// The features as of the instant, or `None` for a customer who had not
    /// bought by then (the model scores formal customers only).
    pub fn features(&self, as_of: DateTime<Utc>) -> Option<FeatureVector> {
        let mut purchases: Vec<&Order> = self
            .orders
            .iter()
            .filter(|o| o.status.is_purchase() && o.placed_at < as_of)
            .collect();
        purchases.sort_by_key(|o| o.placed_at);
        let (first, last) = (purchases.first()?, purchases.last()?);
        let mut v = FeatureVector {
            values: [0.0; Feature::COUNT],
        };
        let count = purchases.len() as f32;
        let recency = days_between(last.placed_at, as_of);
        v.set(Feature::RecencyDays, recency);
        v.set(Feature::TenureDays, days_between(first.placed_at, as_of));
        v.set(Feature::LnPurchases, count.ln_1p());

        let purchase_days: BTreeSet<NaiveDate> =
            purchases.iter().map(|o| o.placed_at.date_naive()).collect();
        let days: Vec<NaiveDate> = purchase_days.into_iter().collect();
        v.set(Feature::LnRepeatDays, ((days.len() - 1) as f32).ln_1p());
        let gaps: Vec<f32> = days
            .windows(2)
            .map(|w| (w[1] - w[0]).num_days() as f32)
            .collect();
        if !gaps.is_empty() {
            let mean = gaps.iter().sum::<f32>() / gaps.len() as f32;
            v.set(Feature::MeanIntervalDays, mean);
            v.set(
                Feature::RecencyOverInterval,
                (recency / mean.max(1.0)).min(OVERDUE_CAP),
            );
            if gaps.len() >= 2 && mean > 0.0 {
                let variance =
                    gaps.iter().map(|g| (g - mean).powi(2)).sum::<f32>() / gaps.len() as f32;
                v.set(Feature::IntervalCv, variance.sqrt() / mean);
            }
        }

        let spend: f64 = purchases.iter().map(|o| major_units(o)).sum();
        v.set(Feature::LnSpendTotal, (spend as f32).ln_1p());
        v.set(
            Feature::LnSpendMean,
            ((spend / count as f64) as f32).ln_1p(),
        );
        let items: f32 = purchases.iter().map(|o| o.item_count as f32).sum();
        v.set(Feature::LnItemsPerOrder, (items / count).ln_1p());

        let recent_start = as_of - Duration::days(RECENT_DAYS);
        let before_start = recent_start - Duration::days(RECENT_DAYS);
        let spend_in = |from: DateTime<Utc>, to: DateTime<Utc>| -> f32 {
            purchases
                .iter()
                .filter(|o| o.placed_at >= from && o.placed_at < to)
                .map(|o| major_units(o))
                .sum::<f64>() as f32
        };
        let recent = purchases
            .iter()
            .filter(|o| o.placed_at >= recent_start)
            .count();
        v.set(Feature::LnPurchases90d, (recent as f32).ln_1p());
        v.set(
            Feature::SpendTrend,
            spend_in(recent_start, as_of).ln_1p() - spend_in(before_start, recent_start).ln_1p(),
        );

        let placed: Vec<&Order> = self.orders.iter().filter(|o| o.placed_at < as_of).collect();
        let returned = placed
            .iter()
            .filter(|o| matches!(o.status, OrderStatus::Refunded | OrderStatus::Cancelled))
            .count();
        v.set(Feature::ReturnShare, returned as f32 / placed.len() as f32);

        let known: Vec<&Interaction> = self.interactions.iter().filter(|i| i.at < as_of).collect();
        let recent_of = |complaint: bool| {
            known
                .iter()
                .filter(|i| i.at >= recent_start && is_complaint(i.kind) == complaint)
                .count() as f32
        };
        v.set(Feature::LnInquiries90d, recent_of(false).ln_1p());
        v.set(Feature::LnComplaints90d, recent_of(true).ln_1p());
        let since_interaction = known
            .iter()
            .map(|i| i.at)
            .max()
            .map_or(INTERACTION_DAYS_CAP, |at| {
                days_between(at, as_of).min(INTERACTION_DAYS_CAP)
            });
        v.set(Feature::DaysSinceInteraction, since_interaction);
        v.set(
            Feature::ReviewAttitude,
            review_attitude(self.reviews, as_of),
        );
        Some(v)
    }

    /// The label: no purchase in the `horizon_days` from the instant on.
    pub fn churned_after(&self, as_of: DateTime<Utc>, horizon_days: u32) -> bool {
        let end = as_of + Duration::days(i64::from(horizon_days));
        !self
            .orders
            .iter()
            .any(|o| o.status.is_purchase() && o.placed_at >= as_of && o.placed_at < end)
    }
}

fn is_complaint(kind: InteractionKind) -> bool {
    matches!(
        kind,
        InteractionKind::Complaint | InteractionKind::AfterSalesRequest
    )
}

/// Mean over reviews of the scores given (stars, product and service
/// satisfaction), each mapped from 1..5 to -1..1.
fn review_attitude(reviews: &[Review], as_of: DateTime<Utc>) -> f32 {
    let per_review: Vec<f32> = reviews
        .iter()
        .filter(|r| r.at < as_of)
        .map(|r| {
            let scores: Vec<f32> = [
                Some(r.rating),
                r.product_satisfaction,
                r.service_satisfaction,
            ]
            .into_iter()
            .flatten()
            .map(|s| (f32::from(s) - 3.0) / 2.0)
            .collect();
            scores.iter().sum::<f32>() / scores.len() as f32
        })
        .collect();
    if per_review.is_empty() {
        0.0
    } else {
        per_review.iter().sum::<f32>() / per_review.len() as f32
    }
}

fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f32 {
    ((to - from).num_seconds() as f64 / 86_400.0) as f32
}

/// An order's amount in major units: statistics for a model, not money.
fn major_units(order: &Order) -> f64 {
    order.total.minor as f64 / 10f64.powi(order.total.currency.exponent() as i32)
}

/// The cut-offs of a training run: earlier ones to train on, the latest one
/// held out, each followed by a full label horizon inside the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingCutoffs {
    pub train: Vec<DateTime<Utc>>,
    pub holdout: DateTime<Utc>,
    pub horizon_days: u32,
}

/// A cut-off needs this much history before it to say anything.
const MIN_HISTORY_DAYS: i64 = 90;

impl TrainingCutoffs {
    /// For data from `first` to `last` (days with a purchase): the holdout
    /// cut-off is `horizon_days` before the end of the data; training
    /// cut-offs are the month starts whose label window closes before the
    /// holdout's opens (no label overlaps the holdout), at most `max_train`
    /// of the latest. `None` when the data is too short for one of each.
    pub fn monthly(
        first: NaiveDate,
        last: NaiveDate,
        horizon_days: u32,
        max_train: usize,
    ) -> Option<TrainingCutoffs> {
        let horizon = Duration::days(i64::from(horizon_days));
        let end = start_of(last.succ_opt()?);
        let holdout = end - horizon;
        let earliest = start_of(first) + Duration::days(MIN_HISTORY_DAYS);
        let mut month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1)?;
        let mut train = Vec::new();
        loop {
            let at = start_of(month);
            if at + horizon > holdout {
                break;
            }
            if at >= earliest {
                train.push(at);
            }
            month = month.checked_add_months(chrono::Months::new(1))?;
        }
        let skip = train.len().saturating_sub(max_train);
        let train: Vec<_> = train.into_iter().skip(skip).collect();
        (!train.is_empty()).then_some(TrainingCutoffs {
            train,
            holdout,
            horizon_days,
        })
    }

    /// Every cut-off, training ones first.
    pub fn all(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.train.iter().copied().chain([self.holdout])
    }
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::ids::{CustomerId, InteractionId, OrderId, ProductId, ReviewId};
    use crate::money::{Currency, Money};

    fn at(day: &str) -> DateTime<Utc> {
        format!("{day}T12:00:00Z").parse().unwrap()
    }

    fn order(day: &str, dollars: i64, status: OrderStatus) -> Order {
        Order {
            id: OrderId::generate(),
            customer_id: CustomerId::generate(),
            placed_at: at(day),
            status,
            lines: Vec::new(),
            item_count: 2,
            total: Money {
                minor: dollars * 100,
                currency: Currency::USD,
            },
            coupon: None,
        }
    }

    fn interaction(day: &str, kind: InteractionKind) -> Interaction {
        Interaction {
            id: InteractionId::generate(),
            customer_id: CustomerId::generate(),
            kind,
            channel: Channel::Chat,
            at: at(day),
            text: None,
            product_id: None,
            order_id: None,
        }
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let names: BTreeSet<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Feature::COUNT);
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
            assert_eq!(Feature::ALL[f as usize], f, "ALL is in declaration order");
        }
    }

    #[test]
    fn computes_recency_frequency_monetary_and_intervals_as_of_a_day() {
        let orders = [
            order("2026-01-01", 10, OrderStatus::Paid),
            order("2026-01-11", 30, OrderStatus::Shipped),
            order("2026-01-31", 20, OrderStatus::Paid),
            order("2026-02-05", 99, OrderStatus::Refunded),
            order("2026-06-01", 500, OrderStatus::Paid), // after the cut-off
        ];
        let interactions = [
            interaction("2026-02-20", InteractionKind::Complaint),
            interaction("2026-02-25", InteractionKind::Inquiry),
            interaction("2026-03-05", InteractionKind::Inquiry), // after
        ];
        let review = Review {
            id: ReviewId::generate(),
            customer_id: CustomerId::generate(),
            product_id: ProductId::parse("p", "RICE").unwrap(),
            rating: 5,
            text: None,
            product_satisfaction: Some(4),
            service_satisfaction: None,
            at: at("2026-01-15"),
        };
        let history = History {
            orders: &orders,
            interactions: &interactions,
            reviews: std::slice::from_ref(&review),
        };
        let as_of = at("2026-03-02");
        let v = history.features(as_of).unwrap();
        let close = |f: Feature, want: f32| {
            assert!(
                (v.get(f) - want).abs() < 1e-4,
                "{}: {} vs {want}",
                f.name(),
                v.get(f)
            );
        };
        close(Feature::RecencyDays, 30.0);
        close(Feature::TenureDays, 60.0);
        close(Feature::LnPurchases, 3f32.ln_1p());
        close(Feature::LnRepeatDays, 2f32.ln_1p());
        close(Feature::LnSpendTotal, 60f32.ln_1p());
        close(Feature::LnSpendMean, 20f32.ln_1p());
        close(Feature::LnItemsPerOrder, 2f32.ln_1p());
        close(Feature::MeanIntervalDays, 15.0);
        close(Feature::IntervalCv, 5.0 / 15.0);
        close(Feature::RecencyOverInterval, 2.0);
        close(Feature::LnPurchases90d, 3f32.ln_1p());
        close(Feature::SpendTrend, 60f32.ln_1p());
        close(Feature::ReturnShare, 0.25);
        close(Feature::LnInquiries90d, 1f32.ln_1p());
        close(Feature::LnComplaints90d, 1f32.ln_1p());
        close(Feature::DaysSinceInteraction, 5.0);
        close(Feature::ReviewAttitude, 0.75);

        assert!(!history.churned_after(as_of, 92), "bought again on 06-01");
        assert!(history.churned_after(as_of, 91));
        assert!(
            history.features(at("2026-01-01")).is_none(),
            "not formal yet"
        );
        assert!(!history.is_formal_at(at("2026-01-01")));
        assert!(history.is_formal_at(at("2026-01-02")));
    }

    #[test]
    fn one_time_buyer_without_interactions_gets_neutral_values() {
        let orders = [order("2026-01-01", 10, OrderStatus::Paid)];
        let history = History {
            orders: &orders,
            interactions: &[],
            reviews: &[],
        };
        let v = history.features(at("2026-12-01")).unwrap();
        assert_eq!(v.get(Feature::MeanIntervalDays), 0.0);
        assert_eq!(v.get(Feature::RecencyOverInterval), 0.0);
        assert_eq!(v.get(Feature::DaysSinceInteraction), INTERACTION_DAYS_CAP);
        assert_eq!(v.get(Feature::SpendTrend), 0.0);
        let mut selected = Vec::new();
        v.write_selected(&[Feature::TenureDays, Feature::LnPurchases], &mut selected);
        assert_eq!(selected, [334.0, 2f32.ln()]);
    }

    #[test]
    fn holdout_label_window_never_overlaps_training_labels() {
        let first = NaiveDate::from_ymd_opt(1997, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(1998, 6, 30).unwrap();
        let cutoffs = TrainingCutoffs::monthly(first, last, 90, 24).unwrap();
        assert_eq!(
            cutoffs.holdout,
            start_of(NaiveDate::from_ymd_opt(1998, 4, 2).unwrap())
        );
        assert_eq!(
            cutoffs.train.first().unwrap().date_naive().to_string(),
            "1997-04-01"
        );
        assert_eq!(
            cutoffs.train.last().unwrap().date_naive().to_string(),
            "1998-01-01"
        );
        for t in &cutoffs.train {
            assert!(*t + Duration::days(90) <= cutoffs.holdout);
        }
        let fewer = TrainingCutoffs::monthly(first, last, 90, 3).unwrap();
        assert_eq!(fewer.train.len(), 3);
        assert_eq!(fewer.train.last(), cutoffs.train.last());
        assert!(TrainingCutoffs::monthly(first, first, 90, 12).is_none());
    }
}
