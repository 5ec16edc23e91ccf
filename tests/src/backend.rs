//! The adapters under test, each behind the same ports.

use std::sync::Arc;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use strata_domain::ports::{BlobStore, KeyService, Table};
use strata_store::Privacy;
use tempfile::TempDir;

/// Set by `cargo xtask test` to the moto server it started on 127.0.0.1.
pub const AWS_ENDPOINT_VAR: &str = "STRATA_TEST_AWS_ENDPOINT";
/// Set by `cargo xtask test`: an AWS case that would skip fails instead.
pub const REQUIRE_AWS_VAR: &str = "STRATA_TEST_REQUIRE_AWS";

/// Whether the AWS (moto) cases can run. Without a server (a plain
/// `cargo test -p <crate>`) they skip, and the first to skip prints one line
/// saying how to run them; under `cargo xtask test` a missing server fails.
pub fn moto_available() -> bool {
    if std::env::var_os(AWS_ENDPOINT_VAR).is_some_and(|v| !v.is_empty()) {
        return true;
    }
    if std::env::var_os(REQUIRE_AWS_VAR).is_some() {
        panic!("{REQUIRE_AWS_VAR} is set but {AWS_ENDPOINT_VAR} is not: the AWS cases would skip");
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        // Straight to the process's stderr: libtest captures `eprintln!`.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipping the AWS (moto) cases: {AWS_ENDPOINT_VAR} is not set; \
             `cargo xtask test` starts moto and runs them"
        );
    });
    false
}

/// What a skipped test returns: `()` or `Ok(())`.
pub trait Skipped {
    fn skipped() -> Self;
}

impl Skipped for () {
    fn skipped() {}
}

impl<E> Skipped for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

pub struct Backend {
    pub name: &'static str,
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub keys: Arc<dyn KeyService>,
    /// Customers' data keys (in a key table of their own) and the blind index.
    pub privacy: Arc<Privacy>,
    /// The key table `privacy` keeps its wrapped keys in.
    pub key_table: Arc<dyn Table>,
    /// The key service `privacy` wraps its keys with.
    personal_keys: Arc<dyn KeyService>,
    /// Whether large bodies go up as multipart uploads (S3) rather than one stream (files).
    pub uploads_in_parts: bool,
    /// Where more tables and stores of the same kind are made.
    place: Place,
}

enum Place {
    /// Kept so the embedded data directory lives as long as the backend.
    Embedded(TempDir),
    Aws(Box<aws_config::SdkConfig>),
}

impl Backend {
    /// The embedded backend in a fresh data directory.
    pub async fn embedded() -> anyhow::Result<Backend> {
        let dir = tempfile::tempdir()?;
        let backend = strata_embedded::EmbeddedBackend::open(dir.path())?;
        let key_table: Arc<dyn Table> = Arc::new(backend.key_table);
        let personal_keys: Arc<dyn KeyService> = Arc::new(backend.personal_keys);
        let privacy = Privacy::open(personal_keys.clone(), key_table.clone()).await?;
        Ok(Backend {
            name: "embedded",
            privacy,
            key_table,
            personal_keys,
            table: Arc::new(backend.table),
            blobs: Arc::new(backend.blobs),
            keys: Arc::new(strata_embedded::LocalKeyService::open_in(
                dir.path(),
                "master",
            )?),
            uploads_in_parts: false,
            place: Place::Embedded(dir),
        })
    }

    /// The AWS adapters against the local moto server, in a new table, a
    /// new bucket (with Object Lock, as the backup archive has) and a new
    /// KMS key.
    pub async fn aws() -> anyhow::Result<Backend> {
        let config = moto_config().await?;
        let place = Place::Aws(Box::new(config));
        let key_table = fresh_table(&place).await?;
        let personal_keys = fresh_keys(&place).await?;
        let privacy = Privacy::open(personal_keys.clone(), key_table.clone()).await?;
        Ok(Backend {
            name: "aws",
            privacy,
            key_table,
            personal_keys,
            table: fresh_table(&place).await?,
            blobs: fresh_store(&place, true).await?,
            keys: fresh_keys(&place).await?,
            uploads_in_parts: true,
            place,
        })
    }

