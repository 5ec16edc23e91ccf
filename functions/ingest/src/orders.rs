//! An order's later life: shipped, refunded or cancelled. The status
//! changes on the stored order (`ActivityRepository::set_order_status`),
//! the customer's summary is counted again (so their tier follows), and a
//! refund or cancellation takes back the points the order earned. A request
//! sent again after a failure finishes what the first one left undone:
//! the recount and the claw-back are idempotent.

use chrono::Utc;
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::order::{Order, OrderStatus};
use strata_domain::rewards::LedgerEntry;
use strata_store::StatusChange;

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
        let before = match self
            .activity()
            .set_order_status(customer, id, status)
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
