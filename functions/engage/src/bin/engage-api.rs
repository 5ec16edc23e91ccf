//! Lambda entrypoint of the engage HTTP API (API Gateway HTTP API v2).

use strata_aws::Deployment;
use strata_engage::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let (deployment, settings) = Deployment::from_env(Settings::from_env).await?;
    lambda_http::run(lambda::api(&deployment, settings)).await
}
