//! `strata serve`: every function's service on one embedded store. The HTTP
//! routes are the Lambdas' own axum routers merged into one; the scheduled
//! functions run their Lambda handlers on timers with a real-shaped
//! EventBridge event; files dropped into the import folder are stored under
//! `imports/` and handed to the import trigger as an S3 ObjectCreated event.

mod inbox;
mod jobs;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use strata_auth::{Authenticator, Guard, LocalIssuer};
use strata_backup::{Archive, BackupService, BackupSettings, EmbeddedTargets};
use strata_churn::api::ChurnApi;
use strata_churn::model::ChurnModel;
use strata_domain::ReadOptions;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_embedded::EmbeddedBackend;
use strata_ingest::api::ApiState;
use strata_ingest::api::rights::Erasure;
use strata_ingest::import::run::Importer;
use strata_ingest::ingest::Ingestor;
use strata_snapshot::SnapshotSource;
use strata_store::cold::{API_CACHE_BYTES, ColdTier, JOB_CACHE_BYTES};
use strata_store::{CustomerEraser, ErasureLedger, ImportRepository, Privacy, TieringRepository};

pub use inbox::{Inbox, object_created};
pub use jobs::Schedules;

/// An embedded store's table, objects and customers' keys, and the importer
/// on them: what an import needs (no model, no backups).
pub struct Store {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub key_table: Arc<dyn Table>,
    pub privacy: Arc<Privacy>,
    pub importer: Arc<Importer>,
}

impl Store {
    pub async fn open(backend: EmbeddedBackend, options: ReadOptions) -> anyhow::Result<Store> {
        let table: Arc<dyn Table> = Arc::new(backend.table);
        let blobs: Arc<dyn BlobStore> = Arc::new(backend.blobs);
        let key_table: Arc<dyn Table> = Arc::new(backend.key_table);
        let privacy = Privacy::open(Arc::new(backend.personal_keys), key_table.clone())
            .await
            .context("opening the key table of customers' data keys")?;
        let importer = Importer::new(
            Ingestor::new(table.clone(), privacy.clone(), options)
                .with_cold_tier(ColdTier::new(blobs.clone()).with_cache(API_CACHE_BYTES)),
            blobs.clone(),
            ImportRepository::new(table.clone()),
        );
        Ok(Store {
            table,
            blobs,
            key_table,
            privacy,
            importer: Arc::new(importer),
        })
    }
}

/// Every service of Strata on one embedded store.
pub struct Host {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    /// Customers' data keys and the blind index.
    pub privacy: Arc<Privacy>,
    pub importer: Arc<Importer>,
    pub churn_model: Arc<ChurnModel>,
    pub backup: Arc<BackupService>,
    pub tiering: TieringRepository,
    /// The cold tier as the scheduled jobs read it (with an object cache).
    pub cold: ColdTier,
    /// The cold tier as the HTTP API reads it (one history at a time).
    pub api_cold: ColdTier,
    options: ReadOptions,
}

impl Host {
    /// How the host reads input (the shop's currency among it).
    pub fn options(&self) -> ReadOptions {
        self.options
    }

    /// The segment run's settings: the shop's currency, the default consent
    /// policy and scan width.
    pub fn segment_settings(&self) -> strata_engage::SegmentSettings {
        strata_engage::SegmentSettings {
            currency: self.options.currency,
            ..strata_engage::SegmentSettings::default()
        }
    }

