//! Orders and their lines. Amounts are exact integers of minor units.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact;
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::{CustomerId, OrderId, ProductId};
use crate::money::{Currency, Money};
use crate::options::ReadOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Paid,
    Shipped,
    Refunded,
    Cancelled,
}

impl OrderStatus {
    /// Whether the order counts as a purchase (for new/returning, RFM…).
    pub fn is_purchase(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Shipped)
    }

    /// The moves an order's life allows: a paid order ships, is refunded
    /// or cancelled; a shipped one is refunded. Refunds and cancellations
    /// are final.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Paid, Shipped | Refunded | Cancelled) | (Shipped, Refunded)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub quantity: u32,
    pub unit_price: Money,
    /// What the line cost after discounts; at most `unit_price × quantity`.
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub customer_id: CustomerId,
    pub placed_at: DateTime<Utc>,
    pub status: OrderStatus,
    /// Products by line; empty when a source reports only totals (CDNOW).
    pub lines: Vec<OrderLine>,
    pub item_count: u32,
    pub total: Money,
    /// The code of the customer's coupon the order redeemed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub id: String,
    pub placed_at: String,
    #[serde(default = "paid")]
    pub status: OrderStatus,
    /// ISO 4217; the shop's default currency when absent.
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<OrderLineInput>,
    /// Required without lines; must equal the lines' sum with them.
    pub total: Option<String>,
    /// Required without lines; the lines' quantities are summed otherwise.
    pub item_count: Option<u32>,
    /// The code of a coupon of the customer's the order redeemed.
    #[serde(default)]
    pub coupon: Option<String>,
}

fn paid() -> OrderStatus {
    OrderStatus::Paid
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineInput {
    pub product_id: String,
    pub quantity: u32,
    /// Decimal text, e.g. `"12.50"`. Derived from `total` when absent.
    pub unit_price: Option<String>,
    /// Decimal text. `unit_price × quantity` when absent.
    pub total: Option<String>,
}

pub const MAX_ORDER_LINES: usize = 500;
pub const MAX_LINE_QUANTITY: u32 = 1_000_000;

impl OrderInput {
    pub fn validate(
        &self,
        customer_id: CustomerId,
        options: &ReadOptions,
    ) -> Result<Order, Invalid> {
        let mut errors = Collector::default();
        let id = errors.take(OrderId::parse("id", &self.id));
        let placed_at = errors.take(contact::parse_instant(
            "placed_at",
            &self.placed_at,
            options.date_order,
        ));
        let coupon = match self.coupon.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => errors.take(crate::rewards::coupon::check_code("coupon", code)),
        };
        let currency = match self.currency.as_deref() {
            Some(code) => errors
                .take(Currency::parse("currency", code))
                .unwrap_or(options.currency),
            None => options.currency,
        };
        if self.lines.len() > MAX_ORDER_LINES {
            errors.push(FieldError::new(
                "lines",
                "too_many",
                format!("at most {MAX_ORDER_LINES} lines"),
            ));
        }
        let lines: Vec<OrderLine> = self
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, line)| {
                errors.take(
                    line.validate(currency)
                        .map_err(|e| e.under(&format!("lines[{i}]"))),
                )
            })
            .collect();
        let given_total = self
            .total
            .as_deref()
            .and_then(|t| errors.take(non_negative("total", t, currency)));
        let (total, item_count) = if self.lines.is_empty() {
            if self.total.is_none() {
                errors.push(FieldError::new(
                    "total",
                    "required",
                    "is required when an order has no lines",
                ));
            }
            (given_total, self.item_count.or(Some(0)))
        } else {
            summed(&lines, given_total, self.item_count, &mut errors)
        };
        match (id, placed_at, total, item_count) {
            (Some(id), Some(placed_at), Some(total), Some(item_count)) => errors.finish(|| Order {
                id,
                customer_id,
                placed_at,
                status: self.status,
                lines,
                item_count,
                total,
                coupon,
            }),
            _ => Err(errors
                .finish(|| ())
                .expect_err("a missing value was recorded as an error")),
        }
    }
}

/// The order's total and item count from its lines, checked against what the
/// source stated, if anything.
fn summed(
    lines: &[OrderLine],
    given_total: Option<Money>,
    given_count: Option<u32>,
    errors: &mut Collector,
) -> (Option<Money>, Option<u32>) {
    let Some(first) = lines.first() else {
        return (None, None);
    };
    let total = lines
        .iter()
        .try_fold(Money::zero(first.total.currency), |sum, l| {
            sum.checked_add(l.total)
        });
    let count = lines
        .iter()
        .try_fold(0u32, |sum, l| sum.checked_add(l.quantity));
    if total.is_none() {
        errors.push(FieldError::new(
            "total",
            "overflow",
            "the lines add up to more than can be stored",
        ));
    }
    if let (Some(given), Some(sum)) = (given_total, total)
        && given != sum
    {
        errors.push(FieldError::new(
            "total",
            "mismatch",
            format!("is {given} but the lines add up to {sum}"),
        ));
    }
    if let (Some(given), Some(sum)) = (given_count, count)
        && given != sum
    {
        errors.push(FieldError::new(
            "item_count",
            "mismatch",
            format!("is {given} but the lines hold {sum} items"),
        ));
    }
    (total, count)
}

