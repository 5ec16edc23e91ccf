//! What the Lambda entrypoint builds once per cold start, and the handler
//! of the scheduled event.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_domain::retention::RetentionPolicy;
use strata_domain::tiering::TieringPolicy;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::TieringRepository;
use strata_store::cold::ColdTier;

use crate::job::{self, JobSettings, RunReport, TieringError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub cold_bucket: String,
    /// The key table, whose retention keys the run destroys (never reads).
    pub key_table: String,
    pub job: JobSettings,
}

impl Settings {
    /// `STRATA_TABLE`, `STRATA_COLD_BUCKET`, `STRATA_KEY_TABLE`, and optional
    /// `STRATA_TIERING_POLICY` (JSON, see `TieringPolicy`; unnamed fields keep
    /// their defaults), `STRATA_TIERING_SEGMENTS`, `STRATA_TIERING_TARGET_BYTES`,
    /// `STRATA_TIERING_MIN_OBJECT_BYTES`, `STRATA_RETENTION_POLICY` (JSON, see
    /// `RetentionPolicy`).
    pub fn read(mut env: EnvReader) -> Result<Settings, ConfigError> {
        let defaults = JobSettings::default();
        let policy = env
            .parsed_or("STRATA_TIERING_POLICY", PolicyJson(defaults.policy.clone()))
            .0;
        let retention = env
            .parsed_or(
                "STRATA_RETENTION_POLICY",
                RetentionJson(defaults.retention.clone()),
            )
            .0;
        let settings = Settings {
            table: env.required("STRATA_TABLE"),
            cold_bucket: env.required("STRATA_COLD_BUCKET"),
            key_table: env.required("STRATA_KEY_TABLE"),
            job: JobSettings {
                policy,
                retention,
                segments: env.parsed_or("STRATA_TIERING_SEGMENTS", defaults.segments),
                target_raw_bytes: env
                    .parsed_or("STRATA_TIERING_TARGET_BYTES", defaults.target_raw_bytes),
                min_object_bytes: env
                    .parsed_or("STRATA_TIERING_MIN_OBJECT_BYTES", defaults.min_object_bytes),
                ..defaults
            },
        };
        env.finish()?;
        Ok(settings)
    }
}

/// The policy as a setting: JSON text.
struct PolicyJson(TieringPolicy);

impl std::str::FromStr for PolicyJson {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text).map(PolicyJson)
    }
}

/// The retention policy as a setting: JSON text.
struct RetentionJson(RetentionPolicy);

impl std::str::FromStr for RetentionJson {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text).map(RetentionJson)
    }
}

/// The DynamoDB table and the cold bucket, from clients built once.
pub async fn aws_backend(settings: &Settings) -> TieringRepository {
    let config = strata_aws::load_sdk_config().await;
    let table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(
        strata_aws::dynamodb_client(&config),
        &settings.table,
    ));
    let blobs: Arc<dyn BlobStore> = Arc::new(strata_aws::S3BlobStore::new(
        strata_aws::s3_client(&config),
        &settings.cold_bucket,
    ));
    let key_table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(
        strata_aws::dynamodb_client(&config),
        &settings.key_table,
    ));
    TieringRepository::new(table, ColdTier::new(blobs)).with_retention_keys(key_table)
}

/// The scheduled run, as of the event's time (now if it has none).
pub async fn on_schedule(
    repo: TieringRepository,
    settings: JobSettings,
    event: EventBridgeEvent,
) -> Result<RunReport, TieringError> {
    let as_of = event.time.unwrap_or_else(Utc::now);
    let report = job::run(repo, settings, as_of).await?;
    let mut metrics = Metrics::new("Strata").dimension("Function", "tiering");
    metrics.add("RecordsTiered", report.moved.records as f64, Unit::Count);
    metrics.add("ObjectsWritten", report.moved.objects as f64, Unit::Count);
    metrics.add(
        "ChunksLeftHot",
        report.moved.chunks_changed as f64,
        Unit::Count,
    );
    metrics.add(
        "ObjectsRecovered",
        report.recovered.objects as f64,
        Unit::Count,
    );
    metrics.add(
        "ContentExpired",
        (report.expired.interaction_texts
            + report.expired.review_texts
            + report.expired.merge_entries) as f64,
        Unit::Count,
    );
    metrics.add(
        "CustomersMarkedForErasure",
        report.marked_for_erasure as f64,
        Unit::Count,
    );
    metrics.add("Duration", report.seconds * 1e3, Unit::Milliseconds);
    metrics.flush();
    tracing::info!(
        records = report.moved.records,
        objects = report.moved.objects,
        left_for_later = report.left_for_later,
        expired = ?report.expired,
        "tiering run done"
    );
    Ok(report)
}
