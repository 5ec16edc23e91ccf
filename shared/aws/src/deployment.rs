//! The composition root of every Lambda function: one SDK configuration,
//! one client per AWS service, and the resources the function's environment
//! names, built once per cold start. A binary asks it for what its service
//! needs; a resource the environment does not name is a configuration error
//! naming the variable, raised at cold start rather than on first use.

use std::sync::Arc;

use aws_config::{Region, SdkConfig};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::keys::KeyService;
use strata_domain::ports::table::Table;
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_store::Privacy;
use strata_store::cold::ColdTier;

use crate::{DynamoTable, KmsKeyService, S3BlobStore};

const TABLE: &str = "STRATA_TABLE";
const KEY_TABLE: &str = "STRATA_KEY_TABLE";
const PERSONAL_DATA_KEY: &str = "STRATA_PERSONAL_DATA_KEY";
const COLD_BUCKET: &str = "STRATA_COLD_BUCKET";

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("opening customers' data keys: {0}")]
    Privacy(#[from] strata_store::StoreError),
}

/// The names a deployment's functions share (see `infra/template.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentNames {
    table: String,
    key_table: Option<String>,
    personal_data_key: Option<String>,
    cold_bucket: Option<String>,
}

impl DeploymentNames {
    /// `STRATA_TABLE` (required), and the optional `STRATA_KEY_TABLE`,
    /// `STRATA_PERSONAL_DATA_KEY` and `STRATA_COLD_BUCKET`, which the
    /// deployment's accessors require when a function asks for what they name.
    pub fn read(env: &mut EnvReader) -> DeploymentNames {
        DeploymentNames {
            table: env.required(TABLE),
            key_table: env.optional(KEY_TABLE),
            personal_data_key: env.optional(PERSONAL_DATA_KEY),
            cold_bucket: env.optional(COLD_BUCKET),
        }
    }
}

/// What a function's cold start builds once and its service is made of
/// (clones share the clients).
#[derive(Clone)]
pub struct Deployment {
    sdk: SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    names: DeploymentNames,
    table: Arc<dyn Table>,
}

impl Deployment {
    /// Reads the deployment's names and the function's own settings (with
    /// `settings`) from the process environment in one pass, so every
    /// missing or malformed variable is reported at once; then builds the
    /// clients. Region, credentials and endpoint come from the AWS variables.
    pub async fn from_env<S>(
        settings: impl FnOnce(&mut EnvReader) -> S,
    ) -> Result<(Deployment, S), ConfigError> {
        let mut env = EnvReader::from_process();
        let names = DeploymentNames::read(&mut env);
        let settings = settings(&mut env);
        env.finish()?;
        Ok((
            Deployment::connect(crate::load_sdk_config().await, names),
            settings,
        ))
    }

