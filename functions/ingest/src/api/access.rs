//! Access administration: which salesperson a customer is assigned to
//! (admins and ops set it; sales staff then reach that customer and list
//! their customers), and the audit log of customer-data access (admins read
//! it). Who may call these
//! is decided by the guard in front of the router (`strata_auth`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use strata_domain::Invalid;
use strata_domain::access::Principal;
use strata_domain::ids::SalespersonId;
use strata_lambda_kit::Problem;
use strata_store::Assignment;

use super::json::ApiJson;
use super::{ApiState, customer_exists, customer_id, not_found};

pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
pub const MAX_AUDIT_LIMIT: u32 = 1000;
pub const DEFAULT_ASSIGNED_LIMIT: u32 = 50;
pub const MAX_ASSIGNED_LIMIT: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    salesperson: String,
}

pub(super) use strata_lambda_kit::paging::{cursor_in, cursor_out, invalid, page_limit};

pub(super) async fn assign(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignmentBody>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let salesperson = SalespersonId::parse("salesperson", &body.salesperson)
        .map_err(|e| Problem::from(Invalid::from(e)))?;
    if !customer_exists(&state, id).await? {
        return Err(not_found("customer"));
    }
    let assignment = Assignment {
        customer_id: id,
        salesperson,
        assigned_at: Utc::now(),
        assigned_by: principal
            .map(|Extension(p)| p.subject)
            .unwrap_or_else(|| "unauthenticated".into()),
    };
    state
        .assignments
        .assign(&assignment)
        .await
        .map_err(|e| Problem::from(&e))?;
    Ok(Json(assignment).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    customer: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn instant(
    field: &str,
    raw: Option<&str>,
    default: DateTime<Utc>,
) -> Result<DateTime<Utc>, Problem> {
    match raw {
        None => Ok(default),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .filter(|t| (DateTime::<Utc>::UNIX_EPOCH..=far_future()).contains(t))
            .ok_or_else(|| {
                invalid(
                    field,
                    "must be an RFC 3339 time from 1970 to 9999, e.g. 2026-11-22T10:00:00Z",
                )
            }),
    }
}

fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH) // 9999-12-31T23:59:59Z
}

/// One customer's audit entries, oldest first, paged.
pub(super) async fn audit_log(
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, Problem> {
    let raw = query.customer.as_deref().ok_or_else(|| {
        invalid(
            "customer",
            "is required: the customer id whose entries to list",
        )
    })?;
    let customer = strata_domain::ids::CustomerId::parse("customer", raw)
        .map_err(|e| Problem::from(Invalid::from(e)))?;
    // Defaults inside four-digit years, where times sort as strings.
    let from = instant("from", query.from.as_deref(), DateTime::<Utc>::UNIX_EPOCH)?;
    let to = instant("to", query.to.as_deref(), far_future())?;
    if from > to {
        return Err(invalid("to", "must not be before from"));
    }
    let limit = page_limit(query.limit, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT)?;
    let start = cursor_in(query.cursor.as_deref())?;
    let page = state
        .audit
        .of(customer, from, to, start, limit)
        .await
        .map_err(|e| Problem::from(&e))?;
    let next = page.next.as_ref().map(cursor_out);
    Ok(
        Json(json!({ "customer_id": customer, "entries": page.entries, "next": next }))
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct AssignedQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The customers assigned to a salesperson, most recently assigned first,
/// with each one's tier (one batch read of the page's profiles, without
/// their personal fields).
pub(super) async fn assigned_customers(
    State(state): State<ApiState>,
    Path(salesperson): Path<String>,
    Query(query): Query<AssignedQuery>,
) -> Result<Response, Problem> {
    let salesperson = SalespersonId::parse("salesperson", &salesperson)
        .map_err(|e| Problem::from(Invalid::from(e)))?;
    let limit = page_limit(query.limit, DEFAULT_ASSIGNED_LIMIT, MAX_ASSIGNED_LIMIT)?;
    let start = cursor_in(query.cursor.as_deref())?;
    let page = state
        .assignments
        .assigned_to(&salesperson, start, limit)
        .await
        .map_err(|e| Problem::from(&e))?;
    let ids: Vec<_> = page.assignments.iter().map(|a| a.customer_id).collect();
    let profiles = state
        .profiles
        .get_many(&ids)
        .await
        .map_err(|e| Problem::from(&e))?;
    let customers: Vec<_> = page
        .assignments
        .iter()
        .map(|a| {
            json!({
                "customer_id": a.customer_id,
                "assigned_at": a.assigned_at,
                "assigned_by": a.assigned_by,
                "tier": profiles.get(&a.customer_id).and_then(|p| p.tier),
            })
        })
        .collect();
    let next = page.next.as_ref().map(cursor_out);
    Ok(
        Json(json!({ "salesperson": salesperson, "customers": customers, "next": next }))
            .into_response(),
    )
}
