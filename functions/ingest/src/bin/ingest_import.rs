//! Lambda entrypoint of bulk import (S3 ObjectCreated under `imports/`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::s3::S3Event;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_ingest::config::IngestConfig;
use strata_ingest::import::run::Importer;
use strata_ingest::import::trigger;
use strata_ingest::ingest::Ingestor;
use strata_lambda_kit::EnvReader;
use strata_store::ImportRepository;
use strata_store::cold::ColdTier;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let mut env = EnvReader::from_process();
    let config = IngestConfig::from_env(&mut env)?;
    // Optional: where the tiering function keeps cold records.
    let cold_bucket = env.optional("STRATA_COLD_BUCKET");
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
    let mut ingestor = Ingestor::new(table.clone(), privacy, config.read);
    if let Some(bucket) = cold_bucket {
        let cold = strata_aws::S3BlobStore::new(strata_aws::s3_client(&sdk), bucket);
        ingestor = ingestor.with_cold_tier(ColdTier::new(Arc::new(cold)));
    }
    let mut importer = Importer::new(ingestor, blobs.clone(), ImportRepository::new(table));
    importer.max_object_bytes = config.import_max_bytes;
    let (importer, blobs) = (&importer, blobs.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let deadline = instant_of(event.context.deadline);
        let outcomes = trigger::handle(
            importer,
            blobs,
            event.payload,
            &event.context.request_id,
            deadline,
        )
        .await?;
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "imports": outcomes.len() }))
    }))
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
