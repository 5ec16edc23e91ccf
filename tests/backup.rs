//! Backup drills, run against the embedded backend and against moto: back
//! up, wipe, restore, compare item by item; incremental chains; damaged
//! snapshots refused before anything is written; erasures that survive a
//! restore; locked archive copies; retention.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use strata_domain::backup::{
    NextSnapshot, RetentionPolicy, SnapshotId, SnapshotKind, SnapshotState,
};
use strata_domain::ports::blob::{BlobError, PutOptions, StorageClass, body_from, collect};
use strata_domain::ports::table::{Item, Key, Table, Value, WriteRequest};
use strata_snapshot::{
    Manifest, RestoreOptions, RestoreTarget, SnapshotError, SnapshotSettings, SnapshotSource,
    StreamSettings, Vault, apply_retention, archive_lock, archive_snapshot, mark_verified,
    object_key, restore_snapshot, take_snapshot, verify_snapshot,
};
use strata_store::{
    BatchPolicy, CustomerEraser, CustomerRepository, ErasedCustomers, ErasureLedger, Privacy,
    StoreError, write_all,
};
use strata_tests::backend::Backend;
use strata_tests::dataset;

macro_rules! drills {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let backend = strata_tests::backend::Backend::embedded().await.expect("backend");
                    super::$case(&backend).await;
                }
            )+
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    strata_tests::require_moto!();
                    let backend = strata_tests::backend::Backend::aws().await.expect("backend");
                    super::$case(&backend).await;
                }
            )+
        }
    };
}

drills!(
    backup_wipe_restore_gives_back_every_item_unchanged,
    incremental_chains_restore_each_state_exactly,
    damaged_snapshots_are_refused_before_anything_is_written,
    customers_erased_after_a_snapshot_stay_erased_after_restoring_it,
    non_empty_targets_are_refused_unless_allowed,
    archive_copies_are_locked_and_restore_with_the_archive_key_alone,
    retention_keeps_the_newest_verified_chain_and_deletes_the_rest,
    cold_tier_objects_are_backed_up_and_restored,
    snapshots_in_deep_archive_stay_known_to_retention_and_refuse_to_restore_until_thawed,
);

const COLD: &str = "cold/manifests/";

/// Small chunks, so every stream spans many sealed chunks.
fn settings() -> SnapshotSettings {
    SnapshotSettings {
        segments: 4,
        stream: StreamSettings {
            chunk_bytes: 16 * 1024,
            zstd_level: 3,
        },
        ..SnapshotSettings::default()
    }
}

fn source(b: &Backend) -> SnapshotSource {
    SnapshotSource {
        table: b.table.clone(),
        blobs: Some(b.blobs.clone()),
        blob_prefixes: vec![COLD.into()],
        description: format!("{} test table", b.name),
    }
}

async fn vault(b: &Backend) -> Vault {
    Vault::new(b.fresh_store(false).await.expect("store"), b.keys.clone())
}

async fn load_shop(
    privacy: &Arc<Privacy>,
    table: &Arc<dyn Table>,
    customers: usize,
    seed: u64,
) -> dataset::Shop {
    let shop = dataset::generate(customers, 2, seed).expect("dataset");
    dataset::load_with(
        table.clone(),
        privacy.clone(),
        &shop,
        BatchPolicy::default(),
    )
    .await
    .expect("load");
    shop
}

/// Takes a snapshot, reads it back and marks it verified.
async fn snapshot(b: &Backend, vault: &Vault, next: NextSnapshot, at: DateTime<Utc>) -> Manifest {
    let manifest = take_snapshot(&source(b), vault, &next, 0, &settings(), at)
        .await
        .expect("snapshot");
    let marker = verify_snapshot(vault, &manifest.id).await.expect("verify");
    mark_verified(vault, &marker).await.expect("mark");
    manifest
}

async fn restore_into(
    vault: &Vault,
    id: &SnapshotId,
    table: Arc<dyn Table>,
    erased: &ErasedCustomers,
) -> Result<strata_snapshot::RestoreReport, SnapshotError> {
    let target = RestoreTarget { table, blobs: None };
    restore_snapshot(vault, id, &target, erased, &RestoreOptions::default()).await
}

