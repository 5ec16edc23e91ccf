//! Lambda entrypoint of bulk import (S3 ObjectCreated under `imports/`)
//! and of the scheduled erasure of inactive customers (EventBridge schedule;
//! see `strata_ingest::retention`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_ingest::config::IngestConfig;
use strata_ingest::import::run::Importer;
use strata_ingest::import::trigger;
use strata_ingest::ingest::Ingestor;
use strata_ingest::retention::{self, ImportFunctionEvent};
use strata_lambda_kit::EnvReader;
use strata_store::cold::ColdTier;
use strata_store::{AuditLog, CustomerEraser, ErasureLedger, ImportRepository, InactiveErasure};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let mut env = EnvReader::from_process();
    let config = IngestConfig::from_env(&mut env)?;
    // Optional: where the tiering function keeps cold records.
    let cold_bucket = env.optional("STRATA_COLD_BUCKET");
    let audit_retention = strata_auth::audit_retention(&mut env);
    env.finish()?;
    let sdk = strata_aws::load_sdk_config().await;
    let privacy = strata_ingest::config::aws_privacy(&sdk, &config).await?;
    let table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(
        strata_aws::dynamodb_client(&sdk),
        config.table,
    ));
    let blobs: Arc<dyn BlobStore> = Arc::new(strata_aws::S3BlobStore::new(
        strata_aws::s3_client(&sdk),
        config.bucket,
    ));
    // Erasure records in the ledger the backup function keeps; without its
    // bucket a scheduled run fails (and is dead-lettered) rather than skip.
    let erasure = config.ledger_bucket.map(|bucket| {
        let ledger = ErasureLedger::new(Arc::new(strata_aws::S3BlobStore::new(
            strata_aws::s3_client(&sdk),
            bucket,
        )));
        InactiveErasure::new(
            table.clone(),
            CustomerEraser::new(table.clone(), privacy.clone(), ledger),
            AuditLog::new(table.clone(), audit_retention),
            config.retention.clone(),
        )
    });
    let mut ingestor = Ingestor::new(table.clone(), privacy, config.read);
    if let Some(bucket) = cold_bucket {
        let cold = strata_aws::S3BlobStore::new(strata_aws::s3_client(&sdk), bucket);
        ingestor = ingestor.with_cold_tier(ColdTier::new(Arc::new(cold)));
    }
    let mut importer = Importer::new(ingestor, blobs.clone(), ImportRepository::new(table));
    importer.max_object_bytes = config.import_max_bytes;
    let (importer, blobs, erasure) = (&importer, blobs.as_ref(), &erasure);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = instant_of(event.context.deadline);
            match ImportFunctionEvent::classify(event.payload)? {
                ImportFunctionEvent::Upload(upload) => {
                    let outcomes = trigger::handle(
                        importer,
                        blobs,
                        upload,
                        &event.context.request_id,
                        deadline,
                    )
                    .await?;
                    Ok::<_, lambda_runtime::Error>(
                        serde_json::json!({ "imports": outcomes.len() }),
                    )
                }
                ImportFunctionEvent::Schedule(scheduled) => {
                    let erasure = erasure.as_ref().ok_or(
                        "the scheduled erasure needs the erasure ledger: STRATA_SNAPSHOT_BUCKET is not set",
                    )?;
                    let report = retention::on_schedule(erasure, scheduled, deadline).await?;
                    Ok(serde_json::json!({ "inactive_erasure": report }))
                }
            }
        },
    ))
    .await
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
