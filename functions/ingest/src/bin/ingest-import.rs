//! Lambda entrypoint of bulk import (S3 ObjectCreated under `imports/`)
//! and of the scheduled erasure of inactive customers (EventBridge schedule;
//! see `strata_ingest::retention`).

use lambda_runtime::{LambdaEvent, service_fn};
use strata_aws::Deployment;
use strata_ingest::lambda::{ImportFunction, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let (deployment, settings) = Deployment::from_env(Settings::from_env).await?;
    let function = &ImportFunction::build(&deployment, settings).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        function.handle(event)
    }))
    .await
}
