//! What the churn functions build once per cold start from the deployment
//! (`strata_aws::Deployment`): their settings, the serving model, the API's
//! router, the batch and retraining services, and the event handlers.

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::Router;
use chrono::Utc;
use strata_auth::{Authenticator, Guard};
use strata_aws::{Deployment, DeploymentError};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::cold::{API_CACHE_BYTES, ColdTier, JOB_CACHE_BYTES};

use crate::api::{ChurnApi, router};

use crate::batch::{self, BatchError, BatchReport, BatchSettings};
use crate::model::{ChurnModel, ColdStart};
use crate::registry::{ModelRegistry, ModelSource, RegistryError};
use crate::retraining::codebuild::CodeBuildTrainer;
use crate::retraining::events::{self, Handled};
use crate::retraining::run::Outcome;
use crate::retraining::{RetrainError, RetrainSettings, Retraining};
use strata_domain::churn::RetrainPolicy;

/// The churn functions' own settings (the table and cold bucket are the
/// deployment's).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where models, cards and training runs live (`STRATA_BUCKET`).
    pub bucket: String,
    pub batch: BatchSettings,
    pub retrain: RetrainSettings,
    /// The CodeBuild project that trains a challenger
    /// (`STRATA_CHURN_TRAINING_PROJECT`; the retraining function's only).
    pub training_project: Option<String>,
    /// How long audit entries are kept (`STRATA_AUDIT_RETENTION_DAYS`).
    pub audit_retention: chrono::Duration,
}

impl Settings {
    /// `STRATA_BUCKET`, and optional `STRATA_CHURN_SEGMENTS`, `STRATA_CHURN_BATCH`,
    /// `STRATA_CHURN_RETRAIN_GROWTH`, `STRATA_CHURN_RETRAIN_MAX_AGE_DAYS`,
    /// `STRATA_CHURN_RUN_TIMEOUT_HOURS`, `STRATA_CONSENT_POLICY`,
    /// `STRATA_CHURN_TRAINING_PROJECT`, `STRATA_CHURN_HORIZON_DAYS`,
    /// `STRATA_AUDIT_RETENTION_DAYS`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        let batch = BatchSettings::default();
        let retrain = RetrainSettings::default();
        let policy = retrain.policy;
        let segments = env.parsed_or("STRATA_CHURN_SEGMENTS", batch.segments);
        let growth = env.parsed_or("STRATA_CHURN_RETRAIN_GROWTH", batch.retrain_growth);
        Settings {
            bucket: env.required("STRATA_BUCKET"),
            batch: BatchSettings {
                segments,
                batch_size: env.parsed_or("STRATA_CHURN_BATCH", batch.batch_size),
                retrain_growth: growth,
                consent: env.parsed_or("STRATA_CONSENT_POLICY", batch.consent),
                ..batch
            },
            retrain: RetrainSettings {
                policy: RetrainPolicy {
                    growth,
                    max_age: chrono::Duration::days(env.parsed_or(
                        "STRATA_CHURN_RETRAIN_MAX_AGE_DAYS",
                        policy.max_age.num_days(),
                    )),
                    run_timeout: chrono::Duration::hours(env.parsed_or(
                        "STRATA_CHURN_RUN_TIMEOUT_HOURS",
                        policy.run_timeout.num_hours(),
                    )),
                },
                segments,
                horizon_days: env.parsed_or("STRATA_CHURN_HORIZON_DAYS", retrain.horizon_days),
                ..retrain
            },
            training_project: env.optional("STRATA_CHURN_TRAINING_PROJECT"),
            audit_retention: strata_auth::audit_retention(env),
        }
    }
}

/// The churn HTTP API (`churn-api`): scores from the serving model, loaded
/// once; API Gateway's JWT authorizer verified the token, the guard reads
/// its claims.
pub async fn api(deployment: &Deployment, settings: Settings) -> Result<Router, InitError> {
    let table = deployment.table();
    let model = serving_model(table.clone(), deployment.bucket(&settings.bucket)).await?;
    let api = ChurnApi {
        consent: settings.batch.consent,
        ..ChurnApi::new(table.clone(), model)
    }
    .with_cold_tier(deployment.cold_tier(API_CACHE_BYTES)?);
    let guard = Guard::new(Authenticator::Gateway, table, settings.audit_retention);
    Ok(guard.protect(router(Arc::new(api))))
}

