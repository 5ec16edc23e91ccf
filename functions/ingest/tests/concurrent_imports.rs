//! Imports running at the same time (the same export uploaded twice under
//! two names: S3 triggers run concurrently) store and count every order
//! once, and a row whose order number another customer's order holds is
//! rejected by name; on the embedded backend and on DynamoDB (moto).

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_domain::ReadOptions;
use strata_domain::activity::ActivitySummary;
use strata_domain::contact::Email;
use strata_domain::customer::Identifier;
use strata_domain::order::{OrderInput, OrderStatus};
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::{Activity, Ingestor, Outcome};
use strata_store::{
    ActivityRepository, CustomerRepository, ImportRepository, ImportState, ImportedObject,
    RecordKind,
};
use strata_tests::backend::Backend;

const CUSTOMERS: usize = 6;
const ROWS: usize = 60;
/// Small chunks, so the two imports' chunks interleave many times.
const CHUNK_ROWS: usize = 8;

/// Orders of a few customers; one order number comes again later in the
/// file (a duplicate) and one amount is not a number (a rejection).
fn export() -> Vec<u8> {
    let mut file = String::from("customer_id,email,order_id,order_date,amount\n");
    for row in 0..ROWS {
        let order = if row == 50 { 12 } else { row };
        let customer = order % CUSTOMERS;
        let amount = if row == 33 {
            "n/a".to_owned()
        } else {
            format!("{}.50", 20 + order)
        };
        file.push_str(&format!(
            "c{customer},buyer{customer}@example.com,N-{order},2025-{:02}-{:02},{amount}\n",
            1 + order % 12,
            1 + order % 28
        ));
    }
    file.into_bytes()
}

fn importer(backend: &Backend, table: Arc<dyn Table>, blobs: Arc<dyn BlobStore>) -> Importer {
    let mut importer = Importer::new(
        Ingestor::new(
            table.clone(),
            backend.privacy.clone(),
            ReadOptions::default(),
        ),
        blobs,
        ImportRepository::new(table),
    );
    importer.chunk_rows = CHUNK_ROWS;
    importer
}

async fn upload(blobs: &dyn BlobStore, key: &str, bytes: Vec<u8>) -> ImportedObject {
    let receipt = blobs
        .put(key, blob::body_from(bytes), PutOptions::default())
        .await
        .expect("upload");
    ImportedObject {
        bucket: "concurrent".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    }
}

fn completed(outcome: RunOutcome) -> ImportState {
    match outcome {
        RunOutcome::Completed(state) => state,
        other => panic!("the import did not complete: {other:?}"),
    }
}

/// Each buyer's stored summary, checked against a recount of their history.
async fn summaries(backend: &Backend, table: Arc<dyn Table>) -> BTreeMap<usize, ActivitySummary> {
    let customers = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let activity = ActivityRepository::new(table);
    let mut all = BTreeMap::new();
    for n in 0..CUSTOMERS {
        let email = Email::parse("email", &format!("buyer{n}@example.com")).expect("e-mail");
        let id = customers
            .find(&Identifier::Email(email))
            .await
            .expect("find")
            .unwrap_or_else(|| panic!("buyer {n} was not stored"));
        let profile = customers.get(id).await.expect("get").expect("profile");
        let recounted = activity.summary(id).await.expect("recount");
        assert_eq!(
            profile.activity, recounted,
            "buyer {n}: the stored summary is not the history's"
        );
        all.insert(n, profile.activity);
    }
    all
}

