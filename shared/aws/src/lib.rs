//! AWS adapters for Strata's storage ports: [`DynamoTable`] implements the
//! table port on DynamoDB and [`S3BlobStore`] the blob port on S3.
//!
//! Build the SDK configuration once per cold start with [`load_sdk_config`]
//! and derive both clients from it.

mod config;
mod dynamodb;
mod error;
mod s3;

pub use config::{dynamodb_client, load_sdk_config, s3_client};
pub use dynamodb::{DynamoTable, create_table};
pub use error::SetupError;
pub use s3::{DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, S3BlobStore, create_bucket};