    /// Another empty table of the same kind (a restore target).
    pub async fn fresh_table(&self) -> anyhow::Result<Arc<dyn Table>> {
        fresh_table(&self.place).await
    }

    /// Another empty object store of the same kind; on S3 a versioned
    /// bucket, with Object Lock when `locked`.
    pub async fn fresh_store(&self, locked: bool) -> anyhow::Result<Arc<dyn BlobStore>> {
        fresh_store(&self.place, locked).await
    }

    /// Another key table and master key for customers' data keys: a second
    /// deployment's, or a fresh start after losing the first.
    pub async fn fresh_privacy(&self) -> anyhow::Result<Arc<Privacy>> {
        Ok(Privacy::open(
            fresh_keys(&self.place).await?,
            fresh_table(&self.place).await?,
        )
        .await?)
    }

    /// Another function's view of the same keys, trusting what it unwraps
    /// for `ttl` (zero: every read asks the key table).
    pub async fn privacy_with_cache_ttl(
        &self,
        ttl: std::time::Duration,
    ) -> anyhow::Result<Arc<Privacy>> {
        Ok(
            Privacy::open_with_cache_ttl(self.personal_keys.clone(), self.key_table.clone(), ttl)
                .await?,
        )
    }

    /// Another key service with a master key of its own.
    pub async fn fresh_keys(&self) -> anyhow::Result<Arc<dyn KeyService>> {
        fresh_keys(&self.place).await
    }
}

fn unique(kind: &str) -> String {
    format!("strata-{kind}-{}", uuid::Uuid::now_v7().simple())
}

async fn fresh_table(place: &Place) -> anyhow::Result<Arc<dyn Table>> {
    Ok(match place {
        Place::Embedded(dir) => Arc::new(strata_embedded::EmbeddedTable::open(
            &dir.path().join(unique("table")).join("table.redb"),
        )?),
        Place::Aws(config) => {
            let name = unique("table");
            let dynamodb = strata_aws::dynamodb_client(config);
            strata_aws::create_table(&dynamodb, &name)
                .await
                .context("creating a DynamoDB table in moto")?;
            Arc::new(strata_aws::DynamoTable::new(dynamodb, name))
        }
    })
}

async fn fresh_store(place: &Place, locked: bool) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match place {
        Place::Embedded(dir) => Arc::new(strata_embedded::EmbeddedBlobStore::open(
            &dir.path().join(unique("blobs")),
        )?),
        Place::Aws(config) => {
            let bucket = unique("bucket");
            let s3 = strata_aws::s3_client(config);
            if locked {
                strata_aws::create_locked_bucket(&s3, &bucket).await
            } else {
                match strata_aws::create_bucket(&s3, &bucket).await {
                    Ok(()) => strata_aws::enable_versioning(&s3, &bucket).await,
                    Err(error) => Err(error),
                }
            }
            .context("creating an S3 bucket in moto")?;
            Arc::new(strata_aws::S3BlobStore::new(s3, bucket))
        }
    })
}

async fn fresh_keys(place: &Place) -> anyhow::Result<Arc<dyn KeyService>> {
    Ok(match place {
        Place::Embedded(dir) => Arc::new(strata_embedded::LocalKeyService::open_in(
            dir.path(),
            &unique("key"),
        )?),
        Place::Aws(config) => {
            let kms = strata_aws::kms_client(config);
            let key = strata_aws::create_key(&kms, "strata tests")
                .await
                .context("creating a KMS key in moto")?;
            Arc::new(strata_aws::KmsKeyService::new(kms, key))
        }
    })
}

/// Customers' data keys on moto: a new KMS key and a new key table.
pub async fn moto_privacy() -> anyhow::Result<Arc<Privacy>> {
    let place = Place::Aws(Box::new(moto_config().await?));
    Ok(Privacy::open(fresh_keys(&place).await?, fresh_table(&place).await?).await?)
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
