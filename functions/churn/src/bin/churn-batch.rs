//! Lambda entrypoint of the scheduled batch scoring (EventBridge schedule).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_churn::lambda::{self, Settings};
use strata_lambda_kit::EnvReader;
use strata_store::cold::JOB_CACHE_BYTES;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let sdk = strata_aws::load_sdk_config().await;
    let (table, blobs) = lambda::aws_backend(&sdk, &settings);
    let cold = lambda::aws_cold_tier(&sdk, &settings, JOB_CACHE_BYTES);
    let model = lambda::serving_model(table.clone(), blobs).await?;
    let handler = |event: LambdaEvent<EventBridgeEvent>| {
        let (table, cold, model) = (table.clone(), cold.clone(), model.clone());
        async move {
            // A failed run fails the invocation, so EventBridge retries it.
            lambda::on_schedule(table, cold, model, settings.batch, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    };
    lambda_runtime::run(service_fn(handler)).await
}