fn non_negative(field: &str, raw: &str, currency: Currency) -> Result<Money, FieldError> {
    let money = Money::parse(field, raw, currency)?;
    if money.minor < 0 {
        return Err(FieldError::new(field, "negative", "must not be negative"));
    }
    Ok(money)
}

impl OrderLineInput {
    fn validate(&self, currency: Currency) -> Result<OrderLine, FieldError> {
        let product_id = ProductId::parse("product_id", &self.product_id)?;
        if self.quantity == 0 || self.quantity > MAX_LINE_QUANTITY {
            return Err(FieldError::new(
                "quantity",
                "out_of_range",
                format!("must be 1 to {MAX_LINE_QUANTITY}"),
            ));
        }
        let unit_price = self
            .unit_price
            .as_deref()
            .map(|p| non_negative("unit_price", p, currency))
            .transpose()?;
        let total = self
            .total
            .as_deref()
            .map(|t| non_negative("total", t, currency))
            .transpose()?;
        let overflow = || FieldError::new("total", "overflow", "is more than can be stored");
        let (unit_price, total) = match (unit_price, total) {
            (Some(price), Some(total)) => {
                let full = price.checked_mul(self.quantity).ok_or_else(overflow)?;
                if total.minor > full.minor {
                    return Err(FieldError::new(
                        "total",
                        "mismatch",
                        format!("{total} is more than unit price × quantity ({full})"),
                    ));
                }
                (price, total)
            }
            (Some(price), None) => (
                price,
                price.checked_mul(self.quantity).ok_or_else(overflow)?,
            ),
            // Rounded half up: the stored total stays exact, the unit price is informative.
            (None, Some(total)) => {
                let q = i64::from(self.quantity);
                (
                    Money {
                        minor: (total.minor + q / 2) / q,
                        currency,
                    },
                    total,
                )
            }
            (None, None) => {
                return Err(FieldError::new(
                    "unit_price",
                    "required",
                    "a line needs a unit price or a total",
                ));
            }
        };
        Ok(OrderLine {
            product_id,
            quantity: self.quantity,
            unit_price,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refunds_and_cancellations_are_final() {
        use OrderStatus::*;
        assert!(
            Paid.can_become(Refunded) && Paid.can_become(Shipped) && Shipped.can_become(Refunded)
        );
        assert!(!Refunded.can_become(Paid) && !Cancelled.can_become(Shipped));
        assert!(!Shipped.can_become(Cancelled) && !Paid.can_become(Paid));
        assert_eq!(Cancelled.name(), "cancelled");
    }

    fn line(
        product: &str,
        quantity: u32,
        unit: Option<&str>,
        total: Option<&str>,
    ) -> OrderLineInput {
        OrderLineInput {
            product_id: product.into(),
            quantity,
            unit_price: unit.map(Into::into),
            total: total.map(Into::into),
        }
    }

    fn order(lines: Vec<OrderLineInput>, total: Option<&str>) -> OrderInput {
        OrderInput {
            id: "SO-1".into(),
            placed_at: "2026-05-01".into(),
            status: OrderStatus::Paid,
            currency: Some("usd".into()),
            lines,
            total: total.map(Into::into),
            item_count: None,
            coupon: None,
        }
    }

    #[test]
    fn totals_come_from_lines_exactly() {
        let o = order(
            vec![
                line("A", 3, Some("0.10"), None),
                line("B", 1, None, Some("19.99")),
            ],
            Some("20.29"),
        )
        .validate(CustomerId::generate(), &ReadOptions::default())
        .unwrap();
        assert_eq!(o.total.minor, 2029);
        assert_eq!(o.item_count, 4);
        assert_eq!(o.total.currency, Currency::USD);
    }

    #[test]
    fn an_order_without_lines_needs_a_total() {
        let mut input = order(vec![], Some("29.33"));
        input.item_count = Some(2);
        let o = input
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap();
        assert_eq!((o.total.minor, o.item_count), (2933, 2));
        let err = order(vec![], None)
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap_err();
        assert_eq!(err.errors[0].field, "total");
    }

    #[test]
    fn names_the_bad_line_and_field() {
        let err = order(
            vec![
                line("A", 1, Some("1.00"), None),
                line("B", 0, Some("1.00"), None),
            ],
            Some("9.00"),
        )
        .validate(CustomerId::generate(), &ReadOptions::default())
        .unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[1].quantity", "total"]);
        let err = order(vec![line("A", 2, Some("1.00"), Some("2.50"))], None)
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap_err();
        assert_eq!(err.errors[0].field, "lines[0].total");
        let err = order(vec![line("A", 1, Some("-1"), None)], None)
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap_err();
        assert_eq!(err.errors[0].code, "negative");
    }
}
