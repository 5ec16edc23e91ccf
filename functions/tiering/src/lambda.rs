//! What the tiering function builds once per cold start from the deployment
//! (`strata_aws::Deployment`), and the handler of the scheduled event.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use strata_aws::Deployment;
use strata_domain::retention::RetentionPolicy;
use strata_domain::tiering::TieringPolicy;
use strata_lambda_kit::metrics::{Metrics, Unit};
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::TieringRepository;
use strata_store::cold::ColdTier;

use crate::job::{self, JobSettings, RunReport, TieringError};

/// The tiering function's own settings (the table, cold bucket and key
/// table are the deployment's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub job: JobSettings,
}

impl Settings {
    /// Optional `STRATA_TIERING_POLICY` (JSON, see `TieringPolicy`; unnamed
    /// fields keep their defaults), `STRATA_TIERING_SEGMENTS`,
    /// `STRATA_TIERING_TARGET_BYTES`, `STRATA_TIERING_MIN_OBJECT_BYTES`,
    /// `STRATA_RETENTION_POLICY` (JSON, see `RetentionPolicy`).
    pub fn from_env(env: &mut EnvReader) -> Settings {
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
        Settings {
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
        }
    }
}

/// The scheduled tiering run (`tiering-job`).
pub struct TieringFunction {
    repo: TieringRepository,
    settings: JobSettings,
}

impl TieringFunction {
    /// The table, the cold tier (uncached: the job writes objects, it reads
    /// few back) and the key table, whose retention keys the run destroys
    /// (never reads).
    pub fn build(deployment: &Deployment, settings: Settings) -> Result<Self, ConfigError> {
        Ok(TieringFunction {
            repo: TieringRepository::new(
                deployment.table(),
                ColdTier::new(deployment.cold_bucket()?),
            )
            .with_retention_keys(deployment.key_table()?),
            settings: settings.job,
        })
    }

    /// A failed run fails the invocation; the next run (or the retry)
    /// finishes what it left, from the journal.
    pub async fn handle(&self, event: EventBridgeEvent) -> Result<RunReport, TieringError> {
        on_schedule(self.repo.clone(), self.settings.clone(), event).await
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
