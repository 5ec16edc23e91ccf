//! Lambda entrypoint of the nightly segment run (EventBridge schedule).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_aws::Deployment;
use strata_engage::lambda::{EngageFunction, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let (deployment, settings) = Deployment::from_env(Settings::from_env).await?;
    let function = &EngageFunction::build(&deployment, settings);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            function
                .handle(event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
