//! What the value function builds once per cold start from the deployment
//! (`strata_aws::Deployment`), and the handler of the scheduled event.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
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
}

impl Settings {
    /// `STRATA_CURRENCY` (the shop's, as the ingest functions read it) and
    /// optional `STRATA_VALUE_SEGMENTS`.
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
        }
    }
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
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    tracing::info!(
        customers = report.customers,
        with_tier = report.with_tier,
        moved = report.moved,
        retried = report.retried,
        policy_revision = report.policy_revision,
        "value refresh done"
    );
    Ok(report)
}
