//! Real exports through the whole import path on the embedded backend: the
//! CDNOW log (whitespace-aligned) and the Superstore orders (CSV order lines).

mod common;

use strata_ingest::import::run::RunOutcome;
use strata_store::{ImportStatus, RecordKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdnow_imports_exactly_and_only_once() {
    let local = common::local().await;
    let bytes = std::fs::read(common::dataset("STRATA_CDNOW_PATH")).expect("CDNOW log");
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/cdnow/CDNOW_master.txt",
        bytes.clone(),
    )
    .await;

    let state = common::import_to_end(&local.importer, object.clone()).await;
    let counts = state.counts;
    assert_eq!(counts.rows_read, 69_659);
    assert_eq!(counts.accepted, 69_659);
    assert_eq!(
        (counts.merged, counts.duplicates, counts.rejected),
        (0, 0, 0)
    );
    assert!(counts.reconciles());
    assert_eq!(counts.customers_created, 23_570);
    assert_eq!(counts.orders_created, 69_659);

    // The same event again: nothing happens.
    let again = local
        .importer
        .run(object, "test", None)
        .await
        .expect("repeat");
    assert!(matches!(again, RunOutcome::Skipped { .. }), "{again:?}");

    // The same file uploaded under another name: every row is a duplicate.
    let copy = common::upload(local.blobs.as_ref(), "imports/cdnow/copy.txt", bytes).await;
    let second = common::import_to_end(&local.importer, copy).await;
    assert_eq!(
        (second.counts.accepted, second.counts.duplicates),
        (0, 69_659)
    );
    assert_eq!(second.counts.customers_created, 0);
    assert_eq!(second.status, ImportStatus::Completed);

    let kinds = count_kinds(local.table.as_ref()).await;
    assert_eq!(kinds.get(&RecordKind::Customer), Some(&23_570));
    assert_eq!(kinds.get(&RecordKind::Order), Some(&69_659));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superstore_order_lines_become_orders_with_products() {
    let local = common::local().await;
    let bytes =
        std::fs::read(common::dataset("STRATA_SUPERSTORE_PATH")).expect("Superstore orders");
    let object = common::upload(
        local.blobs.as_ref(),
        "imports/superstore/superstore.csv",
        bytes,
    )
    .await;
    let state = common::import_to_end(&local.importer, object).await;
    let counts = state.counts;
    assert_eq!(counts.rows_read, 9_994);
    assert!(counts.reconciles(), "{counts:?}");
    assert_eq!(
        counts.rejected, 0,
        "{} rejection files",
        state.rejection_files
    );
    assert_eq!(counts.accepted, 9_994);
    assert_eq!(counts.customers_created, 793);
    assert_eq!(counts.orders_created, 5_009);
    let kinds = count_kinds(local.table.as_ref()).await;
    assert_eq!(kinds.get(&RecordKind::Product), Some(&1_862));
    assert_eq!(kinds.get(&RecordKind::Order), Some(&5_009));
}

async fn count_kinds(
    table: &dyn strata_domain::ports::table::Table,
) -> std::collections::BTreeMap<RecordKind, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut start = None;
    loop {
        let page = table.scan(0, 1, start, None).await.expect("scan");
        for item in &page.items {
            if let Some(kind) = RecordKind::of(item) {
                *counts.entry(kind).or_default() += 1;
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return counts,
        }
    }
}
