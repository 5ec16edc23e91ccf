//! Shared set-up of the integration tests: they run against a moto server
//! whose address `cargo xtask test` passes in `STRATA_TEST_AWS_ENDPOINT`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

pub async fn sdk_config() -> SdkConfig {
    let Ok(endpoint) = std::env::var("STRATA_TEST_AWS_ENDPOINT") else {
        panic!(
            "STRATA_TEST_AWS_ENDPOINT is not set: these tests need a local AWS server. \
             Run them with `cargo xtask test`, which starts moto and sets it."
        );
    };
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "strata-aws-tests",
        ))
        .load()
        .await
}

/// A name no other test run uses, so tests share one server safely.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
