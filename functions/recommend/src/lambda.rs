//! What both Lambda entrypoints build once per cold start (settings, the
//! DynamoDB adapter) and the scheduled event's handler.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use strata_domain::ports::table::Table;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::cold::{ColdTier, JOB_CACHE_BYTES};

use crate::job::{self, JobError, JobReport, JobSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    /// Where tiering moved old records; the job reads them back.
    pub cold_bucket: Option<String>,
    pub job: JobSettings,
}

impl Settings {
    /// `STRATA_TABLE`, optional `STRATA_CONSENT_POLICY`, and for the job optional
    /// `STRATA_COLD_BUCKET`, `STRATA_RECOMMEND_SEGMENTS`,
    /// `STRATA_RECOMMEND_JUST_BOUGHT_DAYS`, `STRATA_RECOMMEND_HALF_LIFE_DAYS`.
    pub fn read(mut env: EnvReader) -> Result<Settings, ConfigError> {
        let defaults = JobSettings::default();
        let settings = Settings {
            table: env.required("STRATA_TABLE"),
            cold_bucket: env.optional("STRATA_COLD_BUCKET"),
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
        };
        env.finish()?;
        Ok(settings)
    }
}

/// The DynamoDB table, from a client built once.
pub fn aws_table(config: &aws_config::SdkConfig, settings: &Settings) -> Arc<dyn Table> {
    Arc::new(strata_aws::DynamoTable::new(
        strata_aws::dynamodb_client(config),
        &settings.table,
    ))
}

/// The cold tier, when the function is given its bucket; objects shared by
/// many customers are cached for the run.
pub fn aws_cold_tier(config: &aws_config::SdkConfig, settings: &Settings) -> Option<ColdTier> {
    let bucket = settings.cold_bucket.as_ref()?;
    let blobs = strata_aws::S3BlobStore::new(strata_aws::s3_client(config), bucket);
    Some(ColdTier::new(Arc::new(blobs)).with_cache(JOB_CACHE_BYTES))
}

/// The scheduled run: precomputes as of the event's time (now if it has none).
pub async fn on_schedule(
    table: Arc<dyn Table>,
    cold: Option<ColdTier>,
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
