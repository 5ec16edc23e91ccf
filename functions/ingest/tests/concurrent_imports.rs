//! Imports running at the same time (the same export uploaded twice under
//! two names: S3 triggers run concurrently), and API batches racing them,
//! store and count every order once, and a row whose order number another
//! customer's order holds is rejected by name; a number claimed by an import
//! that then failed for good is taken over once the claim is old enough;
//! on the embedded backend and on DynamoDB (moto).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use chrono::{SecondsFormat, Utc};
use http::{Request, StatusCode};
use serde_json::{Value as Json, json};
use strata_domain::ReadOptions;
use strata_domain::activity::ActivitySummary;
use strata_domain::contact::Email;
use strata_domain::customer::Identifier;
use strata_domain::order::{OrderInput, OrderStatus};
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_domain::ports::table::{Item, Key, Table, TableError, Update, Value, WriteRequest};
use strata_ingest::api::{ApiState, router};
use strata_ingest::import::run::{Importer, RunOutcome};
use strata_ingest::ingest::{Activity, Ingestor, Outcome};
use strata_store::{
    ActivityRepository, CLAIM_HANDOVER, CustomerRepository, ImportRepository, ImportState,
    ImportedObject, RecordKind,
};
use strata_tests::backend::Backend;
use strata_tests::intercept::{Intercepted, Interceptor, Operation};
use tower::ServiceExt;

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
    let files = strata_ingest::import::run::rejection_files(blobs, &state.id)
        .await
        .expect("list");
    assert_eq!(files.len() as u64, state.rejection_files);
    for key in &files {
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
                coupon: None,
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

/// Batch writes fail while `down` is set, as if the function died after
/// its order claims and before its records were written.
struct BatchWritesDown(Arc<AtomicBool>);

impl Interceptor for BatchWritesDown {
    fn before(&self, operation: Operation) -> Result<(), TableError> {
        if operation == Operation::BatchWriteItem && self.0.load(Ordering::SeqCst) {
            return Err(TableError::InvalidRequest(
                "batch writes are down (injected)".into(),
            ));
        }
        Ok(())
    }
}

/// Holds a batch's order writes back until an import has claimed an order
/// number (or is done): the batch found its numbers free before the import
/// claimed them, the closest the two can race.
struct AfterAnImportClaims {
    table: Arc<dyn Table>,
    import_done: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Interceptor for AfterAnImportClaims {
    async fn batch_write(
        &self,
        table: &dyn Table,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        let orders = writes.iter().any(|write| {
            matches!(write, WriteRequest::Put(item) if RecordKind::of(item) == Some(RecordKind::Order))
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while orders && !self.import_done.load(Ordering::SeqCst) && Instant::now() < deadline {
            let by_import = items_with(self.table.as_ref(), "import_row")
                .await
                .iter()
                .filter_map(|item| item["import_row"].as_str())
                .any(|row| !row.starts_with("batch-"));
            if by_import {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        table.batch_write(writes).await
    }
}

fn api(backend: &Backend, table: Arc<dyn Table>) -> Router {
    let ingestor = Ingestor::new(
        table.clone(),
        backend.privacy.clone(),
        ReadOptions::default(),
    );
    router(ApiState::new(table, ingestor))
}

async fn post_batch(app: &Router, records: &[Json], key: Option<&str>) -> (StatusCode, Json) {
    let mut request = Request::post("/v1/batch").header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = Body::from(json!({ "records": records }).to_string());
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

/// Order `n` of the race, as an export row and as a batch record.
fn race_order(n: usize) -> (String, Json) {
    let customer = n % CUSTOMERS;
    let (date, total) = (format!("2025-03-{:02}", 1 + n), format!("{}.25", 30 + n));
    let row = format!("c{customer},buyer{customer}@example.com,R-{n},{date},{total}\n");
    let record = json!({
        "type": "order",
        "customer": { "email": format!("buyer{customer}@example.com") },
        "order": { "id": format!("R-{n}"), "placed_at": date, "total": total },
    });
    (row, record)
}

async fn items_with(table: &dyn Table, attribute: &str) -> Vec<Item> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let page = table.scan(0, 1, start, None).await.expect("scan");
        found.extend(page.items.into_iter().filter(|i| i.contains_key(attribute)));
        match page.next {
            Some(next) => start = Some(next),
            None => return found,
        }
    }
}

/// An import and a `/v1/batch` bringing the same new order numbers at once:
/// each order is stored once and accepted by one of them, the other finding
/// it a duplicate; a number the batch brings for another customer is
/// stored once and the loser rejects it naming `order.id`.
async fn a_batch_racing_an_import_stores_each_order_once(backend: &Backend) {
    const ORDERS: usize = 24;
    const CONTESTED: usize = 5;
    let table = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let mut file = String::from("customer_id,email,order_id,order_date,amount\n");
    let mut records = Vec::new();
    for n in 0..ORDERS {
        let (row, mut record) = race_order(n);
        file.push_str(&row);
        if n == CONTESTED {
            record["customer"]["email"] = json!("intruder@example.com");
        }
        records.push(record);
    }
    let object = upload(blobs.as_ref(), "imports/orders/race.csv", file.into_bytes()).await;
    let importer = importer(backend, table.clone(), blobs);
    let import_done = Arc::new(AtomicBool::new(false));
    let gated = AfterAnImportClaims {
        table: table.clone(),
        import_done: import_done.clone(),
    };
    let app = api(backend, Arc::new(Intercepted::wrap(table.clone(), gated)));
    let import = async {
        let outcome = importer.run(object, "race", None).await;
        import_done.store(true, Ordering::SeqCst);
        outcome
    };
    let (imported, (status, batch)) = tokio::join!(import, post_batch(&app, &records, None));
    let c = completed(imported.expect("import")).counts;
    assert_eq!(status, StatusCode::OK, "{batch}");
    assert!(c.reconciles(), "{c:?}");
    let counts = &batch["counts"];
    let batch_accepted = counts["accepted"].as_u64().expect("accepted");
    assert_eq!(
        c.accepted + batch_accepted,
        ORDERS as u64,
        "each number accepted once: {c:?} {counts}"
    );
    assert_eq!(
        c.rejected + counts["rejected"].as_u64().expect("rejected"),
        1,
        "{c:?} {counts}"
    );
    assert_eq!(
        c.duplicates + counts["duplicate"].as_u64().expect("duplicate"),
        ORDERS as u64 - 1,
        "{c:?} {counts}"
    );
    let contested = &batch["results"][CONTESTED];
    if contested["status"] == "rejected" {
        assert_eq!(contested["index"], CONTESTED);
        assert_eq!(contested["errors"][0]["field"], "order.id", "{contested}");
        assert_eq!(
            contested["errors"][0]["code"], "order_number_taken",
            "{contested}"
        );
    } else {
        assert_eq!(contested["status"], "accepted", "{contested}");
        assert_eq!(c.rejected, 1, "the import's R-{CONTESTED} lost: {c:?}");
    }
    let kinds = count_kinds(table.as_ref()).await;
    assert_eq!(
        kinds.get(&RecordKind::Order).copied(),
        Some(ORDERS),
        "every order number stored once"
    );
    // Every summary is its history's (checked inside), and the buyers'
    // purchases add up to the orders they hold.
    let purchases: u32 = summaries(backend, table.clone())
        .await
        .values()
        .map(|s| s.purchases)
        .sum();
    let intruder_won = contested["status"] == "accepted";
    assert_eq!(purchases as usize, ORDERS - usize::from(intruder_won));
}

/// A batch that failed after claiming its order numbers, sent again with
/// its idempotency key, recognises its own claims and stores its orders.
async fn a_retried_batch_recognises_its_own_claims(backend: &Backend) {
    let down = Arc::new(AtomicBool::new(true));
    let inner = backend.fresh_table().await.expect("table");
    let table: Arc<dyn Table> = Arc::new(Intercepted::wrap(
        inner.clone(),
        BatchWritesDown(down.clone()),
    ));
    let app = api(backend, table);
    let records: Vec<Json> = (0..4).map(|n| race_order(n).1).collect();
    let (status, problem) = post_batch(&app, &records, Some("retry-me")).await;
    assert!(status.is_server_error(), "{status} {problem}");
    assert_eq!(
        items_with(inner.as_ref(), "order_digest").await.len(),
        4,
        "claimed"
    );
    assert_eq!(
        count_kinds(inner.as_ref()).await.get(&RecordKind::Order),
        None
    );
    let claimed_at = |claims: Vec<Item>| -> Vec<String> {
        claims
            .iter()
            .map(|claim| claim["claimed_at"].as_str().expect("claim time").to_owned())
            .collect()
    };
    let first_claims = claimed_at(items_with(inner.as_ref(), "order_digest").await);
    tokio::time::sleep(Duration::from_millis(20)).await;

    down.store(false, Ordering::SeqCst);
    let (status, batch) = post_batch(&app, &records, Some("retry-me")).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    assert_eq!(batch["counts"]["accepted"], 4, "{batch}");
    assert_eq!(
        count_kinds(inner.as_ref())
            .await
            .get(&RecordKind::Order)
            .copied(),
        Some(4)
    );
    // Its claims were renewed before its orders were written, so no one
    // could take them over meanwhile.
    let renewed = claimed_at(items_with(inner.as_ref(), "order_digest").await);
    assert!(
        renewed
            .iter()
            .zip(&first_claims)
            .all(|(now, then)| now > then),
        "{first_claims:?} then {renewed:?}"
    );
}

/// Sets every claim's time (or removes it) as if it had been made `age` ago.
async fn age_claims(table: &dyn Table, order_ids: &[&str], age: Option<chrono::Duration>) {
    for claim in items_with(table, "order_digest").await {
        let id = claim["pk"].as_str().unwrap_or_default().to_owned();
        if !order_ids.iter().any(|wanted| id.ends_with(wanted)) {
            continue;
        }
        let key = Key::of(&claim).expect("key");
        let update = match age {
            Some(age) => Update::default().set(
                "claimed_at",
                Value::S((Utc::now() - age).to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
            None => Update {
                remove: vec!["claimed_at".into()],
                ..Update::default()
            },
        };
        table
            .update(&key, update, None)
            .await
            .expect("age the claim");
    }
}

/// An import whose order writes fail for good leaves its numbers claimed
/// and its orders unwritten. While the claims are younger than the
/// hand-over age, later imports find the numbers held (duplicates); after
/// it, the next import takes them over, stores the orders and counts them
/// accepted. A claim without a time is stamped first and taken over later.
async fn a_claim_whose_import_failed_for_good_is_taken_over(backend: &Backend) {
    let inner = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let down = Arc::new(AtomicBool::new(true));
    let failing: Arc<dyn Table> = Arc::new(Intercepted::wrap(
        inner.clone(),
        BatchWritesDown(down.clone()),
    ));
    let header = "customer_id,email,order_id,order_date,amount\n";
    let rows = [
        "c0,buyer0@example.com,S-1,2025-04-01,11.00\n",
        "c1,buyer1@example.com,S-2,2025-04-02,12.00\n",
        "c0,buyer0@example.com,S-3,2025-04-03,13.00\n",
    ];
    let file = format!("{header}{}", rows.concat()).into_bytes();
    let object = upload(blobs.as_ref(), "imports/orders/lost.csv", file.clone()).await;
    let outcome = importer(backend, failing, blobs.clone())
        .run(object, "w", None)
        .await;
    assert!(
        !matches!(outcome, Ok(RunOutcome::Completed(_))),
        "the first import must fail: {outcome:?}"
    );
    assert_eq!(
        items_with(inner.as_ref(), "order_digest").await.len(),
        3,
        "claimed"
    );
    assert_eq!(
        count_kinds(inner.as_ref()).await.get(&RecordKind::Order),
        None
    );

    let again = |name: &'static str| {
        let (file, blobs, inner) = (file.clone(), blobs.clone(), inner.clone());
        async move {
            let key = format!("imports/orders/{name}.csv");
            let object = upload(blobs.as_ref(), &key, file).await;
            completed(
                importer(backend, inner, blobs)
                    .run(object, "w", None)
                    .await
                    .expect("import"),
            )
            .counts
        }
    };
    // Fresh claims are held: their claimant may still be writing.
    let fresh = again("fresh").await;
    assert_eq!((fresh.accepted, fresh.duplicates), (0, 3), "{fresh:?}");
    assert_eq!(
        count_kinds(inner.as_ref()).await.get(&RecordKind::Order),
        None
    );

    let stale = CLAIM_HANDOVER + chrono::Duration::minutes(1);
    age_claims(inner.as_ref(), &["S-1", "S-2"], Some(stale)).await;
    age_claims(inner.as_ref(), &["S-3"], None).await;
    let healed = again("healed").await;
    assert!(healed.reconciles(), "{healed:?}");
    assert_eq!(
        (healed.accepted, healed.duplicates, healed.orders_created),
        (2, 1, 2),
        "the stale claims taken over, the timeless one stamped: {healed:?}"
    );
    let stamped = items_with(inner.as_ref(), "claimed_at").await;
    assert_eq!(stamped.len(), 3, "every claim bears a time now");

    age_claims(inner.as_ref(), &["S-3"], Some(stale)).await;
    let last = again("last").await;
    assert_eq!((last.accepted, last.duplicates), (1, 2), "{last:?}");
    let kinds = count_kinds(inner.as_ref()).await;
    assert_eq!(kinds.get(&RecordKind::Order).copied(), Some(3));
    // Each order counted once in its buyer's summary, as its history has it.
    let customers = CustomerRepository::new(inner.clone(), backend.privacy.clone());
    let activity = ActivityRepository::new(inner.clone());
    let mut purchases = 0;
    for n in 0..2 {
        let email = Email::parse("email", &format!("buyer{n}@example.com")).expect("e-mail");
        let id = customers
            .find(&Identifier::Email(email))
            .await
            .expect("find")
            .expect("buyer");
        let profile = customers.get(id).await.expect("get").expect("profile");
        assert_eq!(
            profile.activity,
            activity.summary(id).await.expect("recount")
        );
        purchases += profile.activity.purchases;
    }
    assert_eq!(purchases, 3);
    // A later import finds every order stored: duplicates, nothing taken.
    let done = again("done").await;
    assert_eq!((done.accepted, done.duplicates), (0, 3), "{done:?}");
}

/// The API's single-order route takes over an abandoned claim of the same
/// order too (and finds a fresh one held).
async fn the_api_takes_over_an_abandoned_claim(backend: &Backend) {
    let inner = backend.fresh_table().await.expect("table");
    let blobs = backend.fresh_store(false).await.expect("store");
    let failing: Arc<dyn Table> = Arc::new(Intercepted::wrap(
        inner.clone(),
        BatchWritesDown(Arc::new(AtomicBool::new(true))),
    ));
    let file = "customer_id,email,order_id,order_date,amount\n\
                c0,buyer0@example.com,A-1,2025-05-01,21.00\n\
                c0,buyer0@example.com,A-2,2025-05-02,22.00\n";
    let object = upload(blobs.as_ref(), "imports/orders/api.csv", file.into()).await;
    let outcome = importer(backend, failing, blobs)
        .run(object, "w", None)
        .await;
    assert!(
        !matches!(outcome, Ok(RunOutcome::Completed(_))),
        "{outcome:?}"
    );
    age_claims(
        inner.as_ref(),
        &["A-1"],
        Some(CLAIM_HANDOVER + chrono::Duration::minutes(1)),
    )
    .await;
    let customers = CustomerRepository::new(inner.clone(), backend.privacy.clone());
    let email = Email::parse("email", "buyer0@example.com").expect("e-mail");
    let buyer = customers
        .find(&Identifier::Email(email))
        .await
        .expect("find")
        .expect("the failed import created the buyer");
    let ingestor = Ingestor::new(
        inner.clone(),
        backend.privacy.clone(),
        ReadOptions::default(),
    );
    let order = |id: &str, day: u32, total: &str| OrderInput {
        id: id.into(),
        placed_at: format!("2025-05-{day:02}"),
        status: OrderStatus::Paid,
        currency: None,
        lines: Vec::new(),
        total: Some(total.into()),
        item_count: None,
        coupon: None,
    };
    let stale = ingestor
        .record_for(buyer, Activity::Order(order("A-1", 1, "21.00")))
        .await
        .expect("record");
    assert_eq!(stale, Some(Outcome::Accepted { customer: buyer }));
    let fresh = ingestor
        .record_for(buyer, Activity::Order(order("A-2", 2, "22.00")))
        .await
        .expect("record");
    assert_eq!(fresh, Some(Outcome::Duplicate { customer: buyer }));
    let stored: Vec<String> = ActivityRepository::new(inner)
        .orders(buyer, strata_store::Period::default())
        .await
        .expect("orders")
        .iter()
        .map(|o| o.id.as_str().to_owned())
        .collect();
    assert_eq!(stored, ["A-1"]);
}

strata_tests::on_every_adapter!(
    the_same_export_imported_twice_at_once_counts_each_order_once,
    an_order_number_another_customer_holds_is_rejected_by_name,
    an_order_the_api_recorded_is_compared_with_the_stored_order,
    a_batch_racing_an_import_stores_each_order_once,
    a_retried_batch_recognises_its_own_claims,
    a_claim_whose_import_failed_for_good_is_taken_over,
    the_api_takes_over_an_abandoned_claim,
);