async fn count_kinds(table: &dyn Table) -> BTreeMap<RecordKind, usize> {
    let mut counts = BTreeMap::new();
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

async fn the_same_export_imported_twice_at_once_counts_each_order_once(backend: &Backend) {
    // What one import alone gives.
    let table = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let object = upload(blobs.as_ref(), "imports/orders/once.csv", export()).await;
    let single = completed(
        importer(backend, table.clone(), blobs)
            .run(object, "single", None)
            .await
            .expect("single import"),
    )
    .counts;
    assert!(single.reconciles(), "{single:?}");
    assert_eq!(
        (single.rows_read, single.rejected, single.duplicates),
        (ROWS as u64, 1, 1),
        "{single:?}"
    );
    assert_eq!(single.orders_created, single.accepted);
    let single_summaries = summaries(backend, table).await;

    // The same export under two names, both imports at once.
    let table = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let first = upload(blobs.as_ref(), "imports/orders/export.csv", export()).await;
    let second = upload(blobs.as_ref(), "imports/orders/export (1).csv", export()).await;
    let one = importer(backend, table.clone(), blobs.clone());
    let other = importer(backend, table.clone(), blobs);
    let (a, b) = tokio::join!(one.run(first, "a", None), other.run(second, "b", None));
    let (a, b) = (
        completed(a.expect("first import")).counts,
        completed(b.expect("second import")).counts,
    );
    assert!(a.reconciles() && b.reconciles(), "{a:?} {b:?}");
    assert_eq!(
        a.accepted + b.accepted,
        single.accepted,
        "every order accepted by one import only: {a:?} {b:?}"
    );
    assert_eq!(a.orders_created + b.orders_created, single.orders_created);
    assert_eq!(
        a.customers_created + b.customers_created,
        single.customers_created
    );
    assert_eq!(
        (a.rejected, b.rejected),
        (single.rejected, single.rejected),
        "only the bad amount is rejected: {a:?} {b:?}"
    );
    // What one import accepted, the other found stored.
    assert_eq!(
        a.duplicates + a.merged + b.duplicates + b.merged,
        single.accepted + 2 * (single.duplicates + single.merged),
        "{a:?} {b:?}"
    );
    let kinds = count_kinds(table.as_ref()).await;
    assert_eq!(
        kinds.get(&RecordKind::Order).copied(),
        Some(single.orders_created as usize),
        "every order stored once"
    );
    assert_eq!(
        summaries(backend, table).await,
        single_summaries,
        "summaries as after one import"
    );
}

/// The rows an import rejected, as its rejection files hold them.
async fn rejections(blobs: &dyn BlobStore, state: &ImportState) -> Vec<serde_json::Value> {
    let mut rejections = Vec::new();
    for key in &state.rejection_files {
        let object = blobs.get(key).await.expect("rejection file");
        let body = blob::collect(object.body).await.expect("body");
        for line in String::from_utf8(body).expect("utf-8").lines() {
            rejections.push(serde_json::from_str::<serde_json::Value>(line).expect("json"));
        }
    }
    rejections
}

async fn an_order_number_another_customer_holds_is_rejected_by_name(backend: &Backend) {
    let table = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let header = "customer_id,email,order_id,order_date,amount\n";
    let ann = "a1,ann@example.com,K-1,2025-02-03,10.00\n";
    let object = upload(
        blobs.as_ref(),
        "imports/orders/ann.csv",
        format!("{header}{ann}").into_bytes(),
    )
    .await;
    let importer = importer(backend, table.clone(), blobs.clone());
    let before = completed(importer.run(object, "w", None).await.expect("import"));
    assert_eq!(before.counts.accepted, 1);

    // Another shop system's export reuses K-1: for Bob, for Ann with
    // another amount, and for Ann as stored; and has an order of its own.
    let rows = [
        "b1,bob@example.com,K-1,2025-02-03,10.00\n",
        "a1,ann@example.com,K-1,2025-02-03,12.00\n",
        ann,
        "b1,bob@example.com,K-2,2025-02-04,7.00\n",
    ];
    let object = upload(
        blobs.as_ref(),
        "imports/orders/other.csv",
        format!("{header}{}", rows.concat()).into_bytes(),
    )
    .await;
    let state = completed(importer.run(object, "w", None).await.expect("import"));
    let c = state.counts;
    assert!(c.reconciles(), "{c:?}");
    assert_eq!((c.rows_read, c.accepted, c.rejected), (4, 1, 2), "{c:?}");
    assert_eq!(c.duplicates + c.merged, 1, "Ann's K-1 as stored: {c:?}");
    assert_eq!(c.orders_created, 1, "K-2 only");

    let rejections = rejections(blobs.as_ref(), &state).await;
    let reasons: Vec<(u64, String, String, String)> = rejections
        .iter()
        .map(|r| {
            let error = &r["errors"][0];
            (
                r["row"].as_u64().expect("row"),
                error["field"].as_str().expect("field").to_owned(),
                error["code"].as_str().expect("code").to_owned(),
                error["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{rejections:?}");
    assert_eq!(
        (reasons[0].1.as_str(), reasons[0].2.as_str()),
        ("order.id", "order_number_taken"),
        "{rejections:?}"
    );
    assert!(reasons[0].3.contains("another customer"), "{rejections:?}");
    assert_eq!(reasons[1].1, "order.id", "{rejections:?}");
    assert!(reasons[1].3.contains("different"), "{rejections:?}");
    assert!(reasons[0].0 < reasons[1].0);

    // Ann's order is as first imported; Bob has K-2 only.
    let customers = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let activity = ActivityRepository::new(table.clone());
    for (email, purchases, cents) in [("ann@example.com", 1, 1000), ("bob@example.com", 1, 700)] {
        let email = Email::parse("email", email).expect("e-mail");
        let id = customers
            .find(&Identifier::Email(email))
            .await
            .expect("find")
            .expect("customer");
        let orders = activity
            .orders(id, strata_store::Period::default())
            .await
            .expect("orders");
        assert_eq!(orders.len(), purchases);
        assert_eq!(orders[0].total.minor, cents);
    }
}

/// A number the API recorded carries no digest of its order: the stored
/// order itself is read back and compared.
async fn an_order_the_api_recorded_is_compared_with_the_stored_order(backend: &Backend) {
    let table = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let header = "customer_id,email,order_id,order_date,amount\n";
    let object = upload(
        blobs.as_ref(),
        "imports/orders/first.csv",
        format!("{header}a1,ann@example.com,K-0,2025-01-05,5.00\n").into_bytes(),
    )
    .await;
    let importer = importer(backend, table.clone(), blobs.clone());
    completed(importer.run(object, "w", None).await.expect("import"));
    let customers = CustomerRepository::new(table.clone(), backend.privacy.clone());
    let ann = customers
        .find(&Identifier::Email(
            Email::parse("email", "ann@example.com").expect("e-mail"),
        ))
        .await
        .expect("find")
        .expect("Ann");
    let ingestor = Ingestor::new(
        table.clone(),
        backend.privacy.clone(),
        ReadOptions::default(),
    );
    let recorded = ingestor
        .record_for(
            ann,
            Activity::Order(OrderInput {
                id: "K-9".into(),
                placed_at: "2025-02-03".into(),
                status: OrderStatus::Paid,
                currency: None,
                lines: Vec::new(),
                total: Some("10.00".into()),
                item_count: None,
            }),
        )
        .await
        .expect("record");
    assert_eq!(recorded, Some(Outcome::Accepted { customer: ann }));

    let rows = [
        "a1,ann@example.com,K-9,2025-02-03,10.00\n",
        "a1,ann@example.com,K-9,2025-02-03,12.00\n",
        "b1,bob@example.com,K-9,2025-02-03,10.00\n",
    ];
    let object = upload(
        blobs.as_ref(),
        "imports/orders/second.csv",
        format!("{header}{}", rows.concat()).into_bytes(),
    )
    .await;
    let state = completed(importer.run(object, "w", None).await.expect("import"));
    let c = state.counts;
    assert!(c.reconciles(), "{c:?}");
    let counted = (c.rows_read, c.accepted, c.duplicates, c.rejected);
    assert_eq!(counted, (3, 0, 1, 2), "{c:?}");
    assert_eq!(c.orders_created, 0);
    // Ann's row as recorded is the duplicate; the other two are rejected.
    let rejected: Vec<(String, String)> = rejections(blobs.as_ref(), &state)
        .await
        .iter()
        .map(|r| {
            (
                r["raw"].as_str().expect("raw").to_owned(),
                r["errors"][0]["message"]
                    .as_str()
                    .expect("message")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[0].0.contains("ann@example.com")
            && rejected[0].0.contains("12.00")
            && rejected[0].1.contains("different"),
        "{rejected:?}"
    );
    assert!(
        rejected[1].0.contains("bob@example.com") && rejected[1].1.contains("another customer"),
        "{rejected:?}"
    );
    let orders = ActivityRepository::new(table)
        .orders(ann, strata_store::Period::default())
        .await
        .expect("orders");
    let totals: Vec<(String, i64)> = orders
        .iter()
        .map(|o| (o.id.as_str().to_owned(), o.total.minor))
        .collect();
    assert_eq!(totals, [("K-0".to_owned(), 500), ("K-9".to_owned(), 1000)]);
}

strata_tests::on_every_adapter!(
    the_same_export_imported_twice_at_once_counts_each_order_once,
    an_order_number_another_customer_holds_is_rejected_by_name,
    an_order_the_api_recorded_is_compared_with_the_stored_order,
);
