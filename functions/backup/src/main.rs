//! The Lambda entrypoint: clients and configuration once per cold start,
//! then each EventBridge event handed to `strata_backup::handle`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use strata_lambda_kit::EnvReader;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let config = strata_aws::load_sdk_config().await;
    let service = strata_backup::aws::service_from_env(&config, EnvReader::from_process())?;
    let service = &service;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            strata_backup::handle(service, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
