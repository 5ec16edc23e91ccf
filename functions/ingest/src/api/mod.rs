//! The ingest HTTP API: one axum router, served by `lambda_http` in Lambda
//! and by the local host on a laptop.

pub mod access;
pub mod consents;
mod find;
mod idempotency;
mod orders;
pub use strata_lambda_kit::json;
pub mod rights;
mod tiers;
pub mod view;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router, middleware};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use strata_auth::AuditedCustomers;
use strata_domain::customer::{CustomerInput, Origin};
use strata_domain::ids::CustomerId;
use strata_domain::interaction::InteractionInput;
use strata_domain::order::OrderInput;
use strata_domain::ports::table::Table;
use strata_domain::review::ReviewInput;
use strata_lambda_kit::Problem;
use strata_store::{
    AssignmentRepository, AuditLog, ChurnRepository, CustomerRepository, IdempotencyStore,
    ImportRepository, RecommendRepository, SegmentRepository, StoreError, ValueRepository,
};

use crate::import::record::ImportRecord;
use crate::import::run;
use crate::ingest::{Activity, IngestError, Ingestor, Outcome, OwnerCache, Pending, Summaries};
use json::ApiJson;
use view::PublicCustomer;

/// Largest body for single-record routes.
pub const BODY_LIMIT: usize = 256 * 1024;
/// Largest body for `/v1/batch` (API Gateway allows 10 MB, Lambda 6 MB).
pub const BATCH_BODY_LIMIT: usize = 4 * 1024 * 1024;
pub const MAX_BATCH_RECORDS: usize = 500;

#[derive(Clone)]
pub struct ApiState {
    pub ingestor: Ingestor,
    pub imports: ImportRepository,
    pub idempotency: IdempotencyStore,
    pub assignments: AssignmentRepository,
    pub audit: AuditLog,
    /// Read by the export.
    pub churn: ChurnRepository,
    pub recommendations: RecommendRepository,
    /// The value policy, tier counts, movements and histories.
    pub values: ValueRepository,
    /// The customer's segment changes (the export).
    pub segments: SegmentRepository,
    /// Profiles without personal fields, where only tiers and dates are
    /// needed: no customer key is unwrapped for them.
    pub profiles: CustomerRepository,
    /// `DELETE /v1/customers/{id}` answers 503 without it.
    pub erasure: Option<rights::Erasure>,
}

impl ApiState {
    pub fn new(table: Arc<dyn Table>, ingestor: Ingestor) -> Self {
        ApiState {
            idempotency: IdempotencyStore::new(
                table.clone(),
                ingestor.privacy().clone(),
                chrono::Duration::hours(24),
            ),
            ingestor,
            profiles: CustomerRepository::pseudonymous(table.clone()),
            imports: ImportRepository::new(table.clone()),
            assignments: AssignmentRepository::new(table.clone()),
            // Only read here; the guard appends with the configured retention.
            audit: AuditLog::new(
                table.clone(),
                chrono::Duration::days(strata_auth::DEFAULT_AUDIT_RETENTION_DAYS),
            ),
            churn: ChurnRepository::new(table.clone()),
            recommendations: RecommendRepository::new(table.clone()),
            values: ValueRepository::new(table.clone()),
            segments: SegmentRepository::new(table.clone()),
            erasure: None,
        }
    }

    /// Enables erasure: the eraser and the ledger it records in.
    pub fn with_erasure(mut self, erasure: rights::Erasure) -> Self {
        self.erasure = Some(erasure);
        self
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/v1/customers",
            post(upsert_customer).get(find::find_customer),
        )
        .route(
            "/v1/customers/{id}",
            get(get_customer).delete(rights::erase),
        )
        .route("/v1/customers/{id}/export", get(rights::export))
        .route("/v1/customers/{id}/history", get(history))
        .route("/v1/customers/{id}/merges", get(merges))
        .route("/v1/customers/{id}/orders", post(add_order))
        .route(
            "/v1/customers/{id}/orders/{order}/status",
            put(orders::set_status),
        )
        .route("/v1/customers/{id}/interactions", post(add_interaction))
        .route("/v1/customers/{id}/reviews", post(add_review))
        .route("/v1/customers/{id}/assignment", put(access::assign))
        .route(
            "/v1/customers/{id}/consents",
            get(consents::ledger).post(consents::record),
        )
        .route("/v1/audit", get(access::audit_log))
        .route(
            "/v1/salespeople/{salesperson}/customers",
            get(access::assigned_customers),
        )
        .route(
            "/v1/batch",
            post(batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/v1/customers/{id}/tier-history", get(tiers::history))
        .route(
            "/v1/tiers/policy",
            get(tiers::get_policy).put(tiers::put_policy),
        )
        .route("/v1/tiers", get(tiers::counts))
        .route("/v1/tiers/movements", get(tiers::movements))
        .route("/v1/tiers/{tier}/customers", get(tiers::customers))
        .route("/v1/imports", get(list_imports))
        .route("/v1/imports/{id}", get(get_import))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::guard,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "No such route") })
        .with_state(state)
}

