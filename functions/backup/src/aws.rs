//! The service on AWS: DynamoDB, S3 (the snapshot bucket, and the archive
//! bucket, possibly in another region or account) and KMS, named by the
//! function's environment. Built once per cold start by `main`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{Region, SdkConfig};
use strata_aws::{DynamoTable, KmsKeyService, S3BlobStore};
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_lambda_kit::{ConfigError, EnvReader};
use strata_snapshot::{SnapshotSource, Vault};

use crate::service::{Archive, BackupError, BackupService, RestoreTargets};
use crate::settings::BackupSettings;

/// The AWS resources the function works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    pub table: String,
    pub snapshot_bucket: String,
    pub snapshot_key: String,
    pub archive_bucket: String,
    pub archive_key: String,
    /// The archive bucket's region, when not the function's.
    pub archive_region: Option<String>,
    /// Objects under these prefixes of this bucket go into every snapshot.
    pub data_bucket: Option<String>,
    pub object_prefixes: Vec<String>,
}

impl AwsNames {
    pub fn from_env(env: &mut EnvReader) -> AwsNames {
        AwsNames {
            table: env.required("STRATA_TABLE"),
            snapshot_bucket: env.required("STRATA_SNAPSHOT_BUCKET"),
            snapshot_key: env.required("STRATA_BACKUP_KEY"),
            archive_bucket: env.required("STRATA_ARCHIVE_BUCKET"),
            archive_key: env.required("STRATA_ARCHIVE_KEY"),
            archive_region: env.optional("STRATA_ARCHIVE_REGION"),
            data_bucket: env.optional("STRATA_DATA_BUCKET"),
            object_prefixes: env
                .optional("STRATA_BACKUP_OBJECT_PREFIXES")
                .unwrap_or_else(|| "cold/manifests/".into())
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Reads the environment and builds the service; every missing or bad
/// setting is reported at once.
pub fn service_from_env(
    config: &SdkConfig,
    mut env: EnvReader,
) -> Result<BackupService, ConfigError> {
    let names = AwsNames::from_env(&mut env);
    let settings = BackupSettings::from_env(&mut env);
    env.finish()?;
    Ok(service(config, &names, settings))
}

pub fn service(config: &SdkConfig, names: &AwsNames, settings: BackupSettings) -> BackupService {
    let s3 = strata_aws::s3_client(config);
    let dynamodb = strata_aws::dynamodb_client(config);
    let kms = strata_aws::kms_client(config);
    // The archive may live in another region: its clients follow it (KMS
    // keys are regional too).
    let archive_config = match &names.archive_region {
        Some(region) => config
            .to_builder()
            .region(Region::new(region.clone()))
            .build(),
        None => config.clone(),
    };
    let archive = Archive {
        vault: Vault::new(
            Arc::new(S3BlobStore::new(
                strata_aws::s3_client(&archive_config),
                &names.archive_bucket,
            )),
            Arc::new(KmsKeyService::new(
                strata_aws::kms_client(&archive_config),
                &names.archive_key,
            )),
        ),
    };
    BackupService {
        source: SnapshotSource {
            table: Arc::new(DynamoTable::new(dynamodb, &names.table)),
            blobs: names
                .data_bucket
                .as_ref()
                .map(|bucket| Arc::new(S3BlobStore::new(s3.clone(), bucket)) as Arc<dyn BlobStore>),
            blob_prefixes: names.object_prefixes.clone(),
            description: format!("dynamodb:{}", names.table),
        },
        snapshots: Vault::new(
            Arc::new(S3BlobStore::new(s3.clone(), &names.snapshot_bucket)),
            Arc::new(KmsKeyService::new(kms, &names.snapshot_key)),
        ),
        archive,
        targets: Arc::new(AwsTargets {
            config: config.clone(),
        }),
        settings,
    }
}

/// New DynamoDB tables (the schema of `strata_aws::create_table`) and
/// existing buckets.
struct AwsTargets {
    config: SdkConfig,
}

#[async_trait]
impl RestoreTargets for AwsTargets {
    async fn table(&self, name: &str) -> Result<Arc<dyn Table>, BackupError> {
        let dynamodb = strata_aws::dynamodb_client(&self.config);
        strata_aws::create_table(&dynamodb, name)
            .await
            .map_err(|e| BackupError::Target(e.to_string()))?;
        Ok(Arc::new(DynamoTable::new(dynamodb, name)))
    }

    async fn store(&self, name: &str) -> Result<Arc<dyn BlobStore>, BackupError> {
        Ok(Arc::new(S3BlobStore::new(
            strata_aws::s3_client(&self.config),
            name,
        )))
    }
}
