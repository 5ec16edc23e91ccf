//! AWS adapters for Strata's ports: [`DynamoTable`] implements the table
//! port on DynamoDB, [`S3BlobStore`] the blob port on S3 and
//! [`KmsKeyService`] the key port on KMS.
//!
//! [`Deployment::from_env`] is every Lambda function's composition root: one
//! SDK configuration and one client per service per cold start, and the
//! table, buckets, key table, customers' privacy and cold tier built from them.

mod config;
mod deployment;
mod dynamodb;
mod error;
mod kms;
mod s3;

pub use config::{dynamodb_client, kms_client, load_sdk_config, s3_client};
pub use deployment::{Deployment, DeploymentError, DeploymentNames};
pub use dynamodb::{DynamoTable, create_table};
pub use error::SetupError;
pub use kms::{KmsKeyService, create_key};
pub use s3::{
    DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, S3BlobStore, create_bucket,
    create_locked_bucket, enable_versioning,
};
