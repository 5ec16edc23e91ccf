//! An order's later life: shipped, refunded or cancelled. The status
//! changes on the stored order (`ActivityRepository::set_order_status`),
//! the customer's summary is counted again (so their tier follows), and a
//! refund or cancellation takes back the points the order earned. A request
//! sent again after a failure finishes what the first one left undone:
//! the recount and the claw-back are idempotent. An import row carrying a
//! stored order with a later status changes it the same way.

use chrono::Utc;
use strata_domain::activity::RowMark;
use strata_domain::error::{FieldError, Invalid};
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::order::{Order, OrderStatus};
use strata_domain::rewards::LedgerEntry;
use strata_store::{StatusChange, StoreError};

use crate::ingest::{IngestError, Ingestor};

/// What changing an order's status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The order as it is now, and what was taken back of its points.
    Changed {
        order: Order,
        previous: OrderStatus,
        clawback: Option<LedgerEntry>,
    },
    /// The status cannot become the one asked for.
    Refused {
        order: Order,
    },
    NotFound,
}

impl Ingestor {
    pub async fn change_order_status(
        &self,
        customer: CustomerId,
        id: &OrderId,
        status: OrderStatus,
    ) -> Result<StatusOutcome, IngestError> {
        self.change_status_by(customer, id, status, None).await
    }

    /// An import row carrying a stored order with another status: the
    /// status changes as through the route, or the row is rejected naming
    /// `order.status` (a move the order cannot make) or `order.id` (the
    /// order is in the cold tier, or was erased meanwhile).
    pub(crate) async fn import_status(
        &self,
        order: &Order,
        row: &RowMark,
    ) -> Result<Result<(), Invalid>, IngestError> {
        let outcome = self
            .change_status_by(order.customer_id, &order.id, order.status, Some(row))
            .await;
        Ok(match outcome {
            Ok(StatusOutcome::Changed { .. }) => Ok(()),
            Ok(StatusOutcome::Refused { order: stored }) => Err(FieldError::new(
                "order.status",
                "status_not_allowed",
                format!(
                    "order {} is {} and cannot become {}",
                    order.id,
                    stored.status.name(),
                    order.status.name()
                ),
            )
            .into()),
            Ok(StatusOutcome::NotFound) => Err(FieldError::new(
                "order.id",
                "order_not_found",
                "the order this status is for is no longer stored",
            )
            .into()),
            Err(IngestError::Store(StoreError::Archived { .. })) => Err(FieldError::new(
                "order.id",
                "order_archived",
                "the order is in the cold tier: read it back before changing its status",
            )
            .into()),
            Err(other) => return Err(other),
        })
    }

    async fn change_status_by(
        &self,
        customer: CustomerId,
        id: &OrderId,
        status: OrderStatus,
        by: Option<&RowMark>,
    ) -> Result<StatusOutcome, IngestError> {
        let before = match self
            .activity()
            .set_order_status(customer, id, status, by)
            .await?
        {
            StatusChange::NotFound => return Ok(StatusOutcome::NotFound),
            StatusChange::Refused(order) => return Ok(StatusOutcome::Refused { order }),
            StatusChange::Changed(order) | StatusChange::Unchanged(order) => order,
        };
        self.recount_summaries(&[customer]).await?;
        let clawback = if status.is_purchase() {
            None
        } else {
            self.rewards()
                .clawback(customer, id.as_str(), Utc::now())
                .await?
        };
        Ok(StatusOutcome::Changed {
            previous: before.status,
            order: Order { status, ..before },
            clawback,
        })
    }
}
