//! What the Lambda entrypoints build once per cold start (settings, the
//! AWS adapters, the serving model) and the event handlers.

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::cold::ColdTier;

use crate::batch::{self, BatchError, BatchReport, BatchSettings};
use crate::model::{ChurnModel, ColdStart};
use crate::registry::{ModelRegistry, ModelSource, RegistryError};
use crate::retraining::codebuild::CodeBuildTrainer;
use crate::retraining::events::{self, Handled};
use crate::retraining::run::Outcome;
use crate::retraining::{RetrainError, RetrainSettings, Retraining};
use strata_domain::churn::RetrainPolicy;

#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub bucket: String,
    /// Where tiering moved old records; the batch reads them back.
    pub cold_bucket: Option<String>,
    pub batch: BatchSettings,
}

impl Settings {
    /// `STRATA_TABLE`, `STRATA_BUCKET`, and optional `STRATA_COLD_BUCKET`, `STRATA_CHURN_SEGMENTS`,
    /// `STRATA_CHURN_BATCH`, `STRATA_CHURN_RETRAIN_GROWTH`, `STRATA_CONSENT_POLICY`.
    pub fn read(mut env: EnvReader) -> Result<Settings, ConfigError> {
        let defaults = BatchSettings::default();
        let settings = Settings {
            table: env.required("STRATA_TABLE"),
            bucket: env.required("STRATA_BUCKET"),
            cold_bucket: env.optional("STRATA_COLD_BUCKET"),
            batch: BatchSettings {
                segments: env.parsed_or("STRATA_CHURN_SEGMENTS", defaults.segments),
                batch_size: env.parsed_or("STRATA_CHURN_BATCH", defaults.batch_size),
                retrain_growth: env
                    .parsed_or("STRATA_CHURN_RETRAIN_GROWTH", defaults.retrain_growth),
                consent: env.parsed_or("STRATA_CONSENT_POLICY", defaults.consent),
                ..defaults
            },
        };
        env.finish()?;
        Ok(settings)
    }
}

/// The DynamoDB table and S3 bucket, from clients built once.
pub fn aws_backend(
    config: &aws_config::SdkConfig,
    settings: &Settings,
) -> (Arc<dyn Table>, Arc<dyn BlobStore>) {
    let table = strata_aws::DynamoTable::new(strata_aws::dynamodb_client(config), &settings.table);
    let blobs = strata_aws::S3BlobStore::new(strata_aws::s3_client(config), &settings.bucket);
    (Arc::new(table), Arc::new(blobs))
}

/// The cold tier, when the function is given its bucket, keeping up to
/// `cache_bytes` of parsed objects (one object serves many customers).
pub fn aws_cold_tier(
    config: &aws_config::SdkConfig,
    settings: &Settings,
    cache_bytes: u64,
) -> Option<ColdTier> {
    let bucket = settings.cold_bucket.as_ref()?;
    let blobs = strata_aws::S3BlobStore::new(strata_aws::s3_client(config), bucket);
    Some(ColdTier::new(Arc::new(blobs)).with_cache(cache_bytes))
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
    cold: Option<ColdTier>,
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

/// The retraining function's settings.
#[derive(Debug, Clone)]
pub struct RetrainConfig {
    pub table: String,
    pub bucket: String,
    /// The CodeBuild project that trains a challenger.
    pub project: String,
    pub retrain: RetrainSettings,
}

impl RetrainConfig {
    /// `STRATA_TABLE`, `STRATA_BUCKET`, `STRATA_CHURN_TRAINING_PROJECT`, and
    /// optional `STRATA_CHURN_RETRAIN_GROWTH`, `STRATA_CHURN_RETRAIN_MAX_AGE_DAYS`,
    /// `STRATA_CHURN_RUN_TIMEOUT_HOURS`, `STRATA_CHURN_SEGMENTS`.
    pub fn read(mut env: EnvReader) -> Result<RetrainConfig, ConfigError> {
        let defaults = RetrainSettings::default();
        let policy = defaults.policy;
        let config = RetrainConfig {
            table: env.required("STRATA_TABLE"),
            bucket: env.required("STRATA_BUCKET"),
            project: env.required("STRATA_CHURN_TRAINING_PROJECT"),
            retrain: RetrainSettings {
                policy: RetrainPolicy {
                    growth: env.parsed_or("STRATA_CHURN_RETRAIN_GROWTH", policy.growth),
                    max_age: chrono::Duration::days(env.parsed_or(
                        "STRATA_CHURN_RETRAIN_MAX_AGE_DAYS",
                        policy.max_age.num_days(),
                    )),
                    run_timeout: chrono::Duration::hours(env.parsed_or(
                        "STRATA_CHURN_RUN_TIMEOUT_HOURS",
                        policy.run_timeout.num_hours(),
                    )),
                },
                segments: env.parsed_or("STRATA_CHURN_SEGMENTS", defaults.segments),
                ..defaults
            },
        };
        env.finish()?;
        Ok(config)
    }

    /// The retraining service on DynamoDB, S3 and CodeBuild.
    pub async fn service(&self) -> Retraining {
        let config = strata_aws::load_sdk_config().await;
        let table = Arc::new(strata_aws::DynamoTable::new(
            strata_aws::dynamodb_client(&config),
            &self.table,
        ));
        let blobs = Arc::new(strata_aws::S3BlobStore::new(
            strata_aws::s3_client(&config),
            &self.bucket,
        ));
        let trainer = Arc::new(CodeBuildTrainer::new(
            aws_sdk_codebuild::Client::new(&config),
            &self.project,
        ));
        Retraining::new(table, blobs, trainer, self.retrain)
    }
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
