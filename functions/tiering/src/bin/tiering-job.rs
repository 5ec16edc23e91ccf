//! Lambda entrypoint of the scheduled tiering run (EventBridge schedule).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use strata_lambda_kit::EnvReader;
use strata_tiering::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let repo = lambda::aws_backend(&settings).await;
    let handler = |event: LambdaEvent<EventBridgeEvent>| {
        let (repo, job) = (repo.clone(), settings.job.clone());
        async move {
            // A failed run fails the invocation; the next run (or the
            // retry) finishes what it left, from the journal.
            lambda::on_schedule(repo, job, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    };
    lambda_runtime::run(service_fn(handler)).await
}
