//! The churn HTTP API under `/v1`: one axum router, served by `lambda_http`
//! in Lambda and usable as it is by the local host and the tests. Handlers
//! take everything from `ChurnApi`, so authentication can wrap the router as
//! a layer without touching them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::churn::{ChurnScore, ConversionCriteria, ConversionOutcome, RiskBand};
use strata_domain::consent::{ConsentPolicy, MissingConsent, Use};
use strata_domain::customer::{Customer, Purpose};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Cursor, Table};
use strata_lambda_kit::Problem;
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::cold::ColdTier;
use strata_store::repo::churn::INDEXED_BANDS;
use strata_store::{ActivityRepository, ChurnRepository, CustomerRepository, StoreError};

use crate::model::{ChurnModel, ModelError};
use crate::scoring;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// What the handlers use; built once per cold start.
pub struct ChurnApi {
    pub customers: CustomerRepository,
    pub activity: ActivityRepository,
    pub churn: ChurnRepository,
    pub model: Arc<ChurnModel>,
    /// The instant "now" is; tests pin it.
    pub clock: fn() -> DateTime<Utc>,
    /// Whether scores need a profiling grant or only no withdrawal.
    pub consent: ConsentPolicy,
}

impl ChurnApi {
    pub fn new(table: Arc<dyn Table>, model: Arc<ChurnModel>) -> Self {
        ChurnApi {
            customers: CustomerRepository::pseudonymous(table.clone()),
            activity: ActivityRepository::new(table.clone()),
            churn: ChurnRepository::new(table),
            model,
            clock: Utc::now,
            consent: ConsentPolicy::default(),
        }
    }

    /// Reads histories through the cold tier too: a tiered customer's
    /// score is computed from their whole history, as the batch does.
    pub fn with_cold_tier(mut self, cold: ColdTier) -> Self {
        self.activity = self.activity.with_cold_tier(cold);
        self
    }
}

pub fn router(api: Arc<ChurnApi>) -> Router {
    Router::new()
        .route("/v1/customers/{id}/churn", get(customer_churn))
        .route("/v1/customers/{id}/conversion", get(customer_conversion))
        .route("/v1/churn/early-warning", get(early_warning))
        .route("/v1/churn/monthly", get(monthly))
        .route("/v1/churn/model", get(model_card))
        .route(
            "/v1/conversion/criteria",
            get(get_criteria).put(put_criteria),
        )
        .with_state(api)
}

type Answer<T> = Result<T, Problem>;

fn store_problem(error: StoreError) -> Problem {
    if let StoreError::Restoring { ready_by, objects } = &error {
        // Part of the history is in an archive class; a restore was asked for.
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "history-restoring",
            "Part of the customer's history is being restored from the archive",
        )
        .detail(format!(
            "{objects} archived objects are being restored; ask again after {ready_by}"
        ));
    }
    if !error.is_retryable() {
        tracing::error!(%error, "storage failed");
    }
    Problem::from(&error)
}

fn model_problem(error: ModelError) -> Problem {
    tracing::error!(%error, "scoring failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong on our side",
    )
}

fn bad_request(field: &str, detail: &str) -> Problem {
    Problem::from(strata_domain::Invalid::from(
        strata_domain::FieldError::new(field, "invalid", detail),
    ))
}

fn not_found(what: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource").detail(what.to_owned())
}

fn customer_id(raw: &str) -> Answer<CustomerId> {
    CustomerId::parse("id", raw).map_err(|e| Problem::from(strata_domain::Invalid::from(e)))
}

async fn customer_churn(
    State(api): State<Arc<ChurnApi>>,
    Path(id): Path<String>,
) -> Answer<Json<ChurnScore>> {
    online_score(&api, customer_id(&id)?).await.map(Json)
}

/// 409 naming the purpose whose consent is missing.
pub fn no_consent(missing: &MissingConsent) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "no-consent",
        "The customer's consent does not allow this",
    )
    .detail(format!(
        "{missing}; consent to {} is needed",
        missing.purpose().name()
    ))
}

/// Scores and ratings are profiling: refused when the customer withdrew it.
fn may_profile(api: &ChurnApi, customer: &Customer) -> Answer<()> {
    customer
        .permits(Use::Profiling, api.consent)
        .map_err(|missing| no_consent(&missing))
}

/// A fresh score, computed now from the stored history.
pub async fn online_score(api: &ChurnApi, id: CustomerId) -> Answer<ChurnScore> {
    let customer = api
        .customers
        .get(id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_found(&format!("customer {id}")))?;
    may_profile(api, &customer)?;
    let history = api.activity.history(id).await.map_err(store_problem)?;
    let now = (api.clock)();
    let Some(features) = scoring::view(&history).features(now) else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-formal",
            "The customer has not bought yet",
        )
        .detail("churn is scored for formal customers; see /conversion for intent customers"));
    };
    let mut scores = scoring::score(&api.model, &[(id, features)], now).map_err(model_problem)?;
    let mut score = scores
        .pop()
        .ok_or_else(|| model_problem(ModelError::Inference("no score returned".into())))?;
    score.contactable = customer.permits(Use::Marketing, api.consent).is_ok();
    Ok(score)
}

