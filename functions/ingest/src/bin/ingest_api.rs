//! Lambda entrypoint of the ingest HTTP API (API Gateway HTTP API → axum).

use std::sync::Arc;

use strata_auth::{Authenticator, Guard};
use strata_domain::ports::table::Table;
use strata_ingest::api::rights::Erasure;
use strata_ingest::api::{ApiState, router};
use strata_ingest::config::IngestConfig;
use strata_ingest::ingest::Ingestor;
use strata_lambda_kit::EnvReader;
use strata_store::cold::{API_CACHE_BYTES, ColdTier};
use strata_store::{CustomerEraser, ErasureLedger};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
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
    let mut ingestor = Ingestor::new(table.clone(), privacy.clone(), config.read);
    if let Some(bucket) = cold_bucket {
        let blobs = strata_aws::S3BlobStore::new(strata_aws::s3_client(&sdk), bucket);
        ingestor =
            ingestor.with_cold_tier(ColdTier::new(Arc::new(blobs)).with_cache(API_CACHE_BYTES));
    }
    // API Gateway's JWT authorizer verified the token; the guard reads its claims.
    let mut state = ApiState::new(table.clone(), ingestor);
    if let Some(bucket) = config.ledger_bucket {
        let ledger = ErasureLedger::new(Arc::new(strata_aws::S3BlobStore::new(
            strata_aws::s3_client(&sdk),
            bucket,
        )));
        state = state.with_erasure(Erasure {
            eraser: CustomerEraser::new(table.clone(), privacy.clone(), ledger.clone()),
            ledger,
        });
    }
    let guard = Guard::new(Authenticator::Gateway, table.clone(), audit_retention);
    let app = guard.protect(router(state));
    lambda_http::run(app).await
}