async fn dump(table: &dyn Table) -> BTreeMap<Key, Item> {
    dataset::dump(table).await.expect("dump")
}

async fn backup_wipe_restore_gives_back_every_item_unchanged(b: &Backend) {
    let shop = load_shop(&b.privacy, &b.table, 150, 1).await;
    let before = dump(b.table.as_ref()).await;
    assert_eq!(before.len(), shop.items());
    let vault = vault(b).await;
    let manifest = snapshot(b, &vault, NextSnapshot::Full, Utc::now()).await;
    assert_eq!(manifest.table.items, before.len() as u64);
    assert_eq!(manifest.items_stored(), before.len() as u64);
    assert!(
        manifest
            .table
            .segment_entries
            .iter()
            .all(|s| s.items.records > 0)
    );

    assert_eq!(
        dataset::wipe(b.table.as_ref()).await.expect("wipe"),
        before.len()
    );
    assert!(dump(b.table.as_ref()).await.is_empty());

    let report = restore_into(
        &vault,
        &manifest.id,
        b.table.clone(),
        &ErasedCustomers::default(),
    )
    .await
    .expect("restore");
    assert_eq!(report.items_restored, before.len() as u64);
    assert_eq!(report.chain, vec![manifest.id.clone()]);
    assert!(report.target_checked);
    let after = dump(b.table.as_ref()).await;
    for (key, item) in &before {
        assert_eq!(after.get(key), Some(item), "{key:?} restored unchanged");
    }
    assert_eq!(after.len(), before.len());
}

async fn incremental_chains_restore_each_state_exactly(b: &Backend) {
    let table = b.table.clone();
    let shop = load_shop(&b.privacy, &table, 80, 2).await;
    let vault = vault(b).await;
    let start = Utc::now() - Duration::hours(3);
    let full = snapshot(b, &vault, NextSnapshot::Full, start).await;
    let state0 = dump(table.as_ref()).await;

    // Change some profiles, delete some orders, add customers.
    let mut writes: Vec<WriteRequest> = Vec::new();
    let mut changed = 0;
    for (key, item) in state0.iter().filter(|(k, _)| k.sk == "PROFILE").take(7) {
        let mut item = item.clone();
        item.insert("segment".into(), Value::S(format!("vip-{}", key.pk)));
        writes.push(WriteRequest::Put(item));
        changed += 1;
    }
    let deleted: Vec<Key> = state0
        .keys()
        .filter(|k| k.sk.starts_with("ORDER#"))
        .take(5)
        .cloned()
        .collect();
    writes.extend(deleted.iter().cloned().map(WriteRequest::Delete));
    write_all(table.as_ref(), writes, BatchPolicy::default())
        .await
        .expect("changes");
    let added = load_shop(&b.privacy, &table, 10, 3).await.items();
    let first = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: full.id.clone(),
        },
        start + Duration::hours(1),
    )
    .await;
    let state1 = dump(table.as_ref()).await;
    assert_eq!(first.parent.as_ref(), Some(&full.id));
    assert_eq!(
        first.items_stored(),
        (changed + added) as u64,
        "only what changed is stored"
    );
    let gone: u64 = first.table.segment_entries.iter().map(|s| s.deleted).sum();
    assert_eq!(gone, deleted.len() as u64);
    assert_eq!(first.table.items, state1.len() as u64);
    assert!(first.stored_bytes() < full.stored_bytes());

    // Delete a customer's whole partition; change an order.
    let victim = &shop.customers[0];
    let partition = format!("CUST#{}", victim.id);
    let mut writes: Vec<WriteRequest> = state1
        .keys()
        .filter(|k| k.pk == partition)
        .cloned()
        .map(WriteRequest::Delete)
        .collect();
    if let Some((_, order)) = state1
        .iter()
        .find(|(k, _)| k.sk.starts_with("ORDER#") && k.pk != partition)
    {
        let mut order = order.clone();
        order.insert("status".into(), Value::S("refunded".into()));
        writes.push(WriteRequest::Put(order));
    }
    write_all(table.as_ref(), writes, BatchPolicy::default())
        .await
        .expect("changes");
    let second = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: first.id.clone(),
        },
        start + Duration::hours(2),
    )
    .await;
    let state2 = dump(table.as_ref()).await;

    for (manifest, state) in [(&second, &state2), (&first, &state1), (&full, &state0)] {
        let target = b.fresh_table().await.expect("table");
        let report = restore_into(
            &vault,
            &manifest.id,
            target.clone(),
            &ErasedCustomers::default(),
        )
        .await
        .expect("restore");
        assert_eq!(
            &dump(target.as_ref()).await,
            state,
            "{} restores its state",
            manifest.id
        );
        assert_eq!(report.items_restored, state.len() as u64);
        assert_eq!(report.chain.last(), Some(&manifest.id));
        assert_eq!(report.chain.first(), Some(&full.id));
    }
}

