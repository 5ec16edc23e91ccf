//! The data subject's rights and the sales list, through the whole HTTP API
//! as `strata serve` runs it: an export holds the history the tiering job
//! moved to the cold tier (and waits for an archived part like the history
//! does), exports and erasures leave their own audit entries, an erased
//! customer is gone from every route and lookup but stays in the ledger,
//! and a salesperson lists exactly the customers assigned to them now.

use axum::body::Body;
use chrono::{Duration, Utc};
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use strata_domain::access::Role;
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::StorageClass;
use strata_store::ErasureLedger;
use strata_tiering::job::{self, JobSettings};
use tower::ServiceExt;

mod common;

use common::local::LocalApi as Api;

async fn api() -> Api {
    Api::open(9).await
}

impl Api {
    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, _, answer) = self.call(&self.admin(), method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// A customer with two old orders and an interaction; the id.
    async fn customer(&self, email: &str, orders: [&str; 2]) -> CustomerId {
        let made = self
            .ok(
                "POST",
                "/v1/customers",
                Some(json!({"email": email, "name": "Zhang Wei", "source": {"source": "shop", "external_id": email}})),
            )
            .await;
        let id = CustomerId::parse("id", made["customer"]["id"].as_str().expect("id")).expect("id");
        for (n, order) in orders.into_iter().enumerate() {
            self.ok(
                "POST",
                &format!("/v1/customers/{id}/orders"),
                Some(json!({"id": order, "placed_at": format!("2024-0{}-10", n + 1), "total": "25.00"})),
            )
            .await;
        }
        self.ok(
            "POST",
            &format!("/v1/customers/{id}/interactions"),
            Some(json!({"kind": "inquiry", "channel": "wechat", "at": "2024-03-01T10:00:00Z", "text": "还有货吗"})),
        )
        .await;
        id
    }

    /// Runs the tiering job far enough in the future that every customer
    /// is inactive: their whole history moves to the cold tier.
    async fn tier_everything(&self) -> u64 {
        let settings = JobSettings {
            min_object_bytes: 1,
            target_raw_bytes: 4 * 1024,
            // Texts kept: the export must show what the cold tier holds.
            retention: strata_domain::retention::RetentionPolicy {
                interaction_text_days: None,
                ..Default::default()
            },
            ..JobSettings::default()
        };
        let report = job::run(
            self.host.tiering.clone(),
            settings,
            Utc::now() + Duration::days(1000),
        )
        .await
        .expect("tiering run");
        report.moved.records
    }

    async fn cold_objects(&self) -> Vec<String> {
        let page = self
            .host
            .blobs
            .list("cold/activity/", None, 1000)
            .await
            .expect("list");
        page.objects.into_iter().map(|o| o.key).collect()
    }

    async fn audit_actions(&self, customer: CustomerId) -> Vec<(String, String, u64)> {
        let trail = self
            .ok("GET", &format!("/v1/audit?customer={customer}"), None)
            .await;
        trail["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_owned(),
                    e["route"].as_str().unwrap_or_default().to_owned(),
                    e["status"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn ids(records: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = records
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_the_cold_history_and_waits_for_an_archived_part() {
    let api = api().await;
    let a = api.customer("cold@shop.cn", ["C-1", "C-2"]).await;
    let moved = api.tier_everything().await;
    assert!(
        moved >= 3,
        "the orders and the interaction went cold: {moved}"
    );
    let objects = api.cold_objects().await;
    assert!(!objects.is_empty());

    // Archived first (before anything cached the object): 202, as history.
    for key in &objects {
        api.host
            .blobs
            .copy(key, key, StorageClass::DeepArchive)
            .await
            .expect("archive");
    }
    let self_token = api.token(Role::Customer, Some(a), None);
    let path = format!("/v1/customers/{a}/export");
    let (status, headers, waiting) = api.call(&self_token, "GET", &path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{waiting}");
    assert_eq!(waiting["status"], "restoring");
    assert!(headers.contains_key(header::RETRY_AFTER));

    // Back in a readable class: the export is whole, cold records included.
    for key in &objects {
        api.host
            .blobs
            .copy(key, key, StorageClass::Standard)
            .await
            .expect("thaw");
    }
    let (status, headers, export) = api.call(&self_token, "GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"strata-export-{a}.json\"").as_str()
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(export["format"], "strata.customer-export");
    assert_eq!(export["format_version"], 1);
    assert!(export["exported_at"].is_string());
    assert_eq!(export["customer_id"], a.to_string());
    assert_eq!(export["customer"]["identity"]["email"], "cold@shop.cn");
    assert!(
        export["customer"]["consents"].is_array() && export["customer"]["provenance"].is_object()
    );
    assert_eq!(
        ids(&export["history"]["orders"]),
        ["C-1", "C-2"],
        "{export}"
    );
    assert_eq!(
        export["history"]["interactions"][0]["text"], "还有货吗",
        "{export}"
    );
    let history = api
        .ok("GET", &format!("/v1/customers/{a}/history"), None)
        .await;
    assert_eq!(export["history"]["orders"], history["orders"]);
    assert!(export["merges"].is_array());
    // The tier changes are the customer's data too: the newest put them in
    // the tier their profile shows.
    assert_eq!(
        export["tier_history"][0]["to"], export["customer"]["tier"],
        "{export}"
    );
    assert_ne!(export["customer"]["tier"], Value::Null);
    assert_eq!(export["assignment"], Value::Null);

    // Both requests are `export` entries, with what was answered.
    let exports: Vec<_> = api
        .audit_actions(a)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "export")
        .collect();
    let route = "GET /v1/customers/{id}/export".to_owned();
    assert_eq!(
        exports,
        [
            ("export".to_owned(), route.clone(), 202),
            ("export".to_owned(), route, 200)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_is_gone_everywhere_but_the_ledger_and_the_audit_log() {
    let api = api().await;
    let a = api.customer("gone@shop.cn", ["G-1", "G-2"]).await;
    let b = api.customer("kept@shop.cn", ["K-1", "K-2"]).await;
    for customer in [a, b] {
        api.ok(
            "PUT",
            &format!("/v1/customers/{customer}/assignment"),
            Some(json!({"salesperson": "s-1"})),
        )
        .await;
    }
    api.ok("GET", &format!("/v1/customers/{a}/export"), None)
        .await;
    // Their orders and the interaction move to the cold tier first.
    assert!(api.tier_everything().await > 0);

    let erased = api.ok("DELETE", &format!("/v1/customers/{a}"), None).await;
    assert_eq!(erased["status"], "erased", "{erased}");
    assert_eq!(erased["customer_id"], a.to_string());
    // Profile, the cold pointer that replaced the orders and the
    // interaction, the assignment (and whatever else the partition held).
    assert!(
        erased["partition_items"].as_u64().expect("count") >= 3,
        "{erased}"
    );
    assert_eq!(
        erased["lookups"], 4,
        "e-mail, source id and two order numbers (cold orders too): {erased}"
    );
    // Crypto-shredding: the key is gone, so what the cold object still holds
    // of them is ciphertext no one can open.
    assert!(!api.host.privacy.has_key(a).await.expect("key table"));
    let mut cold_lines_of_a = 0;
    for key in api.cold_objects().await {
        let object = api.host.blobs.get(&key).await.expect("cold object");
        let bytes = strata_domain::ports::blob::collect(object.body)
            .await
            .expect("body");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
            &mut text,
        )
        .expect("gzip");
        for line in text.lines().filter(|l| l.contains(&a.to_string())) {
            cold_lines_of_a += 1;
            assert!(
                !line.contains("还有货吗"),
                "plaintext in a cold line: {line}"
            );
        }
    }
    assert!(
        cold_lines_of_a >= 3,
        "the cold object still holds their records"
    );

    let admin = api.admin();
    for route in ["", "/export", "/history", "/tier-history"] {
        let (status, _, body) = api
            .call(&admin, "GET", &format!("/v1/customers/{a}{route}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route}: {body}");
    }
    // The lookups went with it: the same e-mail and source id are a new person.
    let again = api
        .ok(
            "POST",
            "/v1/customers",
            Some(json!({"email": "gone@shop.cn", "source": {"source": "shop", "external_id": "gone@shop.cn"}})),
        )
        .await;
    assert_eq!(again["outcome"], "accepted");
    assert_ne!(again["customer"]["id"], a.to_string());
    // The other customer is untouched; the assignment left the sales list.
    let kept = api
        .ok("GET", &format!("/v1/customers/{b}/export"), None)
        .await;
    assert_eq!(ids(&kept["history"]["orders"]), ["K-1", "K-2"]);
    let listed = api.ok("GET", "/v1/salespeople/s-1/customers", None).await;
    let listed: Vec<&str> = listed["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .filter_map(|c| c["customer_id"].as_str())
        .collect();
    assert_eq!(listed, [b.to_string()]);
    // Their tier and tier changes went with the partition: the counts and
    // this month's movements hold only the other customer.
    let counts = api.ok("GET", "/v1/tiers", None).await;
    assert_eq!(counts["customers_with_a_tier"], 1, "{counts}");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let moves = api
        .ok(
            "GET",
            &format!("/v1/tiers/movements?from={month}&to={month}"),
            None,
        )
        .await;
    let ups: u64 = moves["months"][0]["up"]
        .as_object()
        .expect("ups")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(ups, 1, "{moves}");

    // On record in the ledger restores read; repeating is idempotent.
    let ledger = ErasureLedger::new(api.host.backup.snapshots.blobs.clone());
    assert!(ledger.recorded(a).await.expect("ledger"));
    assert!(!ledger.recorded(b).await.expect("ledger"));
    let repeat = api.ok("DELETE", &format!("/v1/customers/{a}"), None).await;
    assert_eq!(repeat["status"], "already_erased");
    assert_eq!(
        (
            repeat["partition_items"].as_u64(),
            repeat["lookups"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let unknown = CustomerId::generate();
    let (status, _, _) = api
        .call(&admin, "DELETE", &format!("/v1/customers/{unknown}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!ledger.recorded(unknown).await.expect("ledger"));

    // The audit log outlives the erasure and names it.
    let trail = api.audit_actions(a).await;
    let actions: Vec<&str> = trail.iter().map(|(action, _, _)| action.as_str()).collect();
    assert!(actions.contains(&"export"), "{trail:?}");
    let erasures: Vec<_> = trail
        .iter()
        .filter(|(action, _, _)| action == "erase")
        .collect();
    assert_eq!(erasures.len(), 2, "{trail:?}");
    assert!(
        erasures
            .iter()
            .all(|(_, route, status)| route == "DELETE /v1/customers/{id}" && *status == 200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesperson_lists_their_current_customers_only() {
    let api = api().await;
    let mut customers = Vec::new();
    for n in 0..3 {
        let made = api
            .ok(
                "POST",
                "/v1/customers",
                Some(json!({"email": format!("c{n}@shop.cn")})),
            )
            .await;
        let id = made["customer"]["id"].as_str().expect("id").to_owned();
        api.ok(
            "PUT",
            &format!("/v1/customers/{id}/assignment"),
            Some(json!({"salesperson": "s-1"})),
        )
        .await;
        customers.push(id);
    }
    // Re-assigned: it leaves s-1's list for s-2's.
    api.ok(
        "PUT",
        &format!("/v1/customers/{}/assignment", customers[0]),
        Some(json!({"salesperson": "s-2"})),
    )
    .await;

    let mine = api.token(Role::Sales, None, Some("s-1"));
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/salespeople/s-1/customers?limit=1".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, _, page) = api.call(&mine, "GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["salesperson"], "s-1");
        for customer in page["customers"].as_array().expect("customers") {
            assert!(customer["assigned_at"].is_string() && customer.get("tier").is_some());
            listed.push(customer["customer_id"].as_str().expect("id").to_owned());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // Most recently assigned first.
    assert_eq!(listed, [customers[2].clone(), customers[1].clone()]);

    let theirs = api.ok("GET", "/v1/salespeople/s-2/customers", None).await;
    assert_eq!(theirs["customers"][0]["customer_id"], customers[0]);
    assert_eq!(theirs["customers"].as_array().map(Vec::len), Some(1));
    let (status, _, _) = api
        .call(&mine, "GET", "/v1/salespeople/s-2/customers", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, problem) = api
        .call(
            &mine,
            "GET",
            "/v1/salespeople/s-1/customers?cursor=bogus",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "cursor");
}
