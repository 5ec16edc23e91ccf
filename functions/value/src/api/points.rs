//! A customer's points: balance and ledger, spending, and staff adjustments.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use strata_domain::rewards::{self, ledger};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::ApiJson;
use strata_lambda_kit::paging::{cursor_in, cursor_out, page_limit};
use strata_store::Posted;

use super::{Api, customer, field, store};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The balance, when the next points expire, and a page of the ledger
/// (newest first).
pub(super) async fn ledger(
    State(api): Api,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let start = cursor_in(query.cursor.as_deref())?;
    let rewards = &api.rewards;
    let balance = rewards.ledger.balance(customer.id).await.map_err(store)?;
    let page = rewards
        .ledger
        .page(customer.id, start, limit)
        .await
        .map_err(store)?;
    let now = (api.clock)();
    let entries = rewards.ledger.entries(customer.id).await.map_err(store)?;
    let next_expiry = ledger::lots(&entries)
        .into_iter()
        .filter(|lot| lot.remaining > 0 && lot.expires_at.is_some_and(|at| at > now))
        .min_by_key(|lot| lot.expires_at)
        .map(|lot| json!({ "points": lot.remaining, "at": lot.expires_at }));
    let expired_unposted: i64 = ledger::due_expiries(&entries, now)
        .iter()
        .map(|lot| lot.remaining)
        .sum();
    Ok(Json(json!({
        "customer_id": customer.id,
        "balance": balance.balance - expired_unposted,
        "earned": balance.earned,
        "debited": balance.debited,
        "expired_not_yet_posted": expired_unposted,
        "next_expiry": next_expiry,
        "entries": page.entries,
        "next": page.next.as_ref().map(cursor_out),
    }))
    .into_response())
}

/// A whole number of points from a JSON body, naming `points` if not.
fn points_of(raw: &Value, signed: bool) -> Result<i64, Problem> {
    let points = match raw {
        Value::Null => return Err(field(strata_domain::FieldError::required("points"))),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| field(rewards::not_whole_points("points")))?,
        _ => return Err(field(rewards::not_whole_points("points"))),
    };
    if signed && points < 0 {
        return rewards::check_points("points", -points)
            .map(|p| -p)
            .map_err(field);
    }
    rewards::check_points("points", points).map_err(field)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeemBody {
    #[serde(default)]
    points: Value,
    reference: String,
}

/// Spends points for a reference (a checkout): once per reference; never
/// more than the balance, even with redemptions racing each other.
pub(super) async fn redeem(
    State(api): Api,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RedeemBody>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let points = points_of(&body.points, false)?;
    let reference = rewards::check_reference("reference", &body.reference).map_err(field)?;
    let (posted, entry) = api
        .rewards
        .redeem_points(customer.id, points, &reference, (api.clock)())
        .await
        .map_err(store)?;
    posted_response(&api, customer.id, posted, entry).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdjustBody {
    #[serde(default)]
    points: Value,
    reference: String,
    #[serde(default)]
    note: Option<String>,
}

/// Points given (positive) or taken (negative) by staff, once per reference.
pub(super) async fn adjust(
    State(api): Api,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AdjustBody>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let points = points_of(&body.points, true)?;
    let reference = rewards::check_reference("reference", &body.reference).map_err(field)?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(field(strata_domain::FieldError::new(
            "note",
            "too_long",
            "at most 500 characters",
        )));
    }
    let policy = api.rewards.policies.policy().await.map_err(store)?.policy;
    let (posted, entry) = api
        .rewards
        .adjust(
            &policy,
            customer.id,
            points,
            &reference,
            body.note,
            (api.clock)(),
        )
        .await
        .map_err(store)?;
    posted_response(&api, customer.id, posted, entry).await
}

async fn posted_response(
    api: &super::RewardsApi,
    customer: strata_domain::ids::CustomerId,
    posted: Posted,
    entry: rewards::LedgerEntry,
) -> Result<Response, Problem> {
    let balance = api.rewards.ledger.balance(customer).await.map_err(store)?;
    let (status, entry) = match posted {
        Posted::Recorded => (StatusCode::CREATED, Some(entry)),
        // The reference was used before: that entry stands.
        Posted::AlreadyRecorded => (StatusCode::OK, None),
    };
    Ok((
        status,
        Json(json!({
            "customer_id": customer,
            "recorded": entry.is_some(),
            "entry": entry,
            "balance": balance.balance,
        })),
    )
        .into_response())
}
