//! The engage HTTP API under `/v1`: one axum router, served by
//! `lambda_http` in Lambda (`engage-api`) and merged into the local host.
//! Admins keep the sales team and the segment list; admins and ops read
//! them, the segments' sizes and members, and preview a draft list; admins
//! set a marketing strategy per segment. Who may
//! call what is the guard's (`strata_auth`), in front of the router.

mod segments;
mod strategies;
mod team;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use strata_domain::FieldError;
use strata_domain::ports::table::Table;
use strata_lambda_kit::Problem;
use strata_store::{
    CouponRepository, CustomerRepository, SalesTeam, SegmentRepository, StoreError,
    StrategyRepository,
};

use crate::segmenter::{SegmentSettings, Segmenter};

/// Largest request body: a segment list with its rules.
const BODY_LIMIT: usize = 256 * 1024;

/// What the handlers use; built once per cold start.
pub struct EngageApi {
    pub team: SalesTeam,
    pub segments: SegmentRepository,
    pub strategies: StrategyRepository,
    /// Coupon templates a strategy offers.
    pub coupons: CouponRepository,
    pub segmenter: Segmenter,
    /// Profiles without personal fields: segment members.
    pub profiles: CustomerRepository,
    pub settings: SegmentSettings,
    /// The instant "now" is; tests pin it.
    pub clock: fn() -> DateTime<Utc>,
}

impl EngageApi {
    /// Holds no customer keys: profiles are read without personal fields.
    pub fn new(table: Arc<dyn Table>, settings: SegmentSettings) -> Self {
        EngageApi {
            team: SalesTeam::new(table.clone()),
            segments: SegmentRepository::new(table.clone()),
            strategies: StrategyRepository::new(table.clone()),
            coupons: CouponRepository::new(table.clone()),
            segmenter: Segmenter::new(table.clone()),
            profiles: CustomerRepository::pseudonymous(table),
            settings,
            clock: Utc::now,
        }
    }
}

pub fn router(api: Arc<EngageApi>) -> Router {
    Router::new()
        .route("/v1/salespeople", get(team::people))
        .route(
            "/v1/salespeople/{salesperson}",
            get(team::person).put(team::put_person),
        )
        .route("/v1/teams", get(team::teams))
        .route("/v1/teams/{team}", get(team::team).put(team::put_team))
        .route("/v1/segments", get(segments::overview))
        .route(
            "/v1/segments/definition",
            get(segments::definition).put(segments::put_definition),
        )
        .route("/v1/segments/preview", post(segments::preview))
        .route("/v1/segments/{segment}/customers", get(segments::customers))
        .route("/v1/strategies", get(strategies::all))
        .route(
            "/v1/strategies/{segment}",
            get(strategies::one).put(strategies::put),
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
