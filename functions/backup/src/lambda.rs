//! The backup function (`backup-job`) on AWS: DynamoDB, S3 (the snapshot
//! bucket, and the archive bucket, possibly in another region or account)
//! and KMS, named by the function's environment and built once per cold
//! start from the deployment (`strata_aws::Deployment`).

use std::sync::Arc;

use async_trait::async_trait;
use strata_aws::Deployment;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_lambda_kit::EnvReader;
use strata_snapshot::{SnapshotSource, Vault};

use crate::service::{Archive, BackupError, BackupService, RestoreTargets};
use crate::settings::BackupSettings;

/// The backup function's own settings (the table is the deployment's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub snapshot_bucket: String,
    pub snapshot_key: String,
    pub archive_bucket: String,
    pub archive_key: String,
    /// The archive bucket's region, when not the function's.
    pub archive_region: Option<String>,
    /// Objects under these prefixes of this bucket go into every snapshot.
    pub data_bucket: Option<String>,
    pub object_prefixes: Vec<String>,
    pub backup: BackupSettings,
}

impl Settings {
    /// Reads every setting, collecting problems in `env`.
    pub fn from_env(env: &mut EnvReader) -> Settings {
        Settings {
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
            backup: BackupSettings::from_env(env),
        }
    }
}

/// The service: snapshots of the deployment's table (and the data bucket's
/// objects) sealed with the backup key, copies in the archive, which may
/// live in another region (its bucket's and key's clients follow it).
pub fn service(deployment: &Deployment, settings: Settings) -> BackupService {
    let region = settings.archive_region.as_deref();
    BackupService {
        source: SnapshotSource {
            table: deployment.table(),
            blobs: settings
                .data_bucket
                .as_ref()
                .map(|bucket| deployment.bucket(bucket)),
            blob_prefixes: settings.object_prefixes.clone(),
            description: format!("dynamodb:{}", deployment.table_name()),
        },
        snapshots: Vault::new(
            deployment.bucket(&settings.snapshot_bucket),
            deployment.kms_key(&settings.snapshot_key, None),
        ),
        archive: Archive {
            vault: Vault::new(
                deployment.bucket_in(&settings.archive_bucket, region),
                deployment.kms_key(&settings.archive_key, region),
            ),
        },
        targets: Arc::new(AwsTargets {
            deployment: deployment.clone(),
        }),
        settings: settings.backup,
    }
}

/// New DynamoDB tables (the schema of `strata_aws::create_table`) and
/// existing buckets.
struct AwsTargets {
    deployment: Deployment,
}

#[async_trait]
impl RestoreTargets for AwsTargets {
    async fn table(&self, name: &str) -> Result<Arc<dyn Table>, BackupError> {
        strata_aws::create_table(self.deployment.dynamodb(), name)
            .await
            .map_err(|e| BackupError::Target(e.to_string()))?;
        Ok(self.deployment.other_table(name))
    }

    async fn store(&self, name: &str) -> Result<Arc<dyn BlobStore>, BackupError> {
        Ok(self.deployment.bucket(name))
    }
}
