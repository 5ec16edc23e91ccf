//! The rewards HTTP API under `/v1`: one axum router, served by
//! `lambda_http` in Lambda (`value-api`) and merged into the local host.
//! Admins set the rewards policy and coupon templates; ops issue coupons
//! and adjust points; customers read their balance, ledger, coupons and
//! referral code, spend points, redeem coupons and enter a referral code;
//! sales staff read their customers'. Who may call what is the guard's
//! (`strata_auth`), in front of the router.

mod coupons;
mod points;
mod referrals;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use strata_domain::FieldError;
use strata_domain::customer::{Customer, Tier};
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::ports::table::Table;
use strata_domain::rewards::RewardsPolicy;
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::parse;
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::{CustomerRepository, Rewards, StoreError};

/// Largest request body: every body here is a few fields.
const BODY_LIMIT: usize = 64 * 1024;

/// What the handlers use; built once per cold start.
pub struct RewardsApi {
    pub rewards: Rewards,
    /// Profiles without personal fields: existence and tier.
    pub profiles: CustomerRepository,
    /// The instant "now" is; tests pin it.
    pub clock: fn() -> DateTime<Utc>,
}

impl RewardsApi {
    pub fn new(table: Arc<dyn Table>, currency: Currency) -> Self {
        RewardsApi {
            rewards: Rewards::new(table.clone(), currency),
            profiles: CustomerRepository::pseudonymous(table),
            clock: Utc::now,
        }
    }
}

type Api = State<Arc<RewardsApi>>;

pub fn router(api: Arc<RewardsApi>) -> Router {
    Router::new()
        .route("/v1/rewards/policy", get(get_policy).put(put_policy))
        .route("/v1/coupons/templates", get(coupons::templates))
        .route(
            "/v1/coupons/templates/{template}",
            get(coupons::template).put(coupons::put_template),
        )
        .route("/v1/coupons/issues", post(coupons::start_issue))
        .route("/v1/coupons/issues/{issue}", get(coupons::issue))
        .route("/v1/customers/{id}/points", get(points::ledger))
        .route(
            "/v1/customers/{id}/points/redemptions",
            post(points::redeem),
        )
        .route(
            "/v1/customers/{id}/points/adjustments",
            post(points::adjust),
        )
        .route(
            "/v1/customers/{id}/coupons",
            get(coupons::of_customer).post(coupons::issue_one),
        )
        .route(
            "/v1/customers/{id}/coupons/{code}/redemptions",
            post(coupons::redeem),
        )
        .route(
            "/v1/customers/{id}/referral",
            get(referrals::get).put(referrals::link),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api)
}

fn store(error: StoreError) -> Problem {
    Problem::from(&error)
}

fn field(error: FieldError) -> Problem {
    Problem::from(strata_domain::Invalid::from(error))
}

/// The customer the path names, read without personal fields; 404 if none.
async fn customer(api: &RewardsApi, raw: &str) -> Result<Customer, Problem> {
    let id = CustomerId::parse("id", raw).map_err(field)?;
    api.profiles
        .get(id)
        .await
        .map_err(store)?
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "not-found", "No such customer"))
}

fn tier_named(field_name: &str, raw: &str) -> Result<Tier, Problem> {
    Tier::parse(field_name, raw).map_err(field)
}

/// The policy in force (revision 0: the built-in default).
async fn get_policy(State(api): Api) -> Result<Response, Problem> {
    let stored = api.rewards.policies.policy().await.map_err(store)?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

/// Replaces the policy, under its revision (`If-Match`, or the one read
/// just before). Every coupon template a tier grants must exist.
async fn put_policy(
    State(api): Api,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let policy: RewardsPolicy = parse(&body)?;
    policy.validate().map_err(Problem::from)?;
    let mut missing = Vec::new();
    for (tier, benefits) in &policy.tiers {
        for (i, template) in benefits.coupons.iter().enumerate() {
            if api
                .rewards
                .coupons
                .template(template)
                .await
                .map_err(store)?
                .is_none()
            {
                missing.push(FieldError::new(
                    format!("tiers.{}.coupons[{i}]", tier.name()),
                    "unknown_template",
                    format!("no coupon template is called {template}"),
                ));
            }
        }
    }
    if !missing.is_empty() {
        return Err(Problem::from(strata_domain::Invalid { errors: missing }));
    }
    let expected = match if_match(&headers)? {
        Some(revision) => revision,
        None => api.rewards.policies.policy().await.map_err(store)?.revision,
    };
    let stored = api
        .rewards
        .policies
        .put_policy(policy, expected, (api.clock)())
        .await
        .map_err(stale)?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

fn stale(error: StoreError) -> Problem {
    match error {
        StoreError::Conflict { what } => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "stale-revision",
            "The record was changed meanwhile",
        )
        .detail(format!(
            "{what}: read it again and send the new ETag in If-Match"
        )),
        other => store(other),
    }
}
