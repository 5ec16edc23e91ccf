//! What the value functions build once per cold start from the deployment
//! (`strata_aws::Deployment`): the rewards API's router (`value-api`) and
//! the daily job (`value-job`) with the handler of its scheduled event.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::Router;
use chrono::Utc;
use strata_auth::{Authenticator, Guard};
use strata_aws::{Deployment, DeploymentError};
use strata_lambda_kit::EnvReader;
use strata_lambda_kit::config::CurrencySetting;
use strata_lambda_kit::metrics::{Metrics, Unit};

use crate::refresh::{RefreshError, RefreshReport, RefreshSettings, ValueRefresh};

/// The value function's own settings (the table and key table are the
/// deployment's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub refresh: RefreshSettings,
    /// How long audit entries are kept (`STRATA_AUDIT_RETENTION_DAYS`; the API's).
    pub audit_retention: chrono::Duration,
}

impl Settings {
    /// `STRATA_CURRENCY` (the shop's, as the ingest functions read it) and
    /// optional `STRATA_VALUE_SEGMENTS`, `STRATA_AUDIT_RETENTION_DAYS`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        let defaults = RefreshSettings::default();
        Settings {
            refresh: RefreshSettings {
                currency: env
                    .parsed_or("STRATA_CURRENCY", CurrencySetting(defaults.currency))
                    .0,
                segments: env.parsed_or("STRATA_VALUE_SEGMENTS", defaults.segments),
                ..defaults
            },
            audit_retention: strata_auth::audit_retention(env),
        }
    }
}

/// The rewards HTTP API (`value-api`): API Gateway's JWT authorizer
/// verified the token, the guard reads its claims.
pub fn api(deployment: &Deployment, settings: Settings) -> Router {
    let table = deployment.table();
    let api = crate::api::RewardsApi::new(table.clone(), settings.refresh.currency);
    let guard = Guard::new(Authenticator::Gateway, table, settings.audit_retention);
    guard.protect(crate::api::router(Arc::new(api)))
}

/// The daily value refresh (`value-job`).
pub struct ValueFunction {
    refresh: ValueRefresh,
    settings: RefreshSettings,
}

impl ValueFunction {
    /// The table and the customers' keys (the profiles that move are
    /// written whole).
    pub async fn build(
        deployment: &Deployment,
        settings: Settings,
    ) -> Result<Self, DeploymentError> {
        Ok(ValueFunction {
            refresh: ValueRefresh::new(deployment.table(), deployment.privacy().await?),
            settings: settings.refresh,
        })
    }

    pub async fn handle(&self, event: EventBridgeEvent) -> Result<RefreshReport, RefreshError> {
        on_schedule(&self.refresh, self.settings, event).await
    }
}

/// The scheduled run, as of the event's time (now if it has none).
pub async fn on_schedule(
    refresh: &ValueRefresh,
    settings: RefreshSettings,
    event: EventBridgeEvent,
) -> Result<RefreshReport, RefreshError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let report = refresh.run(settings, as_of).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "value");
    metrics.add("CustomersAssessed", report.customers as f64, Unit::Count);
    metrics.add("CustomersMoved", report.moved as f64, Unit::Count);
    metrics.add("CouponsGranted", report.coupons_granted as f64, Unit::Count);
    metrics.add("PointsExpired", report.points_expired as f64, Unit::Count);
    metrics.add("CouponsExpired", report.coupons_expired as f64, Unit::Count);
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    tracing::info!(
        customers = report.customers,
        with_tier = report.with_tier,
        moved = report.moved,
        retried = report.retried,
        policy_revision = report.policy_revision,
        coupons_granted = report.coupons_granted,
        points_expired = report.points_expired,
        coupons_expired = report.coupons_expired,
        issues_resumed = report.issues_resumed,
        "value refresh done"
    );
    Ok(report)
}
