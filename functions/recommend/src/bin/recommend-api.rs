//! Lambda entrypoint of the recommendation HTTP API (API Gateway HTTP API v2).

use std::sync::Arc;

use strata_lambda_kit::EnvReader;
use strata_recommend::api::{RecommendApi, router};
use strata_recommend::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let table = lambda::aws_table(&settings).await;
    lambda_http::run(router(Arc::new(RecommendApi::new(table)))).await
}
