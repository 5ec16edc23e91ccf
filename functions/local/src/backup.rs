//! `strata backup | snapshots | restore | erase`: the backup function's
//! service on the embedded backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, ValueEnum};
use strata_backup::{BackupSettings, local, restore_from};
use strata_domain::access::Role;
use strata_domain::audit::{AuditAction, AuditEntry};
use strata_domain::backup::SnapshotKind;
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_embedded::{EmbeddedBackend, EmbeddedBlobStore, EmbeddedTable};
use strata_lambda_kit::metrics::Metrics;
use strata_snapshot::{CatalogEntry, RestoreOptions, RestoreTarget, Vault};
use strata_store::{AuditLog, CustomerEraser, ErasureLedger, Privacy};

/// Where the data and its backups are.
#[derive(Args, Debug, Clone)]
pub struct Places {
    /// The embedded store backed up (or whose backups are restored).
    #[arg(long, default_value = ".strata/demo")]
    pub data_dir: PathBuf,
    /// Snapshots and key files; `<data-dir>/backup` if not given.
    #[arg(long)]
    pub backup_dir: Option<PathBuf>,
    /// The archive copy; `<backup-dir>/archive` if not given. Point it at
    /// removable or remote storage to keep it out of reach.
    #[arg(long)]
    pub archive_dir: Option<PathBuf>,
}

impl Places {
    fn backup_dir(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| local::default_backup_dir(&self.data_dir))
    }

    fn archive_dir(&self) -> PathBuf {
        self.archive_dir
            .clone()
            .unwrap_or_else(|| self.backup_dir().join("archive"))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Full,
    Incremental,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Source {
    Snapshots,
    Archive,
}

pub async fn backup(places: &Places, kind: Option<Kind>) -> anyhow::Result<()> {
    let backup_dir = places.backup_dir();
    let service = local::service(
        &places.data_dir,
        &backup_dir,
        &places.archive_dir(),
        &backup_dir.join("restores"),
        BackupSettings::default(),
    )
    .with_context(|| format!("opening {}", places.data_dir.display()))?;
    let kind = kind.map(|k| match k {
        Kind::Full => SnapshotKind::Full,
        Kind::Incremental => SnapshotKind::Incremental,
    });
    let mut metrics = Metrics::new("Strata");
    let run = service.run(Utc::now(), kind, &mut metrics).await?;
    println!(
        "snapshot {} ({}{}): {} items, {} stored, {} bytes, verified, in {:.2}s",
        run.snapshot,
        run.kind.name(),
        run.parent
            .as_ref()
            .map(|p| format!(" on {p}"))
            .unwrap_or_default(),
        run.items,
        run.items_stored,
        run.bytes_stored,
        run.seconds
    );
    for copy in &run.archived {
        println!(
            "archived {} ({} objects, locked until {})",
            copy.snapshot, copy.objects, copy.locked_until
        );
    }
    for (store, report) in [("snapshots", &run.pruned), ("archive", &run.archive_pruned)] {
        if let Some(report) = report {
            println!(
                "{store}: {} kept, {} deleted, {} expired but locked",
                report.kept,
                report.deleted.len(),
                report.locked.len()
            );
        }
    }
    Ok(())
}

pub async fn snapshots(places: &Places) -> anyhow::Result<()> {
    let (snapshots, archive) = local::vaults(&places.backup_dir(), &places.archive_dir())?;
    for (name, vault) in [("snapshots", &snapshots), ("archive", &archive)] {
        println!("{name}:");
        for entry in vault.catalog().await? {
            println!("  {}", describe(&entry));
        }
    }
    Ok(())
}

fn describe(entry: &CatalogEntry) -> String {
    let info = entry.info();
    match &entry.manifest {
        Some(manifest) => format!(
            "{}  {:<11}  {:?}  {} items, {} stored, {} bytes{}",
            entry.id,
            manifest.kind.name(),
            info.state,
            manifest.table.items,
            manifest.items_stored(),
            entry.stored_bytes(),
            manifest
                .parent
                .as_ref()
                .map(|p| format!(", on {p}"))
                .unwrap_or_default()
        ),
        None if entry.archived.is_some() => format!(
            "{}  {:<11}  {:?}  manifest archived (thaw it to read), {} bytes",
            entry.id,
            info.kind.name(),
            info.state,
            entry.stored_bytes()
        ),
        None => format!("{}  incomplete  {} bytes", entry.id, entry.stored_bytes()),
    }
}

pub async fn restore(
    places: &Places,
    snapshot: &str,
    into: &Path,
    from: Source,
    allow_non_empty: bool,
) -> anyhow::Result<()> {
    let (snapshots, archive) = local::vaults(&places.backup_dir(), &places.archive_dir())?;
    let (vault, ledgers): (&Vault, Vec<Arc<dyn BlobStore>>) = match from {
        Source::Snapshots => (&snapshots, vec![snapshots.blobs.clone()]),
        Source::Archive => (
            &archive,
            vec![archive.blobs.clone(), snapshots.blobs.clone()],
        ),
    };
    let target = RestoreTarget {
        table: Arc::new(
            EmbeddedTable::open(&into.join("table.redb"))
                .with_context(|| format!("opening {}", into.display()))?,
        ),
        blobs: Some(Arc::new(EmbeddedBlobStore::open(&into.join("blobs"))?)),
    };
    let options = RestoreOptions {
        allow_non_empty,
        ..RestoreOptions::default()
    };
    let report = restore_from(vault, &ledgers, snapshot, &target, &options).await?;
    println!(
        "restored {} (chain {}) into {}: {} items of {}, {} withheld for {} erased customers, {} objects; target {}",
        report.snapshot,
        report.chain.len(),
        into.display(),
        report.items_restored,
        report.items_in_snapshot,
        report.items_withheld,
        report.erased_customers,
        report.objects_restored,
        if report.target_checked {
            "checked item by item"
        } else {
            "not checked (it held items before)"
        }
    );
    println!(
        "verify {:.2}s, write {:.2}s, check {:.2}s",
        report.verify_seconds, report.write_seconds, report.check_seconds
    );
    Ok(())
}

pub async fn erase(places: &Places, customer: &str) -> anyhow::Result<()> {
    let id = CustomerId::parse("customer", customer).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let data = EmbeddedBackend::open(&places.data_dir)?;
    let ledger_store = EmbeddedBlobStore::open(&places.backup_dir().join("snapshots"))?;
    let privacy = Privacy::open(Arc::new(data.personal_keys), Arc::new(data.key_table)).await?;
    let table: Arc<dyn Table> = Arc::new(data.table);
    let eraser = CustomerEraser::new(
        table.clone(),
        privacy,
        ErasureLedger::new(Arc::new(ledger_store)),
    );
    let erased_at = Utc::now();
    let erasure = eraser.erase(id, erased_at).await?;
    // Whoever runs the command on this machine is the administrator who erased.
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    AuditLog::new(
        table,
        chrono::Duration::days(strata_auth::DEFAULT_AUDIT_RETENTION_DAYS),
    )
    .append(&AuditEntry {
        customer_id: id,
        at: erased_at,
        subject: format!("cli:{operator}"),
        role: Role::Admin,
        action: AuditAction::Erase,
        route: "strata erase".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        status: 200,
    })
    .await?;
    println!(
        "erased customer {}: {} items and {} lookups deleted, data key {}; recorded in the erasure ledger",
        erasure.customer_id,
        erasure.partition_items,
        erasure.lookups,
        if erasure.key_destroyed {
            "destroyed"
        } else {
            "already gone"
        }
    );
    Ok(())
}