    /// Builds the clients from a configuration made elsewhere (tests).
    pub fn connect(sdk: SdkConfig, names: DeploymentNames) -> Deployment {
        let dynamodb = crate::dynamodb_client(&sdk);
        let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb.clone(), &names.table));
        Deployment {
            s3: crate::s3_client(&sdk),
            kms: crate::kms_client(&sdk),
            dynamodb,
            sdk,
            names,
            table,
        }
    }

    /// The SDK configuration, for clients of services Strata uses in one place only.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The data table.
    pub fn table(&self) -> Arc<dyn Table> {
        self.table.clone()
    }

    /// The data table's name (`STRATA_TABLE`).
    pub fn table_name(&self) -> &str {
        &self.names.table
    }

    /// The DynamoDB client, for creating tables (restores).
    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }

    /// Another DynamoDB table through the same client.
    pub fn other_table(&self, name: &str) -> Arc<dyn Table> {
        Arc::new(DynamoTable::new(self.dynamodb.clone(), name))
    }

    /// A bucket through the one S3 client (clients are cheap clones sharing
    /// their connection pool).
    pub fn bucket(&self, name: &str) -> Arc<dyn BlobStore> {
        Arc::new(S3BlobStore::new(self.s3.clone(), name))
    }

    /// A bucket in another region (its own client: S3 clients are regional).
    pub fn bucket_in(&self, name: &str, region: Option<&str>) -> Arc<dyn BlobStore> {
        match region {
            None => self.bucket(name),
            Some(region) => Arc::new(S3BlobStore::new(
                crate::s3_client(&self.in_region(region)),
                name,
            )),
        }
    }

    /// A KMS key, in another region when given (KMS keys are regional).
    pub fn kms_key(&self, key: &str, region: Option<&str>) -> Arc<dyn KeyService> {
        let client = match region {
            None => self.kms.clone(),
            Some(region) => crate::kms_client(&self.in_region(region)),
        };
        Arc::new(KmsKeyService::new(client, key))
    }

    fn in_region(&self, region: &str) -> SdkConfig {
        self.sdk
            .to_builder()
            .region(Region::new(region.to_owned()))
            .build()
    }

    /// The cold tier (`STRATA_COLD_BUCKET`) with a cache of parsed objects:
    /// every reader of customers' histories reads through it, so a history
    /// is the same before and after the tiering job moved part of it.
    pub fn cold_tier(&self, cache_bytes: u64) -> Result<ColdTier, ConfigError> {
        Ok(ColdTier::new(self.cold_bucket()?).with_cache(cache_bytes))
    }

    /// The cold tier's bucket itself, for the job that writes it.
    pub fn cold_bucket(&self) -> Result<Arc<dyn BlobStore>, ConfigError> {
        let bucket = required(COLD_BUCKET, self.names.cold_bucket.as_deref())?;
        Ok(self.bucket(bucket))
    }

    /// The key table (`STRATA_KEY_TABLE`).
    pub fn key_table(&self) -> Result<Arc<dyn Table>, ConfigError> {
        let name = required(KEY_TABLE, self.names.key_table.as_deref())?;
        Ok(self.other_table(name))
    }

    /// Customers' data keys: wrapped by KMS (`STRATA_PERSONAL_DATA_KEY`),
    /// kept in the key table (`STRATA_KEY_TABLE`).
    pub async fn privacy(&self) -> Result<Arc<Privacy>, DeploymentError> {
        let key = required(PERSONAL_DATA_KEY, self.names.personal_data_key.as_deref());
        let key_table = self.key_table();
        let (key, key_table) = match (key, key_table) {
            (Ok(key), Ok(table)) => (key, table),
            (key, table) => {
                let mut problems = key.err().map(|e| e.problems).unwrap_or_default();
                problems.extend(table.err().map(|e| e.problems).unwrap_or_default());
                return Err(ConfigError { problems }.into());
            }
        };
        Ok(Privacy::open(self.kms_key(key, None), key_table).await?)
    }
}

fn required<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, ConfigError> {
    value.ok_or_else(|| ConfigError {
        problems: [(name.to_owned(), "is required but not set".to_owned())].into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(names: DeploymentNames) -> Deployment {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        Deployment::connect(sdk, names)
    }

    #[tokio::test]
    async fn names_the_variable_a_function_needs_but_lacks() {
        let deployment = deployment(DeploymentNames {
            table: "strata".into(),
            key_table: None,
            personal_data_key: None,
            cold_bucket: None,
        });
        let cold = deployment.cold_tier(1).err().expect("no cold bucket");
        assert_eq!(cold.problems.keys().collect::<Vec<_>>(), [COLD_BUCKET]);
        let Err(DeploymentError::Config(privacy)) = deployment.privacy().await else {
            panic!("privacy without its key and table")
        };
        assert_eq!(
            privacy.problems.keys().collect::<Vec<_>>(),
            [KEY_TABLE, PERSONAL_DATA_KEY]
        );
    }

    #[test]
    fn builds_what_the_environment_names() {
        let deployment = deployment(DeploymentNames {
            table: "strata".into(),
            key_table: Some("strata-keys".into()),
            personal_data_key: Some("arn:aws:kms:us-east-1:1:key/k".into()),
            cold_bucket: Some("strata-cold".into()),
        });
        assert!(deployment.cold_tier(1).is_ok());
        assert!(deployment.key_table().is_ok());
    }
}
