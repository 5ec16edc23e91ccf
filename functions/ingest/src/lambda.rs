//! What the ingest functions build once per cold start: their settings,
//! and from the deployment (`strata_aws::Deployment`) the HTTP API's router
//! and the import function's service.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use strata_auth::{Authenticator, Guard};
use strata_aws::{Deployment, DeploymentError};
use strata_domain::ReadOptions;
use strata_domain::contact::{DateOrder, PhoneRegion};
use strata_domain::money::Currency;
use strata_domain::ports::blob::BlobStore;
use strata_domain::retention::RetentionPolicy;
use strata_lambda_kit::EnvReader;
use strata_lambda_kit::config::CurrencySetting;
use strata_store::cold::API_CACHE_BYTES;
use strata_store::{AuditLog, CustomerEraser, ErasureLedger, ImportRepository, InactiveErasure};

use crate::api::rights::Erasure;
use crate::api::{ApiState, router};
use crate::import::run::Importer;
use crate::import::trigger;
use crate::ingest::Ingestor;
use crate::retention::{self, ImportFunctionEvent};

/// The ingest functions' own settings (the table, key table, personal-data
/// key and cold bucket are the deployment's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The bucket uploads, mappings and reports live in (`STRATA_IMPORTS_BUCKET`).
    pub bucket: String,
    pub read: ReadOptions,
    /// Largest upload an import accepts (`STRATA_IMPORT_MAX_BYTES`).
    pub import_max_bytes: u64,
    /// The bucket holding the erasure ledger (`erasure-ledger/`), the
    /// backup function's snapshot bucket (`STRATA_SNAPSHOT_BUCKET`,
    /// optional: without it the API cannot erase).
    pub ledger_bucket: Option<String>,
    /// How long data is kept (`STRATA_RETENTION_POLICY`, JSON, see
    /// `RetentionPolicy`; optional): the import function's scheduled
    /// erasure of inactive customers reads `inactive_customer_days`.
    pub retention: RetentionPolicy,
    /// How long audit entries are kept (`STRATA_AUDIT_RETENTION_DAYS`).
    pub audit_retention: chrono::Duration,
}

impl Settings {
    /// Reads every setting, collecting problems in `env`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        let bucket = env.required("STRATA_IMPORTS_BUCKET");
        let phone_region = env.parsed_or("STRATA_PHONE_REGION", PhoneRegion::CHINA);
        let currency = env
            .parsed_or("STRATA_CURRENCY", CurrencySetting(Currency::CNY))
            .0;
        let date_order = env
            .parsed_or("STRATA_DATE_ORDER", DateOrderName(DateOrder::YearMonthDay))
            .0;
        let import_max_bytes = env.parsed_or(
            "STRATA_IMPORT_MAX_BYTES",
            crate::import::run::DEFAULT_MAX_OBJECT_BYTES,
        );
        let ledger_bucket = env.optional("STRATA_SNAPSHOT_BUCKET");
        let retention = env
            .parsed_or(
                "STRATA_RETENTION_POLICY",
                RetentionJson(RetentionPolicy::default()),
            )
            .0;
        Settings {
            retention,
            import_max_bytes,
            ledger_bucket,
            bucket,
            read: ReadOptions {
                phone_region,
                date_order,
                currency,
            },
            audit_retention: strata_auth::audit_retention(env),
        }
    }
}

/// The ingest HTTP API (`ingest-api`): API Gateway's JWT authorizer
/// verified the token; the guard reads its claims.
pub async fn api(
    deployment: &Deployment,
    settings: Settings,
) -> Result<axum::Router, DeploymentError> {
    let table = deployment.table();
    let privacy = deployment.privacy().await?;
    let ingestor = Ingestor::new(table.clone(), privacy.clone(), settings.read)
        .with_cold_tier(deployment.cold_tier(API_CACHE_BYTES)?);
    let mut state = ApiState::new(table.clone(), ingestor);
    if let Some(bucket) = &settings.ledger_bucket {
        let ledger = ErasureLedger::new(deployment.bucket(bucket));
        state = state.with_erasure(Erasure {
            eraser: CustomerEraser::new(table.clone(), privacy, ledger.clone()),
            ledger,
        });
    }
    let guard = Guard::new(Authenticator::Gateway, table, settings.audit_retention);
    Ok(guard.protect(router(state)))
}

