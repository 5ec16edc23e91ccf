//! Lambda entrypoint of the scheduled precompute (EventBridge schedule).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_lambda_kit::EnvReader;
use strata_recommend::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let sdk = strata_aws::load_sdk_config().await;
    let table = lambda::aws_table(&sdk, &settings);
    let cold = lambda::aws_cold_tier(&sdk, &settings);
    let handler = |event: LambdaEvent<EventBridgeEvent>| {
        let (table, cold, job) = (table.clone(), cold.clone(), settings.job.clone());
        async move {
            // A failed run fails the invocation, so EventBridge retries it;
            // every write is a replacement, so a rerun is harmless.
            lambda::on_schedule(table, cold, job, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    };
    lambda_runtime::run(service_fn(handler)).await
}