/// Replaces an object of the vault with other bytes.
async fn replace(vault: &Vault, key: &str, bytes: Vec<u8>) {
    vault
        .blobs
        .put(key, body_from(bytes), PutOptions::default())
        .await
        .expect("replace");
}

async fn read(vault: &Vault, key: &str) -> Vec<u8> {
    collect(vault.blobs.get(key).await.expect("get").body)
        .await
        .expect("body")
}

async fn damaged_snapshots_are_refused_before_anything_is_written(b: &Backend) {
    load_shop(&b.privacy, &b.table, 60, 4).await;
    let vault = vault(b).await;
    let full = snapshot(b, &vault, NextSnapshot::Full, Utc::now()).await;
    let items = object_key(&full.id, &full.table.segment_entries[1].items.object);
    let other_items = object_key(&full.id, &full.table.segment_entries[3].items.object);
    let manifest_key = object_key(&full.id, "manifest.json");
    let original_items = read(&vault, &items).await;
    let original_manifest = read(&vault, &manifest_key).await;

    let mut flipped = original_items.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    let truncated = original_items[..original_items.len() - 100].to_vec();
    let edited_manifest = String::from_utf8(original_manifest.clone())
        .expect("utf-8")
        .replacen("\"records\": ", "\"records\": 1", 1)
        .into_bytes();

    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("a flipped bit", items.clone(), flipped, "authentication"),
        ("a truncated object", items.clone(), truncated, "truncated"),
        (
            "an edited manifest",
            manifest_key.clone(),
            edited_manifest,
            "tag",
        ),
        (
            "another segment's items",
            items.clone(),
            read(&vault, &other_items).await,
            "replaced",
        ),
    ];
    for (what, key, bytes, says) in cases {
        let original = read(&vault, &key).await;
        replace(&vault, &key, bytes).await;
        let target = b.fresh_table().await.expect("table");
        let error = restore_into(
            &vault,
            &full.id,
            target.clone(),
            &ErasedCustomers::default(),
        )
        .await
        .expect_err(what);
        let message = error.to_string();
        assert!(
            matches!(error, SnapshotError::Corrupt { .. }),
            "{what}: expected a damaged-snapshot error, got {message}"
        );
        assert!(message.contains(says), "{what}: {message}");
        assert!(
            target
                .scan(0, 1, None, None)
                .await
                .expect("scan")
                .items
                .is_empty(),
            "{what}: nothing was written"
        );
        assert!(
            verify_snapshot(&vault, &full.id).await.is_err(),
            "{what}: verify fails too"
        );
        replace(&vault, &key, original).await;
    }
    vault.blobs.delete(&items).await.expect("delete");
    let missing = restore_into(
        &vault,
        &full.id,
        b.fresh_table().await.expect("table"),
        &ErasedCustomers::default(),
    )
    .await
    .expect_err("a missing object");
    assert!(missing.to_string().contains("missing"), "{missing}");
    assert_eq!(original_manifest, read(&vault, &manifest_key).await);
}

