//! Coupons that orders carry. A coupon is redeemed for its order before the
//! order is stored: a coupon that cannot be (unknown to the customer,
//! expired, redeemed for another order, the order below its minimum spend)
//! rejects the order's row naming `order.coupon`, and nothing of it is
//! written. The redemption names the order number, so the same order sent
//! again finds its own redemption. An order whose number turns out to
//! belong to another customer gives its coupon back.

use std::collections::HashMap;

use strata_domain::error::FieldError;
use strata_domain::order::Order;
use strata_domain::{Invalid, rewards::coupon::CouponRefusal};
use strata_store::{Rewards, StoreError};

const FIELD: &str = "order.coupon";

/// Redeems each order's coupon (`orders` keyed by position); the positions
/// whose coupon was refused, with why.
pub async fn redeem(
    rewards: &Rewards,
    orders: &[(usize, Order)],
) -> Result<HashMap<usize, Invalid>, StoreError> {
    let mut refused = HashMap::new();
    for (position, order) in orders {
        if let Some(invalid) = redeem_one(rewards, order).await? {
            refused.insert(*position, invalid);
        }
    }
    Ok(refused)
}

/// Redeems one order's coupon, if it carries one; `Some` says why not.
pub async fn redeem_one(rewards: &Rewards, order: &Order) -> Result<Option<Invalid>, StoreError> {
    let Some(code) = &order.coupon else {
        return Ok(None);
    };
    if order.total.currency != rewards.currency {
        return Ok(Some(
            FieldError::new(
                FIELD,
                "currency_mismatch",
                format!(
                    "coupons are in the shop's currency ({}); the order is in {}",
                    rewards.currency, order.total.currency
                ),
            )
            .into(),
        ));
    }
    let redeemed = rewards
        .coupons
        .redeem(
            order.customer_id,
            code,
            order.id.as_str(),
            Some(order.total.minor),
            order.placed_at,
        )
        .await;
    Ok(match redeemed {
        Ok(Ok(_)) => None,
        Ok(Err(refusal)) => Some(refused(refusal)),
        Err(StoreError::NotFound { .. }) => Some(
            FieldError::new(
                FIELD,
                "unknown_coupon",
                "the customer has no coupon with this code",
            )
            .into(),
        ),
        Err(other) => return Err(other),
    })
}

fn refused(refusal: CouponRefusal) -> Invalid {
    refusal.on(FIELD).into()
}

/// Gives back the coupons of orders that were not stored because their
/// number belongs to another customer's order.
pub async fn give_back(rewards: &Rewards, orders: &[&Order]) -> Result<(), StoreError> {
    for order in orders {
        if let Some(code) = &order.coupon {
            rewards
                .coupons
                .release(order.customer_id, code, order.id.as_str())
                .await?;
        }
    }
    Ok(())
}