#[derive(Debug, Deserialize)]
struct WarningQuery {
    limit: Option<u32>,
    band: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct ScoreList {
    band: &'static str,
    items: Vec<ChurnScore>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The early-warning list: active customers likely to churn, riskiest first,
/// as of the last batch run.
async fn early_warning(
    State(api): State<Arc<ChurnApi>>,
    Query(query): Query<WarningQuery>,
) -> Answer<Json<ScoreList>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_request("limit", &format!("must be 1 to {MAX_LIMIT}")));
    }
    let band = match query.band.as_deref() {
        None => RiskBand::High,
        Some(name) => RiskBand::from_name(name)
            .filter(|b| INDEXED_BANDS.contains(b))
            .ok_or_else(|| bad_request("band", "must be high or medium"))?,
    };
    let start = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut page = api
        .churn
        .by_risk(band, start, limit)
        .await
        .map_err(store_problem)?;
    mark_contactable(&api, &mut page.scores).await?;
    Ok(Json(ScoreList {
        band: band.name(),
        items: page.scores,
        next: page.next.as_ref().map(encode_cursor),
    }))
}

/// Whether each listed customer may be contacted, from their consent now
/// (one batch read per page), so a marketing withdrawal since the last
/// batch run shows at once.
async fn mark_contactable(api: &ChurnApi, scores: &mut [ChurnScore]) -> Answer<()> {
    let ids: Vec<CustomerId> = scores.iter().map(|s| s.customer_id).collect();
    let profiles = api.customers.get_many(&ids).await.map_err(store_problem)?;
    for score in scores {
        if let Some(profile) = profiles.get(&score.customer_id) {
            score.contactable = profile.permits(Use::Marketing, api.consent).is_ok();
        }
    }
    Ok(())
}

fn encode_cursor(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

fn decode_cursor(raw: &str) -> Answer<Cursor> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| bad_request("cursor", "is not a cursor this API gave out"))
}

#[derive(Debug, Deserialize)]
struct MonthQuery {
    from: Option<String>,
    to: Option<String>,
}

fn month(field: &str, raw: &str) -> Answer<String> {
    NaiveDate::parse_from_str(&format!("{raw}-01"), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m").to_string())
        .map_err(|_| bad_request(field, "must be a month, YYYY-MM"))
}

/// Churned, converted and reactivated customers per month, as counted by
/// the last batch run.
async fn monthly(
    State(api): State<Arc<ChurnApi>>,
    Query(query): Query<MonthQuery>,
) -> Answer<Response> {
    let from = month("from", query.from.as_deref().unwrap_or("0000-01"))?;
    let to = month("to", query.to.as_deref().unwrap_or("9999-12"))?;
    if from > to {
        return Err(bad_request("to", "must not be before from"));
    }
    let months = api.churn.monthly(&from, &to).await.map_err(store_problem)?;
    Ok(Json(serde_json::json!({
        "horizon_days": api.model.card().label.horizon_days,
        "months": months,
    }))
    .into_response())
}

async fn model_card(State(api): State<Arc<ChurnApi>>) -> Json<strata_domain::churn::ModelCard> {
    Json(api.model.card().clone())
}

async fn get_criteria(State(api): State<Arc<ChurnApi>>) -> Answer<Response> {
    let stored = api
        .churn
        .conversion_criteria()
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_found("no conversion criteria are set"))?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

/// Replaces the criteria. With `If-Match: "<revision>"` the change applies
/// only to that revision; without, to the revision read just before.
async fn put_criteria(
    State(api): State<Arc<ChurnApi>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer<Response> {
    let criteria: ConversionCriteria = serde_json::from_slice(&body).map_err(|e| {
        let message = e.to_string();
        match strata_lambda_kit::problem::unknown_field(&message) {
            // Revision and timestamps are the server's: refused by name.
            Some(name) => Problem::from(strata_domain::Invalid::from(
                strata_domain::FieldError::new(name, "unknown_field", message.clone()),
            )),
            None => bad_request("body", &format!("is not conversion criteria: {e}")),
        }
    })?;
    criteria.validate().map_err(Problem::from)?;
    let expected = match if_match(&headers)? {
        Some(revision) => Some(revision),
        None => api
            .churn
            .conversion_criteria()
            .await
            .map_err(store_problem)?
            .map(|s| s.revision),
    };
    let stored = api
        .churn
        .put_conversion_criteria(criteria, expected, (api.clock)())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "The criteria were changed meanwhile",
            )
            .detail("read them again and send the new ETag in If-Match"),
            other => store_problem(other),
        })?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

#[derive(Debug, Serialize)]
struct Conversion {
    customer_id: CustomerId,
    #[serde(flatten)]
    outcome: ConversionOutcome,
    criteria_revision: u64,
    as_of: DateTime<Utc>,
}

/// An intent customer's conversion likelihood under the stored criteria.
async fn customer_conversion(
    State(api): State<Arc<ChurnApi>>,
    Path(id): Path<String>,
) -> Answer<Json<Conversion>> {
    let id = customer_id(&id)?;
    let customer = api
        .customers
        .get(id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_found(&format!("customer {id}")))?;
    may_profile(&api, &customer)?;
    let history = api.activity.history(id).await.map_err(store_problem)?;
    let now = (api.clock)();
    if scoring::view(&history).is_formal_at(now) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "already-converted",
            "The customer has already bought",
        )
        .detail("see /churn for formal customers"));
    }
    if history.interactions.is_empty() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-intent",
            "The customer has shown no intent yet",
        )
        .detail("conversion is rated for customers with interactions and no purchase"));
    }
    let stored = api
        .churn
        .conversion_criteria()
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::CONFLICT,
                "no-criteria",
                "No conversion criteria are set",
            )
            .detail("PUT /v1/conversion/criteria first")
        })?;
    let outcome = stored.criteria.evaluate(
        &history.interactions,
        customer.has_consent(Purpose::Marketing),
        now,
    );
    Ok(Json(Conversion {
        customer_id: id,
        outcome,
        criteria_revision: stored.revision,
        as_of: now,
    }))
}
