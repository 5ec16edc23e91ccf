//! The recommendation HTTP API under `/v1`: one axum router, served by
//! `lambda_http` in Lambda and usable as it is by the local host and tests.
//!
//! `GET /v1/customers/{id}/recommendations?limit=&category=` reads the
//! customer's recommendation item (precomputed profile and the decision on
//! personalisation in force) and one candidate list — two GetItems — and
//! ranks in memory. Outcomes, all 200:
//! - `served`: items, each with the level that served it and a reason;
//! - `no_history`: the customer exists but nothing is known yet (or the
//!   precompute has not run since they arrived): an empty list;
//! - `miss`: no level had anything left for them; recorded (a `RECOMISS`
//!   item listed by day, and the `RecommendationMiss` metric);
//! - `no_consent`: the customer withdrew consent to personalisation
//!   (`strata_domain::consent`): an empty list, whatever was precomputed.
//!   Profile writes stamp the decision on the recommendation item in the
//!   same transaction, so a withdrawal stops recommendations at once.
//!
//! A customer without a recommendation item is read from their profile
//! instead (the second read): unknown → 404, else `no_consent` or
//! `no_history`.
//!
//! An unknown customer is a 404, a bad `limit` or `category` a 422, all as
//! `application/problem+json`.

use std::sync::Arc;

use strata_domain::consent::{self, ConsentPolicy, Use};
use strata_domain::customer::Consent;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::Table;
use strata_domain::recommend::{
    CategoryScope, GreyLevel, Level, Miss, Outcome, Ranking, Recommendation, Request, recommend,
};
use strata_domain::{FieldError, Invalid};
use strata_lambda_kit::Problem;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_store::{CustomerRepository, RecommendRepository, StoreError};

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 50;

/// What the handlers use; built once per cold start.
pub struct RecommendApi {
    pub recommendations: RecommendRepository,
    pub customers: CustomerRepository,
    /// The instant "now" is; tests pin it.
    pub clock: fn() -> DateTime<Utc>,
    /// Whether recommendations need a grant of personalisation or only no withdrawal.
    pub consent: ConsentPolicy,
}

impl RecommendApi {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RecommendApi {
            recommendations: RecommendRepository::new(table.clone()),
            customers: CustomerRepository::pseudonymous(table),
            clock: Utc::now,
            consent: ConsentPolicy::default(),
        }
    }
}

pub fn router(api: Arc<RecommendApi>) -> Router {
    Router::new()
        .route(
            "/v1/customers/{id}/recommendations",
            get(customer_recommendations),
        )
        .with_state(api)
}

#[derive(Debug, Deserialize)]
struct RecommendQuery {
    limit: Option<String>,
    category: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GreySummary {
    pub grade: f64,
    pub level: GreyLevel,
}

#[derive(Debug, Serialize)]
pub struct Answer {
    pub customer_id: CustomerId,
    pub outcome: Outcome,
    /// The most specific level that served an item; absent without items.
    pub served_by: Option<Level>,
    /// When the precompute that this answer rests on ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// The customer's grey relational grade and level (they steer ranking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grey: Option<GreySummary>,
    pub items: Vec<Recommendation>,
}

fn invalid(field: &str, detail: &str) -> Problem {
    Problem::from(Invalid::from(FieldError::new(field, "invalid", detail)))
}

fn store_problem(error: StoreError) -> Problem {
    if !error.is_retryable() {
        tracing::error!(%error, "storage failed");
    }
    Problem::from(&error)
}

fn parse_limit(raw: Option<&str>) -> Result<usize, Problem> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            invalid(
                "limit",
                &format!("must be a whole number from 1 to {MAX_LIMIT}"),
            )
        })
}

async fn customer_recommendations(
    State(api): State<Arc<RecommendApi>>,
    Path(id): Path<String>,
    Query(query): Query<RecommendQuery>,
) -> Result<Json<Answer>, Problem> {
    let id = CustomerId::parse("id", &id).map_err(|e| Problem::from(Invalid::from(e)))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let filter = query
        .category
        .as_deref()
        .map(|raw| CategoryScope::parse("category", raw))
        .transpose()
        .map_err(|e| Problem::from(Invalid::from(e)))?;
    let request = Request {
        limit,
        filter,
        ranking: Ranking::Full,
    };
    answer(&api, id, &request).await.map(Json)
}

/// Recommendations for one customer: at most two table reads, and a write
/// when nothing could be served.
pub async fn answer(
    api: &RecommendApi,
    id: CustomerId,
    request: &Request,
) -> Result<Answer, Problem> {
    let empty = |outcome| Answer {
        customer_id: id,
        outcome,
        served_by: None,
        as_of: None,
        grey: None,
        items: Vec::new(),
    };
    let permits = |decisions: &[Consent]| {
        consent::permits(decisions, Use::Recommendations, api.consent).is_ok()
    };
    let Some(serving) = api
        .recommendations
        .serving(id)
        .await
        .map_err(store_problem)?
    else {
        let Some(customer) = api.customers.get(id).await.map_err(store_problem)? else {
            return Err(
                Problem::new(StatusCode::NOT_FOUND, "not-found", "No such customer")
                    .detail(format!("customer {id}")),
            );
        };
        return Ok(empty(if permits(&customer.consents) {
            Outcome::NoHistory
        } else {
            Outcome::NoConsent
        }));
    };
    let decisions: Vec<Consent> = serving.personalisation.into_iter().collect();
    if !permits(&decisions) {
        return Ok(empty(Outcome::NoConsent));
    }
    let Some(profile) = serving.profile else {
        return Ok(empty(Outcome::NoHistory));
    };
    let scope = profile.primary_scope(request.filter.as_ref());
    let list = api
        .recommendations
        .list(&scope)
        .await
        .map_err(store_problem)?;
    let served = recommend(&profile, list.as_ref(), request);
    if served.outcome == Outcome::Miss {
        record_miss(
            api,
            Miss {
                customer_id: id,
                at: (api.clock)(),
                filter: request.filter.clone(),
                scope,
                excluded: profile.exclude.len(),
            },
        )
        .await;
    }
    Ok(Answer {
        customer_id: id,
        outcome: served.outcome,
        served_by: served.served_by,
        as_of: Some(profile.as_of),
        grey: Some(GreySummary {
            grade: (profile.grey.grade * 1e4).round() / 1e4,
            level: profile.grey.level,
        }),
        items: served.items,
    })
}

/// A miss is answered even if recording it fails: the record is for
/// analysis, the customer is owed an answer.
async fn record_miss(api: &RecommendApi, miss: Miss) {
    let mut metrics = Metrics::new("Strata").dimension("Function", "recommend");
    metrics.add("RecommendationMiss", 1.0, Unit::Count);
    metrics.flush();
    tracing::warn!(customer = %miss.customer_id, scope = %miss.scope, "no level could serve a recommendation");
    if let Err(error) = api.recommendations.record_miss(&miss).await {
        tracing::error!(%error, "recording a recommendation miss failed");
    }
}
