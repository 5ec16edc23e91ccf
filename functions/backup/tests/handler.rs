//! The function as the Lambda runs it: the event fixtures in `events/`,
//! parsed as the runtime parses them, handed to `strata_backup::handle`,
//! with the embedded adapters and with the AWS ones against moto.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};
use strata_backup::{Archive, BackupError, BackupService, BackupSettings, EmbeddedTargets};
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::{BlobStore, StorageClass};
use strata_domain::ports::table::{self, Item, Key, Table};
use strata_embedded::{EmbeddedBackend, EmbeddedBlobStore, EmbeddedTable, LocalKeyService};
use strata_lambda_kit::EnvReader;
use strata_snapshot::{SnapshotSource, Vault};
use strata_store::{BatchPolicy, CustomerEraser, ErasureLedger};
use strata_tests::backend::Backend;
use strata_tests::dataset;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The event as the runtime hands it over, with fields changed.
fn event(name: &str, changes: &[(&str, Value)]) -> EventBridgeEvent<Value> {
    let mut raw = fixture(name);
    for (field, value) in changes {
        raw[*field] = value.clone();
    }
    serde_json::from_value(raw).expect("an EventBridge event")
}

/// The restore fixture, asking for `snapshot` into `table` from `from`.
fn restore(snapshot: &Value, table: &str, from: &str) -> EventBridgeEvent<Value> {
    let detail = json!({"snapshot": snapshot, "target_table": table, "from": from});
    event("backup-restore-requested.json", &[("detail", detail)])
}

async fn load(table: Arc<dyn Table>) -> BTreeMap<Key, Item> {
    let shop = dataset::generate(40, 2, 11).expect("dataset");
    dataset::load(table.clone(), &shop, BatchPolicy::default())
        .await
        .expect("load");
    dataset::dump(table.as_ref()).await.expect("dump")
}

/// Erases the first customer of `items` from the service's table, as
/// `strata erase` does, recording it in the ledger next to the snapshots.
async fn erase_one(service: &BackupService, items: &BTreeMap<Key, Item>) -> CustomerId {
    let victim = items
        .keys()
        .find_map(|key| key.pk.strip_prefix("CUST#"))
        .and_then(|raw| CustomerId::parse("pk", raw).ok())
        .expect("a customer");
    let ledger = ErasureLedger::new(service.snapshots.blobs.clone());
    let privacy = dataset::process_privacy().await.expect("key table");
    CustomerEraser::new(service.source.table.clone(), privacy, ledger)
        .erase(victim, chrono::Utc::now())
        .await
        .expect("erase");
    victim
}

/// Whether an item is the customer's: in their partition, or a lookup
/// pointing at them.
fn belongs_to(key: &Key, item: &Item, customer: &CustomerId) -> bool {
    key.pk == format!("CUST#{customer}")
        || item.get("customer_id") == Some(&table::Value::S(customer.to_string()))
}

