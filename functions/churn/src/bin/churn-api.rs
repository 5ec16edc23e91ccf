//! Lambda entrypoint of the churn HTTP API (API Gateway HTTP API v2).

use std::sync::Arc;

use strata_churn::api::{ChurnApi, router};
use strata_churn::lambda::{self, Settings};
use strata_lambda_kit::EnvReader;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let (table, blobs) = lambda::aws_backend(&settings).await;
    let model = lambda::serving_model(table.clone(), blobs).await?;
    lambda_http::run(router(Arc::new(ChurnApi::new(table, model)))).await
}
