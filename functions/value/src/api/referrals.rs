//! Referral codes: each customer's own, and the code of whoever referred
//! them, entered once before their first purchase. The referrer earns when
//! that first purchase lands (`Rewards::earn`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use strata_domain::FieldError;
use strata_domain::rewards::ledger::EntryKind;
use strata_domain::rewards::referral::{self, ReferralRefusal};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::ApiJson;
use strata_store::{ReferralLink, Resolved};

use super::{Api, customer, field, store};

/// The customer's code (registered on first read), who referred them, and
/// how many referral credits they earned.
pub(super) async fn get(State(api): Api, Path(id): Path<String>) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let referrals = &api.rewards.referrals;
    let code = referrals.code_of(customer.id).await.map_err(store)?;
    let link = referrals.link_of(customer.id).await.map_err(store)?;
    let entries = api
        .rewards
        .ledger
        .entries(customer.id)
        .await
        .map_err(store)?;
    let credits = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Referral)
        .count();
    Ok(Json(json!({
        "customer_id": customer.id,
        "code": code,
        "referred_by": link,
        "referral_credits": credits,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkBody {
    code: String,
}

fn refusal(reason: ReferralRefusal) -> Problem {
    field(FieldError::new("code", reason.code(), reason.to_string()))
}

/// Links the customer to the owner of a referral code: once, before their
/// first purchase; never to themself, to someone they referred (directly
/// or down the chain), or to an erased customer's code.
pub(super) async fn link(
    State(api): Api,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let code = body.code.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(field(FieldError::new(
            "code",
            "invalid",
            "a referral code is letters and digits",
        )));
    }
    let referrals = &api.rewards.referrals;
    let referrer = match referrals.resolve(&code).await.map_err(store)? {
        Resolved::Customer(id) => id,
        Resolved::Erased => return Err(refusal(ReferralRefusal::ErasedReferrer)),
        Resolved::Unknown => return Err(refusal(ReferralRefusal::UnknownCode)),
    };
    // The code's owner may have been erased after it was read above.
    if api.profiles.get(referrer).await.map_err(store)?.is_none() {
        return Err(refusal(ReferralRefusal::ErasedReferrer));
    }
    let linked = referrals.link_of(customer.id).await.map_err(store)?;
    let chain = referrals.chain(referrer).await.map_err(store)?;
    referral::check(
        customer.id,
        customer.activity.purchases,
        linked.as_ref().map(|l| l.referrer),
        referrer,
        &chain,
    )
    .map_err(refusal)?;
    if let Some(existing) = linked {
        return Ok((StatusCode::OK, Json(existing)).into_response());
    }
    let link = ReferralLink {
        referrer,
        code,
        linked_at: (api.clock)(),
        rewarded_at: None,
    };
    match referrals.link(customer.id, &link).await.map_err(store)? {
        None => Ok((StatusCode::CREATED, Json(link)).into_response()),
        Some(existing) if existing.referrer == referrer => {
            Ok((StatusCode::OK, Json(existing)).into_response())
        }
        Some(_) => Err(refusal(ReferralRefusal::AlreadyReferred)),
    }
}