/// Sunday's and Monday's scheduled runs, a requested full backup, restores
/// from both stores into `target`, then events the function must refuse.
async fn week_of_backups_then_restore(
    service: &BackupService,
    target: &str,
    restored: impl AsyncFn(String) -> Arc<dyn Table>,
    before: &BTreeMap<Key, Item>,
) {
    // 2026-11-22 is a Sunday: the full snapshot's day.
    let sunday = strata_backup::handle(service, event("backup-scheduled.json", &[]))
        .await
        .expect("Sunday's run");
    assert_eq!(sunday["kind"], "full");
    assert_eq!(sunday["items"], before.len() as u64);
    assert_eq!(sunday["archived"].as_array().map(Vec::len), Some(1));

    let monday_event = event(
        "backup-scheduled.json",
        &[("time", json!("2026-11-23T03:00:00Z"))],
    );
    let monday = strata_backup::handle(service, monday_event)
        .await
        .expect("Monday's run");
    assert_eq!(monday["kind"], "incremental");
    assert_eq!(monday["parent"], sunday["snapshot"]);
    assert_eq!(monday["items_stored"], 0, "nothing changed since Sunday");
    assert_eq!(monday["archived"][0]["snapshot"], monday["snapshot"]);

    // A customer erased after Monday's snapshot, through the ledger kept
    // with the snapshots; the next run mirrors the ledger into the archive.
    let victim = erase_one(service, before).await;
    let after_erasure: BTreeMap<Key, Item> = before
        .iter()
        .filter(|(key, item)| !belongs_to(key, item, &victim))
        .map(|(key, item)| (key.clone(), item.clone()))
        .collect();
    assert!(after_erasure.len() < before.len());

    let forced = strata_backup::handle(service, event("backup-requested.json", &[]))
        .await
        .expect("a requested full backup");
    assert_eq!(forced["kind"], "full");
    assert_eq!(forced["erasures_archived"], 1);

    let latest = restore(&json!("latest"), target, "snapshots");
    let report = strata_backup::handle(service, latest.clone())
        .await
        .expect("restore");
    assert_eq!(
        report["snapshot"], forced["snapshot"],
        "latest is the newest verified"
    );
    assert_eq!(report["items_restored"], after_erasure.len() as u64);
    assert_eq!(report["target_checked"], true);
    let table = restored(target.to_owned()).await;
    assert_eq!(
        dataset::dump(table.as_ref()).await.expect("dump"),
        after_erasure
    );
    drop(table); // the embedded store opens a table in one place at a time

    // Monday's snapshot still holds the erased customer, and may be gone
    // from the snapshot store (retention), but its locked archive copy,
    // with its chain, restores, and the archive's ledger withholds them.
    let archive_target = format!("{target}-archive");
    let from_archive = strata_backup::handle(
        service,
        restore(&monday["snapshot"], &archive_target, "archive"),
    )
    .await
    .expect("restore from the archive");
    assert_eq!(from_archive["chain"].as_array().map(Vec::len), Some(2));
    assert_eq!(from_archive["items_restored"], after_erasure.len() as u64);
    assert_eq!(
        from_archive["items_withheld"],
        (before.len() - after_erasure.len()) as u64
    );
    let table = restored(archive_target).await;
    assert_eq!(
        dataset::dump(table.as_ref()).await.expect("dump"),
        after_erasure
    );
    drop(table);
    let mirrored = ErasureLedger::new(service.archive.vault.blobs.clone())
        .erased()
        .await
        .expect("the archive's ledger");
    assert_eq!(mirrored.ids().collect::<Vec<_>>(), vec![victim]);

    let unknown = strata_backup::handle(
        service,
        event(
            "backup-scheduled.json",
            &[("detail-type", json!("Object Created"))],
        ),
    )
    .await;
    assert!(
        matches!(unknown, Err(BackupError::UnknownEvent(_))),
        "{unknown:?}"
    );
    let bad = strata_backup::handle(service, restore(&json!("../etc"), "x", "snapshots")).await;
    assert!(
        matches!(bad, Err(BackupError::InvalidRequest(_))),
        "{bad:?}"
    );
    let occupied = strata_backup::handle(service, latest).await;
    assert!(
        occupied
            .as_ref()
            .is_err_and(|e| e.to_string().contains("already holds items")),
        "{occupied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_week_of_backups_then_restore() {
    let dir = tempfile::tempdir().expect("dir");
    let data = EmbeddedBackend::open(&dir.path().join("data")).expect("store");
    let table: Arc<dyn Table> = Arc::new(data.table);
    let before = load(table.clone()).await;
    let backups = dir.path().join("backup");
    let vault = |name: &str| {
        Vault::new(
            Arc::new(EmbeddedBlobStore::open(&backups.join(name)).expect("store")),
            Arc::new(LocalKeyService::open_in(&backups, name).expect("key")),
        )
    };
    let restores = dir.path().join("restores");
    let service = BackupService {
        source: SnapshotSource {
            table,
            blobs: Some(Arc::new(data.blobs)),
            blob_prefixes: vec!["cold/manifests/".into()],
            description: "embedded test".into(),
        },
        snapshots: vault("snapshots"),
        archive: Archive {
            vault: vault("archive"),
        },
        targets: Arc::new(EmbeddedTargets {
            root: restores.clone(),
        }),
        settings: BackupSettings::default(),
    };
    week_of_backups_then_restore(
        &service,
        "strata-restore-drill",
        async |name| {
            let path = restores.join(name).join("table.redb");
            Arc::new(EmbeddedTable::open(&path).expect("restored table")) as Arc<dyn Table>
        },
        &before,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_week_of_backups_then_restore() {
    strata_tests::require_moto!();
    let config = strata_tests::backend::moto_config().await.expect("moto");
    let suffix = unique_suffix();
    let name = |what: &str| format!("strata-fn-{what}-{suffix}");
    let (dynamodb, s3, kms) = (
        strata_aws::dynamodb_client(&config),
        strata_aws::s3_client(&config),
        strata_aws::kms_client(&config),
    );
    strata_aws::create_table(&dynamodb, &name("table"))
        .await
        .expect("table");
    strata_aws::create_bucket(&s3, &name("snapshots"))
        .await
        .expect("bucket");
    strata_aws::enable_versioning(&s3, &name("snapshots"))
        .await
        .expect("versioning");
    strata_aws::create_locked_bucket(&s3, &name("archive"))
        .await
        .expect("bucket");
    let backup_key = strata_aws::create_key(&kms, "backups").await.expect("key");
    let archive_key = strata_aws::create_key(&kms, "archive").await.expect("key");
    let table: Arc<dyn Table> = Arc::new(strata_aws::DynamoTable::new(
        dynamodb.clone(),
        name("table"),
    ));
    let before = load(table).await;

    // The environment the template gives the function.
    let vars = HashMap::from([
        ("STRATA_TABLE", name("table")),
        ("STRATA_SNAPSHOT_BUCKET", name("snapshots")),
        ("STRATA_BACKUP_KEY", backup_key),
        ("STRATA_ARCHIVE_BUCKET", name("archive")),
        ("STRATA_ARCHIVE_KEY", archive_key),
        ("STRATA_BACKUP_SEGMENTS", "4".to_owned()),
        ("STRATA_ARCHIVE_LOCK_DAYS", "1".to_owned()),
    ]);
    let mut env = EnvReader::from_lookup(move |var| vars.get(var).cloned());
    let names = strata_aws::DeploymentNames::read(&mut env);
    let settings = strata_backup::lambda::Settings::from_env(&mut env);
    env.finish().expect("configuration");
    let deployment = strata_aws::Deployment::connect(config.clone(), names);
    let service = strata_backup::lambda::service(&deployment, settings);
    let target = name("restored");
    week_of_backups_then_restore(
        &service,
        &target,
        async |name| {
            Arc::new(strata_aws::DynamoTable::new(dynamodb.clone(), name)) as Arc<dyn Table>
        },
        &before,
    )
    .await;
}

#[test]
fn missing_settings_are_all_named() {
    let mut env = EnvReader::from_lookup(|var| (var == "STRATA_TABLE").then(|| "t".to_owned()));
    strata_aws::DeploymentNames::read(&mut env);
    strata_backup::lambda::Settings::from_env(&mut env);
    let Err(error) = env.finish() else {
        panic!("the configuration is incomplete");
    };
    let named: Vec<&String> = error.problems.keys().collect();
    assert_eq!(
        named,
        [
            "STRATA_ARCHIVE_BUCKET",
            "STRATA_ARCHIVE_KEY",
            "STRATA_BACKUP_KEY",
            "STRATA_SNAPSHOT_BUCKET"
        ]
    );
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// What the archive bucket's lifecycle does after a day: every copy,
/// manifests included, moves to Deep Archive.
async fn move_to_deep_archive(store: &dyn BlobStore) {
    let mut continuation = None;
    loop {
        let page = store
            .list("snapshots/", continuation, 1000)
            .await
            .expect("list");
        for object in page
            .objects
            .into_iter()
            .filter(|o| o.storage_class.is_instantly_readable())
        {
            store
                .copy(&object.key, &object.key, StorageClass::DeepArchive)
                .await
                .expect("transition");
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
}

/// Copies in Deep Archive are still copies: the next run neither copies
/// them again nor loses track of them for retention, and a restore of one
/// says it must be thawed first.
async fn copies_in_deep_archive_are_not_copied_again(b: &Backend) {
    load(b.table.clone()).await;
    let restores = tempfile::tempdir().expect("dir");
    let service = BackupService {
        source: SnapshotSource {
            table: b.table.clone(),
            blobs: None,
            blob_prefixes: Vec::new(),
            description: format!("{} test", b.name),
        },
        snapshots: Vault::new(b.fresh_store(false).await.expect("store"), b.keys.clone()),
        archive: Archive {
            vault: Vault::new(
                b.fresh_store(true).await.expect("locked store"),
                b.fresh_keys().await.expect("key"),
            ),
        },
        targets: Arc::new(EmbeddedTargets {
            root: restores.path().to_owned(),
        }),
        settings: BackupSettings::default(),
    };
    let archive = service.archive.vault.blobs.clone();
    let first = strata_backup::handle(&service, event("backup-scheduled.json", &[]))
        .await
        .expect("first run");
    assert_eq!(first["archived"].as_array().map(Vec::len), Some(1));
    move_to_deep_archive(archive.as_ref()).await;

    let second = strata_backup::handle(&service, event("backup-requested.json", &[]))
        .await
        .expect("second run");
    let archived: Vec<&Value> = second["archived"]
        .as_array()
        .expect("archived")
        .iter()
        .map(|copy| &copy["snapshot"])
        .collect();
    assert_eq!(
        archived,
        vec![&second["snapshot"]],
        "only the new snapshot is copied"
    );
    // One copy a week is kept in the archive, so retention lets the first
    // go: deleted, or refused by its lock. (Simulated by a copy, the move
    // makes a new, unlocked version in S3, while the embedded store keeps
    // the lock; a real lifecycle transition keeps the locked version.)
    let pruned = &second["archive_pruned"];
    let let_go: Vec<&Value> = pruned["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .chain(
            pruned["locked"]
                .as_array()
                .expect("locked")
                .iter()
                .map(|refusal| &refusal[0]),
        )
        .collect();
    assert_eq!(let_go, vec![&first["snapshot"]], "{pruned}");

    move_to_deep_archive(archive.as_ref()).await;
    let refused = strata_backup::handle(
        &service,
        restore(&json!("latest"), "strata-restore-thaw", "archive"),
    )
    .await
    .expect_err("an archived copy cannot be read before it is thawed");
    let message = refused.to_string();
    assert!(
        message.contains(second["snapshot"].as_str().expect("id"))
            && message.contains("must be restored before it can be read"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_copies_in_deep_archive_are_not_copied_again() {
    let backend = Backend::embedded().await.expect("backend");
    copies_in_deep_archive_are_not_copied_again(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_copies_in_deep_archive_are_not_copied_again() {
    strata_tests::require_moto!();
    let backend = Backend::aws().await.expect("backend");
    copies_in_deep_archive_are_not_copied_again(&backend).await;
}
