//! What a customer's history says about them, derived on every write: the
//! running inputs for RFM, and the stage (prospect, intent, new, returning).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::interaction::{Interaction, InteractionKind};
use crate::money::{Currency, Money};
use crate::order::Order;
use crate::review::Review;

/// Where a customer stands with the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Known, but has neither asked nor bought.
    Prospect,
    /// Asked (inquiry, chat, …) but never bought: an "intent" customer.
    Intent,
    /// Bought once: a new "formal" customer.
    New,
    /// Bought twice or more: a returning "formal" customer.
    Returning,
}

impl Stage {
    /// Whether the customer has bought (a "formal" customer).
    pub fn is_formal(self) -> bool {
        matches!(self, Stage::New | Stage::Returning)
    }
}

/// Totals over a customer's stored history: recounted from the history, or
/// brought forward by imports with the records they add (see `RowMark`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitySummary {
    /// Paid or shipped orders (refunded and cancelled ones do not count).
    pub purchases: u32,
    /// Refunded or cancelled orders: they count against the customer's
    /// value (`value`).
    #[serde(default)]
    pub returns: u32,
    pub first_purchase_at: Option<DateTime<Utc>>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    /// Amount bought, one entry per currency, in minor units.
    pub spent: BTreeMap<Currency, i64>,
    pub items_bought: u64,
    pub interactions: u32,
    pub complaints: u32,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub reviews: u32,
    /// Sum of star ratings, for the mean.
    pub rating_total: u32,
}

impl ActivitySummary {
    pub fn of(
        orders: &[Order],
        interactions: &[Interaction],
        reviews: &[Review],
    ) -> ActivitySummary {
        let mut summary = ActivitySummary {
            returns: orders.iter().filter(|o| !o.status.is_purchase()).count() as u32,
            ..ActivitySummary::default()
        };
        for order in orders.iter().filter(|o| o.status.is_purchase()) {
            summary.purchases += 1;
            summary.first_purchase_at = Some(
                summary
                    .first_purchase_at
                    .map_or(order.placed_at, |t| t.min(order.placed_at)),
            );
            summary.last_purchase_at = Some(
                summary
                    .last_purchase_at
                    .map_or(order.placed_at, |t| t.max(order.placed_at)),
            );
            let spent = summary.spent.entry(order.total.currency).or_insert(0);
            *spent = spent.saturating_add(order.total.minor);
            summary.items_bought += u64::from(order.item_count);
        }
        for interaction in interactions {
            summary.interactions += 1;
            if interaction.kind == InteractionKind::Complaint {
                summary.complaints += 1;
            }
            summary.last_interaction_at = Some(
                summary
                    .last_interaction_at
                    .map_or(interaction.at, |t| t.max(interaction.at)),
            );
        }
        for review in reviews {
            summary.reviews += 1;
            summary.rating_total += u32::from(review.rating);
        }
        summary
    }

    /// Adds the totals of records kept elsewhere (the cold tier's share of
    /// a history), as if `ActivitySummary::of` had seen both sets at once.
    pub fn merge(&mut self, other: &ActivitySummary) {
        self.purchases += other.purchases;
        self.returns += other.returns;
        self.first_purchase_at = earliest(self.first_purchase_at, other.first_purchase_at);
        self.last_purchase_at = latest(self.last_purchase_at, other.last_purchase_at);
        for (currency, minor) in &other.spent {
            let spent = self.spent.entry(*currency).or_insert(0);
            *spent = spent.saturating_add(*minor);
        }
        self.items_bought += other.items_bought;
        self.interactions += other.interactions;
        self.complaints += other.complaints;
        self.last_interaction_at = latest(self.last_interaction_at, other.last_interaction_at);
        self.reviews += other.reviews;
        self.rating_total += other.rating_total;
    }

    pub fn stage(&self) -> Stage {
        match self.purchases {
            0 if self.interactions > 0 => Stage::Intent,
            0 => Stage::Prospect,
            1 => Stage::New,
            _ => Stage::Returning,
        }
    }

