//! What the recommendation functions build once per cold start from the
//! deployment (`strata_aws::Deployment`), and the scheduled event's handler.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::Router;
use chrono::Utc;
use strata_auth::{Authenticator, Guard};
use strata_aws::Deployment;
use strata_domain::ports::table::Table;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::cold::{ColdTier, JOB_CACHE_BYTES};

use crate::api::{RecommendApi, router};
use crate::job::{self, JobError, JobReport, JobSettings};

/// The recommendation functions' own settings (the table and cold bucket
/// are the deployment's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub job: JobSettings,
    /// How long audit entries are kept (`STRATA_AUDIT_RETENTION_DAYS`).
    pub audit_retention: chrono::Duration,
}

impl Settings {
    /// Optional `STRATA_CONSENT_POLICY`, `STRATA_RECOMMEND_SEGMENTS`,
    /// `STRATA_RECOMMEND_JUST_BOUGHT_DAYS`, `STRATA_RECOMMEND_HALF_LIFE_DAYS`,
    /// `STRATA_AUDIT_RETENTION_DAYS`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        let defaults = JobSettings::default();
        Settings {
            job: JobSettings {
                segments: env.parsed_or("STRATA_RECOMMEND_SEGMENTS", defaults.segments),
                consent: env.parsed_or("STRATA_CONSENT_POLICY", defaults.consent),
                model: strata_domain::recommend::ModelSettings {
                    just_bought_days: env.parsed_or(
                        "STRATA_RECOMMEND_JUST_BOUGHT_DAYS",
                        defaults.model.just_bought_days,
                    ),
                    half_life_days: env.parsed_or(
                        "STRATA_RECOMMEND_HALF_LIFE_DAYS",
                        defaults.model.half_life_days,
                    ),
                    ..defaults.model.clone()
                },
                ..defaults
            },
            audit_retention: strata_auth::audit_retention(env),
        }
    }
}

/// The recommendation HTTP API (`recommend-api`): reads the precomputed
/// lists; API Gateway's JWT authorizer verified the token, the guard reads
/// its claims.
pub fn api(deployment: &Deployment, settings: Settings) -> Router {
    let table = deployment.table();
    let guard = Guard::new(
        Authenticator::Gateway,
        table.clone(),
        settings.audit_retention,
    );
    let api = RecommendApi {
        consent: settings.job.consent,
        ..RecommendApi::new(table)
    };
    guard.protect(router(Arc::new(api)))
}

/// The scheduled precompute (`recommend-job`).
pub struct PrecomputeFunction {
    table: Arc<dyn Table>,
    cold: ColdTier,
    settings: JobSettings,
}

impl PrecomputeFunction {
    pub fn build(deployment: &Deployment, settings: Settings) -> Result<Self, ConfigError> {
        Ok(PrecomputeFunction {
            table: deployment.table(),
            cold: deployment.cold_tier(JOB_CACHE_BYTES)?,
            settings: settings.job,
        })
    }

    /// A failed run fails the invocation, so EventBridge retries it; every
    /// write is a replacement, so a rerun is harmless.
    pub async fn handle(&self, event: EventBridgeEvent) -> Result<JobReport, JobError> {
        on_schedule(
            self.table.clone(),
            self.cold.clone(),
            self.settings.clone(),
            event,
        )
        .await
    }
}

/// The scheduled run: precomputes as of the event's time (now if it has none).
pub async fn on_schedule(
    table: Arc<dyn Table>,
    cold: ColdTier,
    settings: JobSettings,
    event: EventBridgeEvent,
) -> Result<JobReport, JobError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let report = job::run(table, cold, settings, as_of).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "recommend");
    metrics.add("ProfilesWritten", report.profiles as f64, Unit::Count);
    metrics.add("CandidateLists", report.lists as f64, Unit::Count);
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    tracing::info!(
        customers = report.customers,
        profiles = report.profiles,
        lists = report.lists,
        products = report.products,
        "recommendation precompute done"
    );
    Ok(report)
}