/// The import function (`ingest-import`): uploads under `imports/` start or
/// resume an import; its weekly schedule erases inactive customers (it holds
/// the right to open customers' keys, which the tiering job lacks).
pub struct ImportFunction {
    importer: Importer,
    blobs: Arc<dyn BlobStore>,
    /// Erasure records go to the ledger the backup function keeps; without
    /// its bucket a scheduled run fails (and is dead-lettered) rather than skip.
    erasure: Option<InactiveErasure>,
}

impl ImportFunction {
    pub async fn build(
        deployment: &Deployment,
        settings: Settings,
    ) -> Result<ImportFunction, DeploymentError> {
        let table = deployment.table();
        let privacy = deployment.privacy().await?;
        let blobs = deployment.bucket(&settings.bucket);
        let erasure = settings.ledger_bucket.as_ref().map(|bucket| {
            let ledger = ErasureLedger::new(deployment.bucket(bucket));
            InactiveErasure::new(
                table.clone(),
                CustomerEraser::new(table.clone(), privacy.clone(), ledger),
                AuditLog::new(table.clone(), settings.audit_retention),
                settings.retention.clone(),
            )
        });
        // Rows re-warm one customer's cold records at a time: the API's budget.
        let ingestor = Ingestor::new(table.clone(), privacy, settings.read)
            .with_cold_tier(deployment.cold_tier(API_CACHE_BYTES)?);
        let mut importer = Importer::new(ingestor, blobs.clone(), ImportRepository::new(table));
        importer.max_object_bytes = settings.import_max_bytes;
        Ok(ImportFunction {
            importer,
            blobs,
            erasure,
        })
    }

    /// The importer uploads are handed to.
    pub fn importer(&self) -> &Importer {
        &self.importer
    }

    /// One invocation: an S3 notification or the erasure schedule, told
    /// apart by shape (anything else is refused).
    pub async fn handle(
        &self,
        event: LambdaEvent<serde_json::Value>,
    ) -> Result<serde_json::Value, lambda_runtime::Error> {
        let deadline = instant_of(event.context.deadline);
        match ImportFunctionEvent::classify(event.payload)? {
            ImportFunctionEvent::Upload(upload) => {
                let outcomes = trigger::handle(
                    &self.importer,
                    self.blobs.as_ref(),
                    upload,
                    &event.context.request_id,
                    deadline,
                )
                .await?;
                Ok(serde_json::json!({ "imports": outcomes.len() }))
            }
            ImportFunctionEvent::Schedule(scheduled) => {
                let erasure = self.erasure.as_ref().ok_or(
                    "the scheduled erasure needs the erasure ledger: STRATA_SNAPSHOT_BUCKET is not set",
                )?;
                let report = retention::on_schedule(erasure, scheduled, deadline).await?;
                Ok(serde_json::json!({ "inactive_erasure": report }))
            }
        }
    }
}

/// Lambda's deadline (epoch milliseconds) as an `Instant`.
fn instant_of(deadline_ms: u64) -> Option<Instant> {
    let now_ms = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_millis(),
    )
    .ok()?;
    Some(Instant::now() + Duration::from_millis(deadline_ms.checked_sub(now_ms)?))
}

struct RetentionJson(RetentionPolicy);

impl std::str::FromStr for RetentionJson {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text)
            .map(RetentionJson)
            .map_err(|e| e.to_string())
    }
}

struct DateOrderName(DateOrder);

impl std::str::FromStr for DateOrderName {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(name.to_owned()))
            .map(DateOrderName)
            .map_err(|_| "use year_month_day, month_day_year or day_month_year".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_names_what_is_missing() {
        let mut env = EnvReader::from_lookup(|name| match name {
            "STRATA_CURRENCY" => Some("usd".into()),
            "STRATA_DATE_ORDER" => Some("month_day_year".into()),
            _ => None,
        });
        let settings = Settings::from_env(&mut env);
        assert_eq!(settings.read.currency, Currency::USD);
        assert_eq!(settings.read.date_order, DateOrder::MonthDayYear);
        let error = env.finish().unwrap_err();
        assert_eq!(
            error.problems.keys().collect::<Vec<_>>(),
            ["STRATA_IMPORTS_BUCKET"]
        );
    }
}