    /// Amount bought in one currency.
    pub fn spent_in(&self, currency: Currency) -> Money {
        Money {
            minor: self.spent.get(&currency).copied().unwrap_or(0),
            currency,
        }
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::ids::{CustomerId, InteractionId, OrderId};
    use crate::order::OrderStatus;

    fn order(day: u32, minor: i64, status: OrderStatus) -> Order {
        Order {
            id: OrderId::generate(),
            customer_id: CustomerId::generate(),
            placed_at: format!("2026-03-{day:02}T00:00:00Z").parse().unwrap(),
            status,
            lines: Vec::new(),
            item_count: 2,
            total: Money {
                minor,
                currency: Currency::CNY,
            },
            coupon: None,
        }
    }

    #[test]
    fn stages_follow_purchases_and_interactions() {
        let inquiry = Interaction {
            id: InteractionId::generate(),
            customer_id: CustomerId::generate(),
            kind: InteractionKind::Inquiry,
            channel: Channel::Chat,
            at: "2026-03-01T10:00:00Z".parse().unwrap(),
            text: None,
            product_id: None,
            order_id: None,
        };
        assert_eq!(ActivitySummary::of(&[], &[], &[]).stage(), Stage::Prospect);
        assert_eq!(
            ActivitySummary::of(&[], std::slice::from_ref(&inquiry), &[]).stage(),
            Stage::Intent
        );
        let refunded = [order(2, 100, OrderStatus::Refunded)];
        assert_eq!(
            ActivitySummary::of(&refunded, std::slice::from_ref(&inquiry), &[]).stage(),
            Stage::Intent
        );
        let one = [order(2, 100, OrderStatus::Paid)];
        assert_eq!(ActivitySummary::of(&one, &[], &[]).stage(), Stage::New);
        let two = [
            order(5, 250, OrderStatus::Shipped),
            order(2, 100, OrderStatus::Paid),
            order(9, 999, OrderStatus::Cancelled),
        ];
        let summary = ActivitySummary::of(&two, &[], &[]);
        assert_eq!(summary.stage(), Stage::Returning);
        assert!(summary.stage().is_formal());
        assert_eq!(summary.spent_in(Currency::CNY).minor, 350);
        assert_eq!(summary.items_bought, 4);
        assert_eq!(summary.returns, 1, "the cancelled order");
        assert_eq!(
            summary.first_purchase_at.unwrap().to_rfc3339(),
            "2026-03-02T00:00:00+00:00"
        );
        assert_eq!(
            summary.last_purchase_at.unwrap().to_rfc3339(),
            "2026-03-05T00:00:00+00:00"
        );
    }

    #[test]
    fn merged_parts_equal_the_summary_of_the_whole() {
        let orders = [
            order(5, 250, OrderStatus::Shipped),
            order(2, 100, OrderStatus::Paid),
            order(9, 999, OrderStatus::Refunded),
            order(1, 70, OrderStatus::Paid),
        ];
        let whole = ActivitySummary::of(&orders, &[], &[]);
        for split in 0..=orders.len() {
            let (hot, cold) = orders.split_at(split);
            let mut merged = ActivitySummary::of(hot, &[], &[]);
            merged.merge(&ActivitySummary::of(cold, &[], &[]));
            assert_eq!(merged, whole, "split at {split}");
        }
    }
}

/// A row of an import. On an imported record: the row it came from (an
/// order's first line). On a profile: how far that import's records are
/// counted in the summary, so a chunk applied again after a crash adds only
/// what the summary lacks; and the row that created the profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowMark {
    pub import: String,
    pub row: u64,
}

/// Imports a profile remembers marks for; a chunk is retried soon after it
/// failed, long before this many later imports have touched the customer.
pub const MAX_ROW_MARKS: usize = 8;

/// The row up to which `import`'s records are counted, if any are.
pub fn counted_up_to(marks: &[RowMark], import: &str) -> Option<u64> {
    marks.iter().find(|m| m.import == import).map(|m| m.row)
}

/// Records that `import`'s records up to `row` are counted: the mark only
/// moves forward and becomes the newest; the oldest beyond `MAX_ROW_MARKS` go.
pub fn mark_counted(marks: &mut Vec<RowMark>, import: &str, row: u64) {
    let row = counted_up_to(marks, import).map_or(row, |held| held.max(row));
    marks.retain(|m| m.import != import);
    marks.push(RowMark {
        import: import.to_owned(),
        row,
    });
    let excess = marks.len().saturating_sub(MAX_ROW_MARKS);
    marks.drain(..excess);
}
