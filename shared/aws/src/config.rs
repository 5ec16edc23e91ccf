//! SDK configuration and clients, built once per cold start and shared.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region, credentials and endpoint overrides from the environment
/// (the Lambda runtime's variables in AWS; `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_DYNAMODB` for local servers).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn kms_client(config: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(config)
}

/// An S3 client; path-style addressing when the endpoint is overridden,
/// because local servers (moto) cannot resolve `bucket.host` names.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if has_endpoint_override(config) {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

// The S3-specific override is not readable back from the built config, so
// the variable is checked directly (profile `services` sections are not
// used by this project).
fn has_endpoint_override(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty())
}
