//! Value tiers: the admin's policy (`GET|PUT /v1/tiers/policy`, changed
//! under its revision with `ETag`/`If-Match`), the counts per tier, the
//! customers of one tier, the monthly ups and downs, and one customer's
//! tier history.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{NaiveDate, Utc};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use strata_domain::access::{Principal, Role};
use strata_domain::customer::Tier;
use strata_domain::value::ValuePolicy;
use strata_lambda_kit::Problem;
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::StoreError;

use super::access::{cursor_in, cursor_out, invalid, page_limit};
use super::json::parse;
use super::{ApiState, customer_exists, customer_id, not_found};

const DEFAULT_TIER_PAGE: u32 = 50;
const MAX_TIER_PAGE: u32 = 200;
/// Months one movements request may span.
const MAX_MONTHS: i32 = 120;

fn store(error: StoreError) -> Problem {
    Problem::from(&error)
}

/// The policy in force (revision 0: the built-in default, never changed).
pub(super) async fn get_policy(State(state): State<ApiState>) -> Result<Response, Problem> {
    let stored = state.values.policy().await.map_err(store)?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

/// Replaces the policy. With `If-Match: "<revision>"` the change applies only
/// to that revision; without, to the revision read just before. Customers
/// move to their new tiers as their purchases change and at the daily
/// refresh.
pub(super) async fn put_policy(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let policy: ValuePolicy = parse(&body)?;
    policy.validate().map_err(Problem::from)?;
    let expected = match if_match(&headers)? {
        Some(revision) => revision,
        None => state.values.policy().await.map_err(store)?.revision,
    };
    let stored = state
        .values
        .put_policy(policy, expected, Utc::now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "The policy was changed meanwhile",
            )
            .detail("read it again and send the new ETag in If-Match"),
            other => store(other),
        })?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

/// Customers per tier and how many are premium, counted now, and the
/// bounds in force: the policy's own, or the ones the last refresh
/// calibrated from its relative shares.
pub(super) async fn counts(State(state): State<ApiState>) -> Result<Response, Problem> {
    let (counts, in_force) =
        futures::try_join!(state.values.counts(), state.values.in_force()).map_err(store)?;
    let policy = in_force.policy;
    let calibrated = in_force
        .calibration
        .filter(|_| in_force.stored.policy.relative.is_some());
    Ok(Json(json!({
        "as_of": Utc::now(),
        "tiers": counts.tiers,
        "premium": counts.premium,
        "customers_with_a_tier": counts.customers,
        "bounds": {
            "diamond": policy.tiers.diamond,
            "platinum": policy.tiers.platinum,
            "gold": policy.tiers.gold,
            "silver": policy.tiers.silver,
            "premium_at": policy.premium_at,
            "source": if calibrated.is_some() { "relative" } else { "absolute" },
            "calibrated_as_of": calibrated.as_ref().map(|c| c.as_of),
            "calibrated_on_customers": calibrated.as_ref().map(|c| c.calibration.customers),
        },
    }))
    .into_response())
}

fn tier(raw: &str) -> Result<Tier, Problem> {
    Tier::parse("tier", raw).map_err(|e| Problem::from(strata_domain::Invalid::from(e)))
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The customers of one tier, paged, with their coefficient and components
/// (profiles read without their personal fields). Sales staff see only the
/// customers assigned to them: their assignments are paged and the page
/// keeps those in the tier, so a page may hold fewer than `limit` (or none)
/// and still have a `next`.
pub(super) async fn customers(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, Problem> {
    let tier = tier(&raw)?;
    let limit = page_limit(query.limit, DEFAULT_TIER_PAGE, MAX_TIER_PAGE)?;
    let start = cursor_in(query.cursor.as_deref())?;
    let salesperson = principal
        .filter(|p| p.role == Role::Sales)
        .map(|p| {
            p.salesperson.clone().ok_or_else(|| {
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "sales staff need a salesperson id",
                )
            })
        })
        .transpose()?;
    let (profiles, next) = match salesperson {
        None => {
            let page = state
                .profiles
                .list_by_tier(tier, start, limit)
                .await
                .map_err(store)?;
            (page.customers, page.next)
        }
        Some(salesperson) => {
            let page = state
                .assignments
                .assigned_to(&salesperson, start, limit)
                .await
                .map_err(store)?;
            let ids: Vec<_> = page.assignments.iter().map(|a| a.customer_id).collect();
            let found = state.profiles.get_many(&ids).await.map_err(store)?;
            let in_tier = ids
                .iter()
                .filter_map(|id| found.get(id))
                .filter(|c| c.tier == Some(tier))
                .cloned()
                .collect();
            (in_tier, page.next)
        }
    };
    let customers: Vec<_> = profiles
        .iter()
        .map(|c| json!({ "customer_id": c.id, "value": c.value }))
        .collect();
    let next = next.as_ref().map(cursor_out);
    Ok(Json(json!({ "tier": tier, "customers": customers, "next": next })).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct MonthQuery {
    from: Option<String>,
    to: Option<String>,
}

fn month(field: &str, raw: &str) -> Result<(i32, u32), Problem> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .map(|d| (d.year(), d.month()))
        .map_err(|_| invalid(field, "must be a month, YYYY-MM"))
}

/// Ups and downs per tier per month, from the recorded tier changes.
pub(super) async fn movements(
    State(state): State<ApiState>,
    Query(query): Query<MonthQuery>,
) -> Result<Response, Problem> {
    let (Some(from), Some(to)) = (query.from.as_deref(), query.to.as_deref()) else {
        return Err(invalid(
            if query.from.is_none() { "from" } else { "to" },
            "is required, YYYY-MM",
        ));
    };
    let (from, to) = (month("from", from)?, month("to", to)?);
    if from > to {
        return Err(invalid("to", "must not be before from"));
    }
    let span = (to.0 - from.0) * 12 + (to.1 as i32 - from.1 as i32) + 1;
    if span > MAX_MONTHS {
        return Err(invalid(
            "to",
            &format!("a request spans at most {MAX_MONTHS} months"),
        ));
    }
    let months = state.values.movements(from, to).await.map_err(store)?;
    Ok(Json(json!({ "months": months })).into_response())
}

/// One customer's tier changes, newest first.
pub(super) async fn history(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    if !customer_exists(&state, id).await? {
        return Err(not_found("customer"));
    }
    let changes = state.values.history(id).await.map_err(store)?;
    Ok(Json(json!({ "customer_id": id, "changes": changes })).into_response())
}
