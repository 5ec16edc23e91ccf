//! Lambda entrypoint of the ingest HTTP API (API Gateway HTTP API → axum).

use std::sync::Arc;

use strata_domain::ports::table::Table;
use strata_ingest::api::{ApiState, router};
use strata_ingest::config::IngestConfig;
use strata_ingest::ingest::Ingestor;
use strata_lambda_kit::EnvReader;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let mut env = EnvReader::from_process();
    let config = IngestConfig::from_env(&mut env)?;
    env.finish()?;
    let sdk = strata_aws::load_sdk_config().await;
    let table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(
        strata_aws::dynamodb_client(&sdk),
        config.table,
    ));
    let app = router(ApiState::new(
        table.clone(),
        Ingestor::new(table, config.read),
    ));
    lambda_http::run(app).await
}