    /// Opens (or creates) the store in `data_dir`; backups go to
    /// `<data_dir>/backup` as `strata backup` puts them. Loads the serving
    /// churn model, which needs ONNX Runtime (`ORT_DYLIB_PATH`).
    pub async fn open(data_dir: &Path, options: ReadOptions) -> anyhow::Result<Host> {
        let backend = EmbeddedBackend::open(data_dir)
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let Store {
            table,
            blobs,
            key_table,
            privacy,
            importer,
        } = Store::open(backend, options).await?;
        let churn_model = strata_churn::lambda::serving_model(table.clone(), blobs.clone())
            .await
            .context("loading the churn model (set ORT_DYLIB_PATH to the onnxruntime wheel's libonnxruntime.so; see the README)")?;
        let backup_dir = strata_backup::local::default_backup_dir(data_dir);
        let (snapshots, archive) =
            strata_backup::local::vaults(&backup_dir, &backup_dir.join("archive"))?;
        let backup = BackupService {
            source: SnapshotSource {
                table: table.clone(),
                blobs: Some(blobs.clone()),
                blob_prefixes: strata_backup::local::OBJECT_PREFIXES
                    .iter()
                    .map(|p| (*p).to_owned())
                    .collect(),
                description: format!("embedded:{}", data_dir.display()),
            },
            snapshots,
            archive: Archive { vault: archive },
            targets: Arc::new(EmbeddedTargets {
                root: data_dir.join("restores"),
            }),
            settings: BackupSettings::default(),
        };
        Ok(Host {
            tiering: TieringRepository::new(table.clone(), ColdTier::new(blobs.clone()))
                .with_retention_keys(key_table),
            cold: ColdTier::new(blobs.clone()).with_cache(JOB_CACHE_BYTES),
            api_cold: ColdTier::new(blobs.clone()).with_cache(API_CACHE_BYTES),
            table,
            blobs,
            privacy,
            importer,
            churn_model,
            backup: Arc::new(backup),
            options,
        })
    }

    /// The whole HTTP API: the ingest, churn, recommendation and rewards routers as
    /// their Lambdas serve them, merged, behind the sign-in and access guard
    /// (`Authenticator::Local` verifies tokens with the local key;
    /// `Authenticator::Gateway` reads claims as API Gateway passes them).
    pub fn router(&self, authenticator: Authenticator) -> Router {
        // Erasures are recorded in the ledger beside the snapshots, where
        // `strata erase` and restores find it.
        let ledger = ErasureLedger::new(self.backup.snapshots.blobs.clone());
        let erasure = Erasure {
            eraser: CustomerEraser::new(self.table.clone(), self.privacy.clone(), ledger.clone()),
            ledger,
        };
        let ingest = strata_ingest::api::router(
            ApiState::new(
                self.table.clone(),
                Ingestor::new(self.table.clone(), self.privacy.clone(), self.options)
                    .with_cold_tier(self.api_cold.clone()),
            )
            .with_erasure(erasure),
        );
        let churn = strata_churn::api::router(Arc::new(
            ChurnApi::new(self.table.clone(), self.churn_model.clone())
                .with_cold_tier(self.api_cold.clone()),
        ));
        let recommend = strata_recommend::api::router(Arc::new(
            strata_recommend::api::RecommendApi::new(self.table.clone()),
        ));
        let rewards = strata_value::api::router(Arc::new(strata_value::api::RewardsApi::new(
            self.table.clone(),
            self.options.currency,
        )));
        let engage = strata_engage::api::router(Arc::new(strata_engage::api::EngageApi::new(
            self.table.clone(),
            self.segment_settings(),
        )));
        let guard = Guard::new(
            authenticator,
            self.table.clone(),
            chrono::Duration::days(strata_auth::DEFAULT_AUDIT_RETENTION_DAYS),
        );
        guard.protect(
            ingest
                .merge(churn)
                .merge(recommend)
                .merge(rewards)
                .merge(engage),
        )
    }
}

/// What `strata serve` is told.
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub port: u16,
    pub imports_dir: PathBuf,
    pub schedules: Schedules,
    pub read: ReadOptions,
}

/// Serves until Ctrl-C on 127.0.0.1 only. Every route wants a bearer token
/// signed with the data directory's local key (`strata token`).
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let host = Arc::new(Host::open(&options.data_dir, options.read).await?);
    let issuer = LocalIssuer::open(&options.data_dir)?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
            .await
            .with_context(|| format!("listening on 127.0.0.1:{}", options.port))?;
    let address = listener.local_addr()?;
    let inbox = Inbox::new(&options.imports_dir)?;
    println!(
        "Strata local host on http://{address} (data in {})",
        options.data_dir.display()
    );
    println!(
        "  drop exports into {}/<mapping>/<file> to import them",
        options.imports_dir.display()
    );
    let watcher = tokio::spawn(inbox.watch(host.clone(), Duration::from_secs(1)));
    options.schedules.spawn(host.clone());
    println!(
        "  sign in with a bearer token: strata token --data-dir {} --role admin",
        options.data_dir.display()
    );
    let served = axum::serve(
        listener,
        host.router(Authenticator::Local(Arc::new(issuer))),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    watcher.abort();
    served.context("serving HTTP")
}
