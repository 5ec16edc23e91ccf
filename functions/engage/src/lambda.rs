//! What the engage functions build once per cold start from the deployment
//! (`strata_aws::Deployment`): the API's router (`engage-api`) and the
//! nightly segment run (`engage-job`) with the handler of its scheduled
//! event.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::Router;
use chrono::Utc;
use strata_auth::{Authenticator, Guard};
use strata_aws::Deployment;
use strata_lambda_kit::EnvReader;
use strata_lambda_kit::config::CurrencySetting;
use strata_lambda_kit::metrics::{Metrics, Unit};

use crate::api::EngageApi;
use crate::segmenter::{SegmentError, SegmentReport, SegmentSettings, Segmenter};

/// The engage functions' own settings (the table and key table are the
/// deployment's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub segments: SegmentSettings,
    /// How long audit entries are kept (`STRATA_AUDIT_RETENTION_DAYS`; the API's).
    pub audit_retention: chrono::Duration,
}

impl Settings {
    /// `STRATA_CURRENCY`, `STRATA_CONSENT_POLICY` (as the other functions
    /// read them) and optional `STRATA_ENGAGE_SEGMENTS` (parallel scan
    /// segments), `STRATA_AUDIT_RETENTION_DAYS`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        let defaults = SegmentSettings::default();
        Settings {
            segments: SegmentSettings {
                currency: env
                    .parsed_or("STRATA_CURRENCY", CurrencySetting(defaults.currency))
                    .0,
                consent: env.parsed_or("STRATA_CONSENT_POLICY", defaults.consent),
                scan_segments: env.parsed_or("STRATA_ENGAGE_SEGMENTS", defaults.scan_segments),
                ..defaults
            },
            audit_retention: strata_auth::audit_retention(env),
        }
    }
}

/// The engage HTTP API (`engage-api`): API Gateway's JWT authorizer
/// verified the token, the guard reads its claims.
pub fn api(deployment: &Deployment, settings: Settings) -> Router {
    let table = deployment.table();
    let api = EngageApi::new(table.clone(), settings.segments);
    let guard = Guard::new(Authenticator::Gateway, table, settings.audit_retention);
    guard.protect(crate::api::router(Arc::new(api)))
}

/// The nightly segment run (`engage-job`).
pub struct EngageFunction {
    segmenter: Segmenter,
    settings: SegmentSettings,
}

impl EngageFunction {
    /// The table only: profiles are read and moved without their personal
    /// fields.
    pub fn build(deployment: &Deployment, settings: Settings) -> Self {
        EngageFunction {
            segmenter: Segmenter::new(deployment.table()),
            settings: settings.segments,
        }
    }

    pub async fn handle(&self, event: EventBridgeEvent) -> Result<SegmentReport, SegmentError> {
        on_schedule(&self.segmenter, self.settings, event).await
    }
}

/// The scheduled run, as of the event's time (now if it has none).
pub async fn on_schedule(
    segmenter: &Segmenter,
    settings: SegmentSettings,
    event: EventBridgeEvent,
) -> Result<SegmentReport, SegmentError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let report = segmenter.run(settings, as_of).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "engage");
    metrics.add("CustomersSegmented", report.customers as f64, Unit::Count);
    metrics.add("CustomersMoved", report.moved as f64, Unit::Count);
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    tracing::info!(
        customers = report.customers,
        moved = report.moved,
        changed_meanwhile = report.changed_meanwhile,
        revision = report.revision,
        unsegmented = report.sizes.unsegmented,
        "segment run done"
    );
    Ok(report)
}
