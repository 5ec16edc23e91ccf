//! Lambda entrypoint of the retraining job: its EventBridge schedule, the
//! candidate cards' S3 "Object Created" events, and operators' requests.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_aws::Deployment;
use strata_churn::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let (deployment, settings) = Deployment::from_env(Settings::from_env).await?;
    let service = &lambda::retraining(&deployment, settings)?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            // A failure fails the invocation: retried, then the dead-letter queue.
            lambda::on_retrain_event(service, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
