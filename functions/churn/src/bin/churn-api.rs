//! Lambda entrypoint of the churn HTTP API (API Gateway HTTP API v2).

use std::sync::Arc;

use strata_auth::{Authenticator, Guard};
use strata_churn::api::{ChurnApi, router};
use strata_churn::lambda::{self, Settings};
use strata_lambda_kit::EnvReader;
use strata_store::cold::API_CACHE_BYTES;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    strata_lambda_kit::logging::init();
    let settings = Settings::read(EnvReader::from_process())?;
    let mut env = EnvReader::from_process();
    let audit_retention = strata_auth::audit_retention(&mut env);
    env.finish()?;
    let sdk = strata_aws::load_sdk_config().await;
    let (table, blobs) = lambda::aws_backend(&sdk, &settings);
    let model = lambda::serving_model(table.clone(), blobs).await?;
    let mut api = ChurnApi {
        consent: settings.batch.consent,
        ..ChurnApi::new(table.clone(), model)
    };
    if let Some(cold) = lambda::aws_cold_tier(&sdk, &settings, API_CACHE_BYTES) {
        api = api.with_cold_tier(cold);
    }
    // API Gateway's JWT authorizer verified the token; the guard reads its claims.
    let guard = Guard::new(Authenticator::Gateway, table.clone(), audit_retention);
    lambda_http::run(guard.protect(router(Arc::new(api)))).await
}