async fn customers_erased_after_a_snapshot_stay_erased_after_restoring_it(b: &Backend) {
    let shop = load_shop(&b.privacy, &b.table, 50, 5).await;
    let before = dump(b.table.as_ref()).await;
    let vault = vault(b).await;
    let full = snapshot(b, &vault, NextSnapshot::Full, Utc::now()).await;

    let ledger = ErasureLedger::new(vault.blobs.clone());
    let eraser = CustomerEraser::new(b.table.clone(), b.privacy.clone(), ledger.clone());
    let erased_ids: Vec<_> = shop.customers.iter().take(3).map(|c| c.id).collect();
    for id in &erased_ids {
        eraser.erase(*id, Utc::now()).await.expect("erase");
    }
    let erased = ledger.erased().await.expect("ledger");
    assert_eq!(erased.len(), 3);

    let target = b.fresh_table().await.expect("table");
    let report = restore_into(&vault, &full.id, target.clone(), &erased)
        .await
        .expect("restore");
    let per_customer = dataset::items_per_customer(2) as u64;
    assert_eq!(report.items_withheld, 3 * per_customer);
    assert_eq!(
        report.items_restored,
        before.len() as u64 - 3 * per_customer
    );
    let restored = dump(target.as_ref()).await;
    for id in &erased_ids {
        let mentions = restored
            .iter()
            .filter(|(key, item)| {
                key.pk == format!("CUST#{id}")
                    || item.get("customer_id") == Some(&Value::S(id.to_string()))
            })
            .count();
        assert_eq!(mentions, 0, "nothing of erased customer {id} came back");
    }
    for (key, item) in &restored {
        assert_eq!(before.get(key), Some(item));
    }

    // Crypto-shredding: restored without the ledger (lost, or an old copy of
    // the snapshot found elsewhere), the erased customers' items come back,
    // but their personal data stays unreadable: their keys are destroyed.
    let unguarded = b.fresh_table().await.expect("table");
    restore_into(
        &vault,
        &full.id,
        unguarded.clone(),
        &ErasedCustomers::default(),
    )
    .await
    .expect("restore without the ledger");
    let customers = CustomerRepository::new(unguarded.clone(), b.privacy.clone());
    let raw = dump(unguarded.as_ref()).await;
    for id in &erased_ids {
        let read = customers.get(*id).await;
        assert!(
            matches!(read, Err(StoreError::Erased { customer }) if customer == *id),
            "erased customer {id} read back as {read:?}"
        );
        let email = shop
            .customers
            .iter()
            .find(|c| c.id == *id)
            .and_then(|c| c.identity.email.clone())
            .expect("generated customers have e-mail addresses");
        let text = format!("{raw:?}");
        assert!(
            !text.contains(email.as_str()),
            "plaintext e-mail in a raw item"
        );
    }
    let kept = &shop.customers[3];
    let read = customers.get(kept.id).await.expect("read").expect("kept");
    assert_eq!(
        read.identity, kept.identity,
        "other customers stay readable"
    );
}

async fn non_empty_targets_are_refused_unless_allowed(b: &Backend) {
    load_shop(&b.privacy, &b.table, 10, 6).await;
    let vault = vault(b).await;
    let full = snapshot(b, &vault, NextSnapshot::Full, Utc::now()).await;
    let refused = restore_into(
        &vault,
        &full.id,
        b.table.clone(),
        &ErasedCustomers::default(),
    )
    .await;
    assert!(
        matches!(refused, Err(SnapshotError::TargetNotEmpty)),
        "{refused:?}"
    );
    let options = RestoreOptions {
        allow_non_empty: true,
        ..RestoreOptions::default()
    };
    let target = RestoreTarget {
        table: b.table.clone(),
        blobs: None,
    };
    let report = restore_snapshot(
        &vault,
        &full.id,
        &target,
        &ErasedCustomers::default(),
        &options,
    )
    .await
    .expect("an allowed restore over existing items");
    assert!(!report.target_checked);
}