fn api_origin() -> Origin {
    Origin {
        source: "api".into(),
        at: Utc::now(),
    }
}

fn failure(error: IngestError) -> Problem {
    match &error {
        IngestError::Store(store) => Problem::from(store),
        IngestError::Contended(_) => Problem::new(
            StatusCode::CONFLICT,
            "contended",
            "The customer is being changed; retry shortly",
        )
        .detail(error.to_string()),
    }
}

fn customer_id(raw: &str) -> Result<CustomerId, Problem> {
    CustomerId::parse("id", raw).map_err(|e| Problem::from(strata_domain::Invalid::from(e)))
}

/// Whether the customer's profile is stored, read without its personal
/// fields (no key is unwrapped to answer).
async fn customer_exists(state: &ApiState, id: CustomerId) -> Result<bool, Problem> {
    let profile = state
        .profiles
        .get(id)
        .await
        .map_err(|e| Problem::from(&e))?;
    Ok(profile.is_some())
}

fn not_found(what: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("No such {what}"),
    )
}

#[derive(Serialize)]
struct OutcomeBody<'a> {
    status: &'a str,
    customer_id: Option<CustomerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<strata_domain::FieldError>>,
}

fn describe(outcome: &Outcome) -> OutcomeBody<'static> {
    let (status, errors) = match outcome {
        Outcome::Accepted { .. } => ("accepted", None),
        Outcome::Merged { .. } => ("merged", None),
        Outcome::Duplicate { .. } => ("duplicate", None),
        Outcome::Rejected(invalid) => ("rejected", Some(invalid.errors.clone())),
    };
    OutcomeBody {
        status,
        customer_id: outcome.customer(),
        errors,
    }
}

async fn upsert_customer(
    State(state): State<ApiState>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Response, Problem> {
    let pending = Pending {
        row: 1,
        record: ImportRecord::Customer(input),
        origin: api_origin(),
    };
    let (outcomes, _) = state
        .ingestor
        .apply(
            vec![pending],
            &mut OwnerCache::default(),
            &Summaries::Recount,
        )
        .await
        .map_err(failure)?;
    let outcome = outcomes
        .into_iter()
        .next()
        .ok_or_else(|| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no outcome"))?;
    let id = match &outcome {
        Outcome::Rejected(invalid) => return Err(Problem::from(invalid.clone())),
        other => other.customer().ok_or_else(|| not_found("customer"))?,
    };
    let profile = state
        .ingestor
        .customers()
        .get(id)
        .await
        .map_err(|e| Problem::from(&e))?
        .ok_or_else(|| not_found("customer"))?;
    let status = if matches!(outcome, Outcome::Accepted { .. }) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(json!({ "outcome": describe(&outcome).status, "customer": PublicCustomer::from(&profile), "stage": profile.activity.stage() })))
        .into_response();
    response.extensions_mut().insert(AuditedCustomers(vec![id]));
    Ok(response)
}

async fn get_customer(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let profile = state
        .ingestor
        .customers()
        .get(id)
        .await
        .map_err(|e| Problem::from(&e))?
        .ok_or_else(|| not_found("customer"))?;
    let stage = profile.activity.stage();
    Ok(
        Json(json!({ "customer": PublicCustomer::from(&profile), "stage": stage, "formal": stage.is_formal() }))
            .into_response(),
    )
}

async fn history(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    if !customer_exists(&state, id).await? {
        return Err(not_found("customer"));
    }
    let history = match state.ingestor.activity().history(id).await {
        Ok(history) => history,
        // Part of the history is archived: a restore was asked for.
        Err(StoreError::Restoring { ready_by, objects }) => {
            return Ok(restoring(ready_by, objects));
        }
        Err(other) => return Err(Problem::from(&other)),
    };
    Ok(Json(json!({ "orders": history.orders, "interactions": history.interactions, "reviews": history.reviews })).into_response())
}

/// 202 with `Retry-After`: part of a history is in an archive class and a
/// restore was asked for; the same request succeeds once it is back.
fn restoring(ready_by: DateTime<Utc>, objects: usize) -> Response {
    let retry_after = (ready_by - Utc::now()).num_seconds().max(1);
    let body = json!({ "status": "restoring", "ready_by": ready_by, "objects": objects });
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(retry_after),
    );
    response
}

