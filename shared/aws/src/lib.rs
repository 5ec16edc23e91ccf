//! AWS adapters for Strata's ports: [`DynamoTable`] implements the table
//! port on DynamoDB, [`S3BlobStore`] the blob port on S3 and
//! [`KmsKeyService`] the key port on KMS.
//!
//! Build the SDK configuration once per cold start with [`load_sdk_config`]
//! and derive both clients from it.

mod config;
mod dynamodb;
mod error;
mod kms;
mod s3;

pub use config::{dynamodb_client, kms_client, load_sdk_config, s3_client};
pub use dynamodb::{DynamoTable, create_table};
pub use error::SetupError;
pub use kms::{KmsKeyService, create_key};
pub use s3::{
    DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, S3BlobStore, create_bucket,
    create_locked_bucket, enable_versioning,
};