async fn archive_copies_are_locked_and_restore_with_the_archive_key_alone(b: &Backend) {
    load_shop(&b.privacy, &b.table, 40, 7).await;
    let before = dump(b.table.as_ref()).await;
    let vault = vault(b).await;
    let archive = Vault::new(
        b.fresh_store(true).await.expect("locked store"),
        b.fresh_keys().await.expect("archive key"),
    );
    let older = snapshot(
        b,
        &vault,
        NextSnapshot::Full,
        Utc::now() - Duration::days(3),
    )
    .await;
    let newer = snapshot(b, &vault, NextSnapshot::Full, Utc::now()).await;
    for manifest in [&older, &newer] {
        let lock = archive_lock(Utc::now(), 1);
        let copy = archive_snapshot(&vault, &archive, &manifest.id, lock)
            .await
            .expect("archive");
        assert_eq!(copy.objects, 2 * 4 + 2);
        assert_eq!(copy.locked_until, lock.retain_until);
    }

    let manifest_key = object_key(&newer.id, "manifest.json");
    let refusal = archive.blobs.delete(&manifest_key).await;
    assert!(matches!(refusal, Err(BlobError::Refused(_))), "{refusal:?}");

    // The archive's manifest names the archive key; the snapshot store's
    // key service is not needed to restore it.
    let archived = archive.manifest(&newer.id).await.expect("manifest");
    assert_ne!(archived.encryption.key_id, newer.encryption.key_id);
    let target = b.fresh_table().await.expect("table");
    restore_into(
        &archive,
        &newer.id,
        target.clone(),
        &ErasedCustomers::default(),
    )
    .await
    .expect("restore from the archive");
    assert_eq!(dump(target.as_ref()).await, before);

    // Retention lets the older copy go, but its lock does not.
    let policy = RetentionPolicy {
        daily: 1,
        weekly: 0,
        monthly: 0,
        grace: Duration::hours(1),
    };
    let pruned = apply_retention(&archive, &policy, Utc::now())
        .await
        .expect("prune");
    assert!(pruned.deleted.is_empty());
    assert_eq!(pruned.locked.len(), 1);
    assert_eq!(pruned.locked[0].0, older.id);
    assert!(archive.manifest(&older.id).await.is_ok());
}

async fn retention_keeps_the_newest_verified_chain_and_deletes_the_rest(b: &Backend) {
    load_shop(&b.privacy, &b.table, 10, 8).await;
    let vault = vault(b).await;
    let now = Utc::now();
    let old_full = snapshot(b, &vault, NextSnapshot::Full, now - Duration::days(10)).await;
    let old_incremental = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: old_full.id.clone(),
        },
        now - Duration::days(9),
    )
    .await;
    let full = snapshot(b, &vault, NextSnapshot::Full, now - Duration::days(3)).await;
    let incremental = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: full.id.clone(),
        },
        now - Duration::days(2),
    )
    .await;
    // A run that died five days ago left an object and no manifest.
    let crashed = SnapshotId::generate(now - Duration::days(5));
    vault
        .blobs
        .put(
            &object_key(&crashed, "table/00000.items"),
            body_from("partial"),
            PutOptions::default(),
        )
        .await
        .expect("put");

    let policy = RetentionPolicy {
        daily: 1,
        weekly: 0,
        monthly: 0,
        grace: Duration::days(1),
    };
    let report = apply_retention(&vault, &policy, now).await.expect("prune");
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut expected = vec![old_full.id.clone(), old_incremental.id.clone(), crashed];
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(report.freed_bytes > 0);
    let left: Vec<SnapshotId> = vault
        .catalog()
        .await
        .expect("catalog")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, vec![full.id.clone(), incremental.id.clone()]);
    // The survivors still restore.
    restore_into(
        &vault,
        &incremental.id,
        b.fresh_table().await.expect("table"),
        &ErasedCustomers::default(),
    )
    .await
    .expect("restore");
}

async fn cold_tier_objects_are_backed_up_and_restored(b: &Backend) {
    load_shop(&b.privacy, &b.table, 5, 9).await;
    let put = |key: &'static str, body: &'static str| {
        let blobs = b.blobs.clone();
        async move {
            blobs
                .put(key, body_from(body), PutOptions::default())
                .await
                .expect("put");
        }
    };
    put("cold/manifests/2025.json", "{\"parts\":3}").await;
    put("cold/manifests/2026.json", "{\"parts\":1}").await;
    put("cold/data/2025-part-0.jsonl", "not a manifest").await;
    let vault = vault(b).await;
    let full = snapshot(
        b,
        &vault,
        NextSnapshot::Full,
        Utc::now() - Duration::hours(1),
    )
    .await;
    assert_eq!(full.blobs.len(), 2, "only the manifests' prefix is copied");
    put("cold/manifests/2026.json", "{\"parts\":2}").await;
    let incremental = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: full.id.clone(),
        },
        Utc::now(),
    )
    .await;
    let stored_in: BTreeMap<&str, &SnapshotId> = incremental
        .blobs
        .iter()
        .map(|blob| (blob.key.as_str(), &blob.stored_in))
        .collect();
    assert_eq!(
        stored_in["cold/manifests/2025.json"], &full.id,
        "unchanged: kept by reference"
    );
    assert_eq!(stored_in["cold/manifests/2026.json"], &incremental.id);

    let target = RestoreTarget {
        table: b.fresh_table().await.expect("table"),
        blobs: Some(b.fresh_store(false).await.expect("store")),
    };
    let report = restore_snapshot(
        &vault,
        &incremental.id,
        &target,
        &ErasedCustomers::default(),
        &RestoreOptions::default(),
    )
    .await
    .expect("restore");
    assert_eq!(report.objects_restored, 2);
    let restored = target.blobs.expect("store");
    for (key, body) in [
        ("cold/manifests/2025.json", "{\"parts\":3}"),
        ("cold/manifests/2026.json", "{\"parts\":2}"),
    ] {
        let object = restored.get(key).await.expect("restored object");
        assert_eq!(collect(object.body).await.expect("body"), body.as_bytes());
    }
}