/// The scheduled batch scoring (`churn-batch`).
pub struct BatchFunction {
    table: Arc<dyn Table>,
    cold: ColdTier,
    model: Arc<ChurnModel>,
    settings: BatchSettings,
}

impl BatchFunction {
    pub async fn build(deployment: &Deployment, settings: Settings) -> Result<Self, InitError> {
        let table = deployment.table();
        Ok(BatchFunction {
            model: serving_model(table.clone(), deployment.bucket(&settings.bucket)).await?,
            cold: deployment.cold_tier(JOB_CACHE_BYTES)?,
            table,
            settings: settings.batch,
        })
    }

    /// A failed run fails the invocation, so EventBridge retries it.
    pub async fn handle(&self, event: EventBridgeEvent) -> Result<BatchReport, BatchError> {
        on_schedule(
            self.table.clone(),
            self.cold.clone(),
            self.model.clone(),
            self.settings,
            event,
        )
        .await
    }
}

/// The retraining service (`churn-retrain`) on DynamoDB, S3 and CodeBuild.
pub fn retraining(deployment: &Deployment, settings: Settings) -> Result<Retraining, InitError> {
    let project = settings.training_project.ok_or_else(|| ConfigError {
        problems: [(
            "STRATA_CHURN_TRAINING_PROJECT".to_owned(),
            "is required but not set".to_owned(),
        )]
        .into(),
    })?;
    let trainer = Arc::new(CodeBuildTrainer::new(
        aws_sdk_codebuild::Client::new(deployment.sdk()),
        &project,
    ));
    Ok(Retraining::new(
        deployment.table(),
        deployment.cold_tier(JOB_CACHE_BYTES)?,
        deployment.bucket(&settings.bucket),
        trainer,
        settings.retrain,
    ))
}

/// Why a churn function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Model(#[from] RegistryError),
}

/// Loads the serving model and logs how long the cold start took, split
/// into loading ONNX Runtime and building the session.
pub async fn serving_model(
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
) -> Result<Arc<ChurnModel>, RegistryError> {
    let started = Instant::now();
    let (model, cold, source): (ChurnModel, ColdStart, ModelSource) =
        ModelRegistry::new(table, blobs).load_serving().await?;
    tracing::info!(
        version = model.version(),
        source = ?source,
        library_ms = cold.library.as_secs_f64() * 1e3,
        session_ms = cold.session.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "churn model ready"
    );
    Ok(Arc::new(model))
}

/// The scheduled run: scores as of the event's time (now if it has none).
pub async fn on_schedule(
    table: Arc<dyn Table>,
    cold: ColdTier,
    model: Arc<ChurnModel>,
    settings: BatchSettings,
    event: EventBridgeEvent,
) -> Result<BatchReport, BatchError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let report = batch::run(table, cold, model, settings, as_of).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "churn");
    metrics.add("CustomersScored", report.scored as f64, Unit::Count);
    metrics.add(
        "EarlyWarning",
        report.bands.get("high").copied().unwrap_or(0) as f64,
        Unit::Count,
    );
    metrics.add(
        "RetrainingDue",
        f64::from(u8::from(report.retraining_due)),
        Unit::Count,
    );
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    if report.retraining_due {
        tracing::warn!(
            formal = report.formal,
            trained_on = report.model_customers,
            "formal customers grew past the retraining threshold; run the retraining job"
        );
    }
    Ok(report)
}

/// One retraining event, with its outcome as EMF metrics.
pub async fn on_retrain_event(
    service: &Retraining,
    event: EventBridgeEvent,
) -> Result<Handled, RetrainError> {
    let handled = events::handle(service, event).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "churn-retrain");
    let (started, reviewed) = match &handled {
        Handled::Scheduled(report) => (report.started.is_some(), report.reviewed.as_ref()),
        Handled::Reviewed(review) => (false, Some(review)),
        Handled::RolledBack { .. } | Handled::Ignored { .. } => (false, None),
    };
    metrics.add(
        "TrainingRunsStarted",
        f64::from(u8::from(started)),
        Unit::Count,
    );
    if let Some(review) = reviewed {
        let promoted = review.outcome == Outcome::Promoted;
        metrics.add(
            "CandidatesPromoted",
            f64::from(u8::from(promoted)),
            Unit::Count,
        );
        metrics.add(
            "CandidatesNotPromoted",
            f64::from(u8::from(!promoted)),
            Unit::Count,
        );
    }
    metrics.flush();
    Ok(handled)
}
