//! A customer's consent ledger over HTTP: read the whole ledger, record one
//! decision (a grant or a withdrawal).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use serde_json::json;
use strata_domain::consent::{ConsentRecord, ConsentRequest, RECORDED_BY_API};
use strata_domain::customer::{Identity, Origin, Preferences, ValidCustomer};
use strata_lambda_kit::Problem;
use strata_store::{Appended, StoreError};

use super::json::ApiJson;
use super::{ApiState, customer_id, not_found};

/// Profile writes that lost a race are tried again this many times.
const SAVE_ATTEMPTS: usize = 4;

/// `GET /v1/customers/{id}/consents`: every decision, oldest first.
pub async fn ledger(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let profile = state
        .profiles
        .get(id)
        .await
        .map_err(|e| Problem::from(&e))?
        .ok_or_else(|| not_found("customer"))?;
    let records = state
        .ingestor
        .consent_ledger()
        .of(id)
        .await
        .map_err(|e| Problem::from(&e))?;
    Ok(Json(json!({
        "customer_id": id,
        "consents": records,
        "in_force": profile.consents,
    }))
    .into_response())
}

/// `POST /v1/customers/{id}/consents`: the decision is folded into the
/// profile's current state, then appended to the ledger. 201 when it is
/// new, 200 when the same decision was already recorded.
pub async fn record(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ConsentRequest>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let now = Utc::now();
    let decision = request
        .validate(&state.ingestor.options, now)
        .map_err(Problem::from)?;
    let origin = Origin {
        source: RECORDED_BY_API.into(),
        at: now,
    };
    let customers = state.ingestor.customers();
    let mut attempt = 0;
    let profile = loop {
        attempt += 1;
        let mut profile = customers
            .get(id)
            .await
            .map_err(|e| Problem::from(&e))?
            .ok_or_else(|| not_found("customer"))?;
        let changed = profile.merge(
            ValidCustomer {
                identity: Identity::default(),
                preferences: Preferences::default(),
                acquisition_channel: None,
                source: None,
                consents: vec![decision.clone()],
                network: None,
            },
            &origin,
        );
        if changed.is_empty() {
            break profile;
        }
        match customers.save(&profile).await {
            Ok(stored) => break stored,
            Err(StoreError::Conflict { .. }) if attempt < SAVE_ATTEMPTS => continue,
            Err(error) => return Err(Problem::from(&error)),
        }
    };
    let record = ConsentRecord::new(decision, RECORDED_BY_API, now);
    let appended = state
        .ingestor
        .consent_ledger()
        .append(id, &record)
        .await
        .map_err(|e| Problem::from(&e))?;
    let (status, outcome) = match appended {
        Appended::New => (StatusCode::CREATED, "recorded"),
        Appended::AlreadyRecorded => (StatusCode::OK, "already_recorded"),
    };
    Ok((
        status,
        Json(json!({
            "outcome": outcome,
            "customer_id": id,
            "consent": record,
            "in_force": profile.consents,
        })),
    )
        .into_response())
}
