//! `PUT /v1/customers/{id}/orders/{order}/status`: an order shipped,
//! refunded or cancelled after it was recorded.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use strata_domain::ids::OrderId;
use strata_domain::order::OrderStatus;
use strata_domain::{FieldError, Invalid};
use strata_lambda_kit::Problem;

use super::json::ApiJson;
use super::{ApiState, customer_id, failure, not_found};
use crate::orders::StatusOutcome;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    status: OrderStatus,
}

pub(super) async fn set_status(
    State(state): State<ApiState>,
    Path((id, order)): Path<(String, String)>,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Response, Problem> {
    let customer = customer_id(&id)?;
    let order = OrderId::parse("order", &order).map_err(|e| Problem::from(Invalid::from(e)))?;
    match state
        .ingestor
        .change_order_status(customer, &order, body.status)
        .await
        .map_err(failure)?
    {
        StatusOutcome::NotFound => Err(not_found("order of this customer")),
        StatusOutcome::Refused { order } => Err(Problem::from(Invalid::from(FieldError::new(
            "status",
            "invalid_transition",
            format!(
                "a {} order cannot become {}",
                order.status.name(),
                body.status.name()
            ),
        )))),
        StatusOutcome::Changed {
            order,
            previous,
            clawback,
        } => Ok((
            StatusCode::OK,
            Json(json!({
                "customer_id": customer,
                "order_id": order.id,
                "status": order.status,
                "previous_status": previous,
                "points_clawed_back": clawback.as_ref().map(|c| -c.points),
                "points_unrecovered": clawback.as_ref().and_then(|c| c.unrecovered),
            })),
        )
            .into_response()),
    }
}
