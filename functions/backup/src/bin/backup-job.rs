//! Lambda entrypoint of the backup function: its EventBridge schedule and
//! operators' requests, each handed to `strata_backup::handle`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use strata_aws::Deployment;
use strata_backup::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let (deployment, settings) = Deployment::from_env(Settings::from_env).await?;
    let service = &lambda::service(&deployment, settings);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            strata_backup::handle(service, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
