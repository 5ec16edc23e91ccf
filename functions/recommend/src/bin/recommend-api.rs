//! Lambda entrypoint of the recommendation HTTP API (API Gateway HTTP API v2).

use std::sync::Arc;

use strata_auth::{Authenticator, Guard};
use strata_lambda_kit::EnvReader;
use strata_recommend::api::{RecommendApi, router};
use strata_recommend::lambda::{self, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let mut env = EnvReader::from_process();
    let audit_retention = strata_auth::audit_retention(&mut env);
    env.finish()?;
    let sdk = strata_aws::load_sdk_config().await;
    let table = lambda::aws_table(&sdk, &settings);
    // API Gateway's JWT authorizer verified the token; the guard reads its claims.
    let guard = Guard::new(Authenticator::Gateway, table.clone(), audit_retention);
    let api = RecommendApi {
        consent: settings.job.consent,
        ..RecommendApi::new(table)
    };
    lambda_http::run(guard.protect(router(Arc::new(api)))).await
}
