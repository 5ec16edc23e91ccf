//! The adapters under test, each behind the same ports.

use std::sync::Arc;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use strata_domain::ports::{BlobStore, Table};
use tempfile::TempDir;

/// Set by `cargo xtask test` to the moto server it started on 127.0.0.1.
pub const AWS_ENDPOINT_VAR: &str = "STRATA_TEST_AWS_ENDPOINT";

pub struct Backend {
    pub name: &'static str,
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    /// Whether large bodies go up as multipart uploads (S3) rather than one stream (files).
    pub uploads_in_parts: bool,
    /// Kept so the embedded data directory lives as long as the backend.
    _data_dir: Option<TempDir>,
}

impl Backend {
    /// The embedded backend in a fresh data directory.
    pub async fn embedded() -> anyhow::Result<Backend> {
        let dir = tempfile::tempdir()?;
        let backend = strata_embedded::EmbeddedBackend::open(dir.path())?;
        Ok(Backend {
            name: "embedded",
            table: Arc::new(backend.table),
            blobs: Arc::new(backend.blobs),
            uploads_in_parts: false,
            _data_dir: Some(dir),
        })
    }

    /// The AWS adapters against the local moto server, in a new table and bucket.
    pub async fn aws() -> anyhow::Result<Backend> {
        let config = moto_config().await?;
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let table_name = format!("strata-conformance-{suffix}");
        let bucket = format!("strata-conformance-{suffix}");
        let dynamodb = strata_aws::dynamodb_client(&config);
        let s3 = strata_aws::s3_client(&config);
        strata_aws::create_table(&dynamodb, &table_name)
            .await
            .context("creating the DynamoDB table in moto")?;
        strata_aws::create_bucket(&s3, &bucket)
            .await
            .context("creating the S3 bucket in moto")?;
        Ok(Backend {
            name: "aws",
            table: Arc::new(strata_aws::DynamoTable::new(dynamodb, table_name)),
            blobs: Arc::new(strata_aws::S3BlobStore::new(s3, bucket)),
            uploads_in_parts: true,
            _data_dir: None,
        })
    }
}

/// SDK configuration for the moto server named by `STRATA_TEST_AWS_ENDPOINT`.
pub async fn moto_config() -> anyhow::Result<aws_config::SdkConfig> {
    let endpoint = std::env::var(AWS_ENDPOINT_VAR).map_err(|_| {
        anyhow::anyhow!(
            "{AWS_ENDPOINT_VAR} is not set: the AWS adapter tests need the local moto server. \
             Run them with `cargo xtask test`, which installs and starts it."
        )
    })?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "strata-tests"))
        .load()
        .await)
}