/// What the archive bucket's lifecycle does after a day: every object of
/// every snapshot, manifests included, moves to Deep Archive.
async fn move_to_deep_archive(vault: &Vault) {
    let mut continuation = None;
    loop {
        let page = vault
            .blobs
            .list("snapshots/", continuation, 1000)
            .await
            .expect("list");
        for object in page
            .objects
            .into_iter()
            .filter(|o| o.storage_class.is_instantly_readable())
        {
            vault
                .blobs
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

async fn snapshots_in_deep_archive_stay_known_to_retention_and_refuse_to_restore_until_thawed(
    b: &Backend,
) {
    load_shop(&b.privacy, &b.table, 10, 10).await;
    let vault = vault(b).await;
    let now = Utc::now();
    let old_full = snapshot(b, &vault, NextSnapshot::Full, now - Duration::days(10)).await;
    let old_incremental = snapshot(
        b,
        &vault,
        NextSnapshot::Incremental {
            parent: old_full.id.clone(),
        },
        now - Duration::days(9),
    )
    .await;
    let full = snapshot(b, &vault, NextSnapshot::Full, now - Duration::days(2)).await;
    move_to_deep_archive(&vault).await;
    let unreadable = vault.manifest(&full.id).await;
    assert!(
        matches!(
            unreadable,
            Err(SnapshotError::Blob(BlobError::Archived { .. }))
        ),
        "{unreadable:?}"
    );

    // The manifests' labels still say what each snapshot is.
    let catalog = vault.catalog().await.expect("catalog");
    let known: Vec<_> = catalog
        .iter()
        .map(|entry| {
            let info = entry.info();
            (info.id, info.kind, info.parent, info.state)
        })
        .collect();
    assert_eq!(
        known,
        vec![
            (
                old_full.id.clone(),
                SnapshotKind::Full,
                None,
                SnapshotState::Verified
            ),
            (
                old_incremental.id.clone(),
                SnapshotKind::Incremental,
                Some(old_full.id.clone()),
                SnapshotState::Verified
            ),
            (
                full.id.clone(),
                SnapshotKind::Full,
                None,
                SnapshotState::Verified
            ),
        ]
    );
    assert!(catalog.iter().all(|entry| entry.manifest.is_none()));

    // So retention still works on them: the newest is kept, the old chain goes.
    let policy = RetentionPolicy {
        daily: 1,
        weekly: 0,
        monthly: 0,
        grace: Duration::hours(1),
    };
    let report = apply_retention(&vault, &policy, now).await.expect("prune");
    let mut deleted = report.deleted.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![old_full.id.clone(), old_incremental.id.clone()]
    );

    // A restore before the thaw is refused, naming the archive class.
    let target = b.fresh_table().await.expect("table");
    let refused = restore_into(
        &vault,
        &full.id,
        target.clone(),
        &ErasedCustomers::default(),
    )
    .await
    .expect_err("an archived snapshot cannot be read");
    assert!(
        refused
            .to_string()
            .contains("must be restored before it can be read"),
        "{refused}"
    );
    assert!(
        dump(target.as_ref()).await.is_empty(),
        "nothing was written"
    );
}
