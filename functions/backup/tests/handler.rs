//! The function as the Lambda runs it: the event fixtures in `events/`,
//! parsed as the runtime parses them, handed to `strata_backup::handle`,
//! with the embedded adapters and with the AWS ones against moto.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};
use strata_backup::{Archive, BackupError, BackupService, BackupSettings, EmbeddedTargets};
use strata_domain::ports::table::{Item, Key, Table};
use strata_embedded::{EmbeddedBackend, EmbeddedBlobStore, EmbeddedTable, LocalKeyService};
use strata_lambda_kit::EnvReader;
use strata_snapshot::{SnapshotSource, Vault};
use strata_store::BatchPolicy;
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

/// Sunday's and Monday's scheduled runs, a requested full backup, restores
/// from both stores into `target`, then events the function must refuse.
async fn week_of_backups_then_restore(
    service: &BackupService,
    target: &str,
    restored: impl AsyncFnOnce() -> Arc<dyn Table>,
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

    let forced = strata_backup::handle(service, event("backup-requested.json", &[]))
        .await
        .expect("a requested full backup");
    assert_eq!(forced["kind"], "full");

    let latest = restore(&json!("latest"), target, "snapshots");
    let report = strata_backup::handle(service, latest.clone())
        .await
        .expect("restore");
    assert_eq!(
        report["snapshot"], forced["snapshot"],
        "latest is the newest verified"
    );
    assert_eq!(report["items_restored"], before.len() as u64);
    assert_eq!(report["target_checked"], true);
    let table = restored().await;
    assert_eq!(&dataset::dump(table.as_ref()).await.expect("dump"), before);
    drop(table); // the embedded store opens a table in one place at a time

    // Monday's snapshot may be gone from the snapshot store (retention),
    // but its locked archive copy, with its chain, restores.
    let from_archive = strata_backup::handle(
        service,
        restore(&monday["snapshot"], &format!("{target}-archive"), "archive"),
    )
    .await
    .expect("restore from the archive");
    assert_eq!(from_archive["chain"].as_array().map(Vec::len), Some(2));
    assert_eq!(from_archive["items_restored"], before.len() as u64);

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
    let path = restores.join("strata-restore-drill/table.redb");
    week_of_backups_then_restore(
        &service,
        "strata-restore-drill",
        async || Arc::new(EmbeddedTable::open(&path).expect("restored table")) as Arc<dyn Table>,
        &before,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_week_of_backups_then_restore() {
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
    let env = EnvReader::from_lookup(move |var| vars.get(var).cloned());
    let service = strata_backup::aws::service_from_env(&config, env).expect("configuration");
    let target = name("restored");
    week_of_backups_then_restore(
        &service,
        &target,
        async || Arc::new(strata_aws::DynamoTable::new(dynamodb, target.clone())) as Arc<dyn Table>,
        &before,
    )
    .await;
}

#[test]
fn missing_settings_are_all_named() {
    let env = EnvReader::from_lookup(|var| (var == "STRATA_TABLE").then(|| "t".to_owned()));
    let config = aws_config::SdkConfig::builder().build();
    let Err(error) = strata_backup::aws::service_from_env(&config, env) else {
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
