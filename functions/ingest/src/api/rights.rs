//! The data subject's rights over HTTP: an export of everything Strata holds
//! about one person (access and portability) and erasure. Who may call these
//! is decided by the guard (`strata_auth`), which also writes their audit
//! entries (actions `export` and `erase`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use strata_lambda_kit::Problem;
use strata_store::{CustomerEraser, ErasureLedger, StoreError};

use super::view::PublicCustomer;
use super::{ApiState, customer_exists, customer_id, not_found, restoring};

/// What the export document's `format` names; `FORMAT_VERSION` changes when
/// a field is removed or changes meaning (added fields keep it).
pub const FORMAT: &str = "strata.customer-export";
pub const FORMAT_VERSION: u32 = 1;

/// Erasure for the API: the eraser and the ledger it records in (read to
/// tell an erased customer from one that never existed).
#[derive(Clone)]
pub struct Erasure {
    pub eraser: CustomerEraser,
    pub ledger: ErasureLedger,
}

fn store(error: StoreError) -> Problem {
    Problem::from(&error)
}

/// Everything held about one customer as one JSON document: the profile,
/// the whole history (hot and cold), the merge log, the consent ledger, the
/// churn score, the recommendation profile, the assignment and rewards.
pub(super) async fn export(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let profile = state
        .ingestor
        .customers()
        .get(id)
        .await
        .map_err(store)?
        .ok_or_else(|| not_found("customer"))?;
    let history = match state.ingestor.activity().history(id).await {
        Ok(history) => history,
        // Part of the history is archived: a restore was asked for.
        Err(StoreError::Restoring { ready_by, objects }) => {
            return Ok(restoring(ready_by, objects));
        }
        Err(other) => return Err(store(other)),
    };
    let merges = state.ingestor.merge_log().all(id).await.map_err(store)?;
    let tier_history = state.values.history(id).await.map_err(store)?;
    let segment_history = state.segments.history(id).await.map_err(store)?;
    let consents = state
        .ingestor
        .consent_ledger()
        .of(id)
        .await
        .map_err(store)?;
    let churn_score = state.churn.score(id).await.map_err(store)?;
    let recommendation_profile = state.recommendations.profile(id).await.map_err(store)?;
    let assignment = state.assignments.of(id).await.map_err(store)?;
    let rewards = rewards_of(state.ingestor.rewards(), id).await?;
    let stage = profile.activity.stage();
    let document = json!({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": Utc::now(),
        "customer_id": id,
        "customer": PublicCustomer::from(&profile),
        "stage": stage,
        "history": {
            "orders": history.orders,
            "interactions": history.interactions,
            "reviews": history.reviews,
        },
        "merges": merges,
        "tier_history": tier_history,
        "segment_history": segment_history,
        "consents": consents,
        "churn_score": churn_score,
        "recommendation_profile": recommendation_profile,
        "assignment": assignment,
        "rewards": rewards,
    });
    let mut response = Json(document).into_response();
    // Personal data: no shared cache keeps a copy.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"strata-export-{id}.json\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// Erases a customer: recorded in the erasure ledger, then the partition
/// (profile, history, merge log, scores, assignment) and the lookups
/// deleted. Repeating it on an erased customer answers 200 again
/// (`already_erased`) and finishes anything an interrupted run left; an id
/// that was never erased nor stored is a 404.
pub(super) async fn erase(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let Some(erasure) = &state.erasure else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "erasure-unavailable",
            "Erasure is not configured for this API",
        )
        .detail("the function has no erasure ledger (STRATA_SNAPSHOT_BUCKET)".to_owned()));
    };
    let stored = customer_exists(&state, id).await?;
    let already_erased = !stored && erasure.ledger.recorded(id).await.map_err(store)?;
    if !stored && !already_erased {
        return Err(not_found("customer"));
    }
    let erased_at = Utc::now();
    let report = erasure.eraser.erase(id, erased_at).await.map_err(store)?;
    let status = if already_erased {
        "already_erased"
    } else {
        "erased"
    };
    Ok(Json(json!({
        "customer_id": report.customer_id,
        "status": status,
        "erased_at": erased_at,
        "partition_items": report.partition_items,
        "lookups": report.lookups,
    }))
    .into_response())
}

/// The customer's points (balance and whole ledger), coupons and referral:
/// their code if they ever asked for it (read only: an export registers
/// nothing) and who referred them.
async fn rewards_of(
    rewards: &strata_store::Rewards,
    id: strata_domain::ids::CustomerId,
) -> Result<serde_json::Value, Problem> {
    let balance = rewards.ledger.balance(id).await.map_err(store)?;
    let ledger = rewards.ledger.entries(id).await.map_err(store)?;
    let coupons = rewards.coupons.of_customer(id).await.map_err(store)?;
    let code = strata_store::ReferralRepository::code_for(id);
    let registered = rewards.referrals.resolve(&code).await.map_err(store)?
        == strata_store::Resolved::Customer(id);
    let referred_by = rewards.referrals.link_of(id).await.map_err(store)?;
    Ok(json!({
        "points_balance": balance.balance,
        "points_ledger": ledger,
        "coupons": coupons,
        "referral_code": registered.then_some(code),
        "referred_by": referred_by,
    }))
}