async fn merges(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let entries = state
        .ingestor
        .merge_log()
        .of(id, 100)
        .await
        .map_err(|e| Problem::from(&e))?;
    Ok(Json(json!({ "merges": entries })).into_response())
}

async fn record(state: ApiState, id: String, activity: Activity) -> Result<Response, Problem> {
    let id = customer_id(&id)?;
    let outcome = state
        .ingestor
        .record_for(id, activity)
        .await
        .map_err(failure)?;
    match outcome {
        None => Err(not_found("customer")),
        Some(Outcome::Rejected(invalid)) => Err(Problem::from(invalid)),
        Some(outcome) => {
            let status = if matches!(outcome, Outcome::Accepted { .. }) {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(describe(&outcome))).into_response())
        }
    }
}

async fn add_order(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<Response, Problem> {
    record(state, id, Activity::Order(input)).await
}

async fn add_interaction(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> Result<Response, Problem> {
    record(state, id, Activity::Interaction(input)).await
}

async fn add_review(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ReviewInput>,
) -> Result<Response, Problem> {
    record(state, id, Activity::Review(input)).await
}

/// One record of a batch; `type` says which.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum BatchRecord {
    Customer {
        customer: CustomerInput,
    },
    Order {
        customer: CustomerInput,
        order: OrderInput,
    },
    Interaction {
        customer: CustomerInput,
        interaction: InteractionInput,
    },
    Review {
        customer: CustomerInput,
        review: ReviewInput,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    records: Vec<BatchRecord>,
}

async fn batch(
    State(state): State<ApiState>,
    identity: Option<Extension<idempotency::RequestIdentity>>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, Problem> {
    if body.records.is_empty() || body.records.len() > MAX_BATCH_RECORDS {
        let error = strata_domain::FieldError::new(
            "records",
            "out_of_range",
            format!("send 1 to {MAX_BATCH_RECORDS} records"),
        );
        return Err(Problem::from(strata_domain::Invalid::from(error)));
    }
    let origin = api_origin();
    let chunk: Vec<Pending> = body
        .records
        .into_iter()
        .enumerate()
        .map(|(i, record)| Pending {
            row: i as u64,
            record: match record {
                BatchRecord::Customer { customer } => ImportRecord::Customer(customer),
                BatchRecord::Order { customer, order } => ImportRecord::Order { customer, order },
                BatchRecord::Interaction {
                    customer,
                    interaction,
                } => ImportRecord::Interaction {
                    customer,
                    interaction,
                },
                BatchRecord::Review { customer, review } => {
                    ImportRecord::Review { customer, review }
                }
            },
            origin: origin.clone(),
        })
        .collect();
    // Order numbers are claimed in the request's name: under an idempotency
    // key the same name each run, so a batch retried after a failure
    // recognises its own claims and writes their orders.
    let request = match identity {
        Some(Extension(idempotency::RequestIdentity(id))) => format!("batch-{id}"),
        None => format!("batch-{}", uuid::Uuid::now_v7().simple()),
    };
    let (outcomes, _) = state
        .ingestor
        .apply_request(chunk, &mut OwnerCache::default(), &request)
        .await
        .map_err(failure)?;
    let results: Vec<serde_json::Value> = outcomes
        .iter()
        .enumerate()
        .map(|(index, outcome)| {
            let body = describe(outcome);
            json!({ "index": index, "status": body.status, "customer_id": body.customer_id, "errors": body.errors })
        })
        .collect();
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    let counts = json!({ "accepted": count("accepted"), "merged": count("merged"), "duplicate": count("duplicate"), "rejected": count("rejected") });
    let mut response = Json(json!({ "results": results, "counts": counts })).into_response();
    let touched = outcomes.iter().filter_map(Outcome::customer).collect();
    response.extensions_mut().insert(AuditedCustomers(touched));
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<u32>,
}

async fn list_imports(
    State(state): State<ApiState>,
    Query(params): Query<ListParams>,
) -> Result<Response, Problem> {
    let limit = params.limit.unwrap_or(20).clamp(1, 100);
    let (states, _) = state
        .imports
        .recent(None, limit)
        .await
        .map_err(|e| Problem::from(&e))?;
    let reports: Vec<serde_json::Value> = states.iter().map(run::report).collect();
    Ok(Json(json!({ "imports": reports })).into_response())
}

async fn get_import(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let found = state
        .imports
        .get(&id)
        .await
        .map_err(|e: StoreError| Problem::from(&e))?;
    let state = found.ok_or_else(|| not_found("import"))?;
    Ok(Json(run::report(&state)).into_response())
}
