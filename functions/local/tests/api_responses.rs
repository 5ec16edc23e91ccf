//! Every documented success response, produced by the real routers from
//! real data, matches its schema in `infra/openapi.yaml`. The schemas close
//! their objects (`additionalProperties: false`), so a field the code adds,
//! renames or drops without the document fails here. Every request the
//! test sends must match the documented request schema too, and every
//! documented route must have had a success response checked.

mod common;

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use chrono::{Duration, TimeZone, Utc};
use common::repo_path;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::RunOutcome;
use strata_local::host::Host;
use strata_store::ImportedObject;
use tower::ServiceExt;

/// The OpenAPI document as JSON, with OpenAPI 3.0's `nullable` turned into
/// JSON Schema's `type: [T, "null"]`, so a JSON Schema validator reads it.
fn document() -> Value {
    let text = std::fs::read_to_string(repo_path("infra/openapi.yaml")).expect("openapi.yaml");
    let mut doc: Value = serde_yaml::from_str(&text).expect("OpenAPI YAML");
    nullable_to_type(&mut doc);
    doc
}

fn nullable_to_type(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        // An untyped nullable schema (`allOf: [$ref]`): the
                        // schema or null.
                        let schema = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([schema, {"type": "null"}]));
                    }
                }
                if let Some(Value::Array(options)) = map.get_mut("enum") {
                    options.push(Value::Null);
                }
            }
            map.values_mut().for_each(nullable_to_type);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_type),
        _ => {}
    }
}

/// Follows `$ref`s to `#/components/...` until a non-reference.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("local reference");
        node = doc.pointer(pointer).expect("reference resolves");
    }
    node
}

struct Checker {
    doc: Value,
    checked: BTreeSet<String>,
}

impl Checker {
    fn operation(&self, route: &str) -> &Value {
        let (method, path) = route.split_once(' ').expect("METHOD /path");
        let operation = &self.doc["paths"][path][method.to_lowercase()];
        assert!(!operation.is_null(), "{route} is not documented");
        operation
    }

    /// A valid request must be one the document allows (or clients and
    /// generated tests could never send it).
    fn check_request(&self, route: &str, body: &Value) {
        let request = resolve(&self.doc, &self.operation(route)["requestBody"]);
        let schema = &request["content"]["application/json"]["schema"];
        self.validate(schema, body, &format!("{route} request"));
    }

    /// Validates `body` against the schema of `route`'s `status` response.
    fn check(&mut self, route: &str, status: StatusCode, body: &Value) {
        let response = &self.operation(route)["responses"][status.as_str()];
        assert!(
            !response.is_null(),
            "{route} answered {status}, which the document does not list"
        );
        let response = resolve(&self.doc, response);
        let schema = &response["content"]["application/json"]["schema"];
        self.validate(schema, body, &format!("{route} {status}"));
        self.checked.insert(format!("{route} {status}"));
    }

    fn validate(&self, schema: &Value, body: &Value, what: &str) {
        assert!(!schema.is_null(), "{what}: no JSON schema documented");
        // The schema as a document of its own that carries the components,
        // so its references resolve.
        let mut standalone = schema.clone();
        standalone["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft4::new(&standalone)
            .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not match the document:\n  {}\nbody: {}",
            errors.join("\n  "),
            serde_json::to_string_pretty(body).unwrap_or_default()
        );
    }
}

async fn call(
    router: &Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{method} {uri}: {status} with a body that is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_success_response_matches_the_document() {
    let api = common::local::LocalApi::open(7).await;
    let (host, router) = (&api.host, api.router.clone());
    let admin = api.admin();
    let mut checker = Checker {
        doc: document(),
        checked: BTreeSet::new(),
    };
    macro_rules! call {
        ($route:expr, $uri:expr) => {
            call!($route, $uri, None)
        };
        ($route:expr, $uri:expr, $body:expr) => {{
            let method = $route.split_once(' ').expect("route").0;
            let request: Option<Value> = $body;
            if let Some(request) = &request {
                checker.check_request($route, request);
            }
            let uri = String::from($uri);
            let (status, body) = call(&router, &admin, method, &uri, request).await;
            assert!(status.is_success(), "{} {uri}: {status} {body}", $route);
            checker.check($route, status, &body);
            body
        }};
    }

    let created = call!(
        "POST /v1/customers",
        "/v1/customers",
        Some(json!({
            "name": "李娜", "email": "Li.Na@Example.CN", "phone": "138 1234 5678",
            "birth_date": "1990-05-17",
            "address": {"country": "CN", "city": "上海", "street": "南京西路 1号", "postal_code": "200041"},
            "preferences": {"categories": ["Furniture/Chairs"], "contact_channel": "email", "language": "zh"},
            "acquisition_channel": "web",
            "source": {"source": "shop", "external_id": "u-1"},
            "consents": [
                {"purpose": "marketing", "granted": true, "at": "2026-01-02T03:04:05Z", "version": "terms-3", "source": "signup-form"},
                {"purpose": "personalisation", "granted": true, "at": "2026-01-02T03:04:05Z", "version": "terms-3", "source": "signup-form"}
            ]
        }))
    );
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    let found = call!(
        "GET /v1/customers",
        "/v1/customers?email=li.na%40example.cn"
    );
    assert_eq!(
        found["customers"][0]["customer"]["id"],
        json!(id),
        "{found}"
    );
    call!(
        "POST /v1/customers",
        "/v1/customers",
        Some(
            json!({"email": "li.na@example.cn", "name": "Li Na", "source": {"source": "crm", "external_id": "c-9"}})
        )
    );
    let placed = |days: i64| {
        (Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap() + Duration::days(days)).to_rfc3339()
    };
    call!(
        "POST /v1/customers/{id}/orders",
        format!("/v1/customers/{id}/orders"),
        Some(
            json!({"id": "SO-1", "placed_at": placed(0), "currency": "CNY",
            "lines": [{"product_id": "P-1", "quantity": 2, "unit_price": "64.00"}]})
        )
    );
    call!(
        "POST /v1/customers/{id}/orders",
        format!("/v1/customers/{id}/orders"),
        Some(
            json!({"id": "SO-2", "placed_at": placed(40), "total": "1,280.50", "currency": "CNY"})
        )
    );
    call!(
        "POST /v1/customers/{id}/interactions",
        format!("/v1/customers/{id}/interactions"),
        Some(
            json!({"kind": "complaint", "channel": "chat", "at": placed(41), "text": "包裹破损 📦", "order_id": "SO-2"})
        )
    );
    call!(
        "POST /v1/customers/{id}/reviews",
        format!("/v1/customers/{id}/reviews"),
        Some(json!({"product_id": "P-1", "rating": 4, "text": "不错", "at": placed(5)}))
    );
    call!(
        "POST /v1/batch",
        "/v1/batch",
        Some(json!({"records": [
            {"type": "customer", "customer": {"email": "wang@example.com", "name": "Wang"}},
            {"type": "order", "customer": {"email": "wang@example.com"},
             "order": {"id": "SO-9", "placed_at": placed(3), "total": "10.00", "currency": "CNY"}},
            {"type": "customer", "customer": {"email": "not an e-mail"}}
        ]}))
    );

    // An intent customer (asked, never bought) for the conversion rating.
    let intent = call!(
        "POST /v1/customers",
        "/v1/customers",
        Some(json!({"phone": "+86 139 0000 1111", "name": "张伟"}))
    );
    let intent = intent["customer"]["id"].as_str().expect("id").to_owned();
    call!(
        "POST /v1/customers/{id}/interactions",
        format!("/v1/customers/{intent}/interactions"),
        Some(
            json!({"kind": "inquiry", "channel": "wechat", "at": placed(100), "product_id": "P-1"})
        )
    );
    call!(
        "PUT /v1/conversion/criteria",
        "/v1/conversion/criteria",
        Some(json!({"window_days": 365, "threshold": 3, "rules": [
            {"signal": "inquiries", "at_least": 1.0, "points": 2},
            {"signal": "days_since_last_interaction", "at_most": 400.0, "points": 1}
        ]}))
    );
    call!("GET /v1/conversion/criteria", "/v1/conversion/criteria");
    call!(
        "GET /v1/customers/{id}/conversion",
        format!("/v1/customers/{intent}/conversion")
    );

    // A real export through the import path, then the scheduled jobs, so the
    // reports, scores and recommendations hold real values.
    let import_id = import_superstore_head(host).await;
    let as_of = Utc.with_ymd_and_hms(2018, 1, 1, 0, 0, 0).unwrap();
    strata_churn::batch::run(
        host.table.clone(),
        host.cold.clone(),
        host.churn_model.clone(),
        strata_churn::batch::BatchSettings::default(),
        as_of,
    )
    .await
    .expect("churn batch");
    strata_recommend::job::run(
        host.table.clone(),
        host.cold.clone(),
        strata_recommend::job::JobSettings::default(),
        as_of,
    )
    .await
    .expect("recommendation precompute");
    call!("GET /v1/imports/{id}", format!("/v1/imports/{import_id}"));
    let warned = call!(
        "GET /v1/churn/early-warning",
        "/v1/churn/early-warning?limit=5"
    );
    assert!(
        !warned["items"].as_array().expect("items").is_empty(),
        "{warned}"
    );
    let buyer = warned["items"][0]["customer_id"]
        .as_str()
        .expect("customer id")
        .to_owned();
    let recommended = call!(
        "GET /v1/customers/{id}/recommendations",
        format!("/v1/customers/{buyer}/recommendations?limit=5")
    );
    assert!(
        !recommended["items"].as_array().expect("items").is_empty(),
        "{recommended}"
    );
    // An imported profile: the store keeps the import's bookkeeping on it,
    // which the closed schema (and this check) keep out of the answer.
    let imported = call!("GET /v1/customers/{id}", format!("/v1/customers/{buyer}"));
    assert!(
        imported["customer"].get("summary_marks").is_none(),
        "{imported}"
    );
    let monthly = call!("GET /v1/churn/monthly", "/v1/churn/monthly");
    assert!(!monthly["months"].as_array().expect("months").is_empty());

    call!("GET /v1/customers/{id}", format!("/v1/customers/{id}"));
    call!(
        "GET /v1/customers/{id}/history",
        format!("/v1/customers/{id}/history")
    );

    // Value tiers: the imported buyer has one, with its history.
    let tier = imported["customer"]["tier"]
        .as_str()
        .expect("an imported buyer has a tier")
        .to_owned();
    let history = call!(
        "GET /v1/customers/{id}/tier-history",
        format!("/v1/customers/{buyer}/tier-history")
    );
    assert_eq!(history["changes"][0]["to"], json!(tier), "{history}");
    let counts = call!("GET /v1/tiers", "/v1/tiers");
    assert!(
        counts["tiers"][&tier].as_u64().expect("count") >= 1,
        "{counts}"
    );
    call!(
        "GET /v1/tiers/{tier}/customers",
        format!("/v1/tiers/{tier}/customers?limit=5")
    );
    let month = Utc::now().format("%Y-%m").to_string();
    call!(
        "GET /v1/tiers/movements",
        format!("/v1/tiers/movements?from={month}&to={month}")
    );
    let policy = call!("GET /v1/tiers/policy", "/v1/tiers/policy");
    call!(
        "PUT /v1/tiers/policy",
        "/v1/tiers/policy",
        Some(policy["policy"].clone())
    );
    call!(
        "GET /v1/customers/{id}/merges",
        format!("/v1/customers/{id}/merges")
    );
    call!(
        "GET /v1/customers/{id}/churn",
        format!("/v1/customers/{id}/churn")
    );
    call!(
        "GET /v1/customers/{id}/recommendations",
        format!("/v1/customers/{id}/recommendations")
    );
    // The consent ledger: the creation's two decisions, a withdrawal (new,
    // then stored once), and the withdrawal stopping recommendations.
    let ledger = call!(
        "GET /v1/customers/{id}/consents",
        format!("/v1/customers/{id}/consents")
    );
    assert_eq!(
        ledger["consents"].as_array().map(Vec::len),
        Some(2),
        "{ledger}"
    );
    let withdrawal = json!({"purpose": "personalisation", "granted": false,
        "version": "terms-3", "source": "preference-centre", "at": "2026-11-20T08:00:00Z"});
    let recorded = call!(
        "POST /v1/customers/{id}/consents",
        format!("/v1/customers/{id}/consents"),
        Some(withdrawal.clone())
    );
    assert_eq!(recorded["outcome"], "recorded", "{recorded}");
    let repeated = call!(
        "POST /v1/customers/{id}/consents",
        format!("/v1/customers/{id}/consents"),
        Some(withdrawal)
    );
    assert_eq!(repeated["outcome"], "already_recorded", "{repeated}");
    let withheld = call!(
        "GET /v1/customers/{id}/recommendations",
        format!("/v1/customers/{id}/recommendations")
    );
    assert_eq!(withheld["outcome"], "no_consent", "{withheld}");
    assert_eq!(withheld["items"], json!([]), "{withheld}");

    // Rewards: coupon templates (one made, then replaced), the policy
    // granting one to a tier, points given and spent (the same reference
    // twice), a coupon issued and redeemed, a bulk issue to the imported
    // buyer's tier, orders shipped and refunded (the refund taking back
    // what its order earned), and a referral code entered by a customer
    // who has not bought.
    let welcome = |name: &str| {
        json!({"name": name, "discount": {"kind": "percent", "percent": 10},
            "min_spend_minor": 5000, "valid_days": 90})
    };
    let made = call!(
        "PUT /v1/coupons/templates/{template}",
        "/v1/coupons/templates/welcome",
        Some(welcome("新客 9 折"))
    );
    assert_eq!(made["revision"], 1, "{made}");
    let replaced = call!(
        "PUT /v1/coupons/templates/{template}",
        "/v1/coupons/templates/welcome",
        Some(welcome("新客 9 折（90 天有效）"))
    );
    assert_eq!(replaced["revision"], 2, "{replaced}");
    call!(
        "PUT /v1/coupons/templates/{template}",
        "/v1/coupons/templates/ten-off",
        Some(
            json!({"name": "满 200 减 10", "discount": {"kind": "amount", "minor": 1000},
            "min_spend_minor": 20000, "valid_days": 30,
            "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z",
            "tiers": ["diamond", "platinum", "gold", "silver", "bronze"]})
        )
    );
    let templates = call!("GET /v1/coupons/templates", "/v1/coupons/templates");
    assert_eq!(
        templates["templates"].as_array().map(Vec::len),
        Some(2),
        "{templates}"
    );
    call!(
        "GET /v1/coupons/templates/{template}",
        "/v1/coupons/templates/ten-off"
    );
    let rewards = call!("GET /v1/rewards/policy", "/v1/rewards/policy");
    let mut rewards_policy = rewards["policy"].clone();
    rewards_policy["tiers"]["diamond"]["coupons"] = json!(["ten-off"]);
    let stored = call!(
        "PUT /v1/rewards/policy",
        "/v1/rewards/policy",
        Some(rewards_policy)
    );
    assert_eq!(
        stored["policy"]["tiers"]["diamond"]["coupons"],
        json!(["ten-off"]),
        "{stored}"
    );
    let given = call!(
        "POST /v1/customers/{id}/points/adjustments",
        format!("/v1/customers/{id}/points/adjustments"),
        Some(json!({"points": 500, "reference": "ticket-4711", "note": "包裹破损补偿"}))
    );
    assert_eq!(given["recorded"], true, "{given}");
    let spend = json!({"points": 120, "reference": "checkout-7781"});
    let spent = call!(
        "POST /v1/customers/{id}/points/redemptions",
        format!("/v1/customers/{id}/points/redemptions"),
        Some(spend.clone())
    );
    assert_eq!(spent["entry"]["points"], -120, "{spent}");
    let respent = call!(
        "POST /v1/customers/{id}/points/redemptions",
        format!("/v1/customers/{id}/points/redemptions"),
        Some(spend)
    );
    assert_eq!(
        (&respent["recorded"], &respent["entry"]),
        (&json!(false), &Value::Null),
        "{respent}"
    );
    let ledger = call!(
        "GET /v1/customers/{id}/points",
        format!("/v1/customers/{id}/points?limit=10")
    );
    let kinds: BTreeSet<&str> = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        ["purchase", "review", "adjustment", "redemption"]
            .iter()
            .all(|k| kinds.contains(k)),
        "{ledger}"
    );
    assert!(ledger["next_expiry"].is_object(), "{ledger}");
    let coupon = call!(
        "POST /v1/customers/{id}/coupons",
        format!("/v1/customers/{id}/coupons"),
        Some(json!({"template": "welcome"}))
    );
    let code = coupon["code"].as_str().expect("coupon code").to_owned();
    let redeemed = call!(
        "POST /v1/customers/{id}/coupons/{code}/redemptions",
        format!("/v1/customers/{id}/coupons/{code}/redemptions"),
        Some(json!({"reference": "SO-3", "order_total": "88.00"}))
    );
    assert_eq!(
        (&redeemed["coupon"]["state"], &redeemed["discount_minor"]),
        (&json!("redeemed"), &json!(880)),
        "{redeemed}"
    );
    call!(
        "GET /v1/customers/{id}/coupons",
        format!("/v1/customers/{id}/coupons")
    );
    let issue = call!(
        "POST /v1/coupons/issues",
        "/v1/coupons/issues",
        Some(json!({"id": "spring-2027", "template": "ten-off", "tier": tier}))
    );
    assert_eq!(issue["done"], true, "{issue}");
    call!(
        "GET /v1/coupons/issues/{issue}",
        "/v1/coupons/issues/spring-2027"
    );
    let granted = call!(
        "GET /v1/customers/{id}/coupons",
        format!("/v1/customers/{buyer}/coupons")
    );
    assert!(
        granted["coupons"]
            .as_array()
            .expect("coupons")
            .iter()
            .any(|c| c["template"] == "ten-off"),
        "{granted}"
    );
    let shipped = call!(
        "PUT /v1/customers/{id}/orders/{order}/status",
        format!("/v1/customers/{id}/orders/SO-2/status"),
        Some(json!({"status": "shipped"}))
    );
    assert_eq!(shipped["points_clawed_back"], Value::Null, "{shipped}");
    let refunded = call!(
        "PUT /v1/customers/{id}/orders/{order}/status",
        format!("/v1/customers/{id}/orders/SO-1/status"),
        Some(json!({"status": "refunded"}))
    );
    assert_eq!(refunded["previous_status"], "paid", "{refunded}");
    assert!(
        refunded["points_clawed_back"]
            .as_i64()
            .is_some_and(|p| p > 0),
        "{refunded}"
    );
    let referrer = call!(
        "GET /v1/customers/{id}/referral",
        format!("/v1/customers/{id}/referral")
    );
    let referral_code = referrer["code"].as_str().expect("referral code").to_owned();
    let linked = call!(
        "PUT /v1/customers/{id}/referral",
        format!("/v1/customers/{intent}/referral"),
        Some(json!({ "code": referral_code }))
    );
    assert_eq!(linked["referrer"], json!(id), "{linked}");
    let referred = call!(
        "GET /v1/customers/{id}/referral",
        format!("/v1/customers/{intent}/referral")
    );
    assert_eq!(
        referred["referred_by"]["code"],
        json!(referral_code),
        "{referred}"
    );
    // Their first purchase credits the referrer, and the link says when.
    call!(
        "POST /v1/customers/{id}/orders",
        format!("/v1/customers/{intent}/orders"),
        Some(json!({"id": "SO-50", "placed_at": placed(120), "total": "99.00", "currency": "CNY"}))
    );
    let rewarded = call!(
        "GET /v1/customers/{id}/referral",
        format!("/v1/customers/{intent}/referral")
    );
    assert!(
        rewarded["referred_by"]["rewarded_at"].is_string(),
        "{rewarded}"
    );
    let credited = call!(
        "GET /v1/customers/{id}/referral",
        format!("/v1/customers/{id}/referral")
    );
    assert_eq!(credited["referral_credits"], 1, "{credited}");

    call!("GET /v1/churn/model", "/v1/churn/model");
    call!("GET /v1/churn/monthly", "/v1/churn/monthly");
    call!("GET /v1/churn/early-warning", "/v1/churn/early-warning");
    call!("GET /v1/imports", "/v1/imports");

    call!(
        "PUT /v1/customers/{id}/assignment",
        format!("/v1/customers/{id}/assignment"),
        Some(json!({"salesperson": "sales-7"}))
    );
    let audit = call!("GET /v1/audit", format!("/v1/audit?customer={id}&limit=50"));
    assert!(!audit["entries"].as_array().expect("entries").is_empty());

    // The sales team and segments: a team, a salesperson in it, the segment
    // list saved and previewed, a nightly run, the sizes and members.
    call!(
        "PUT /v1/teams/{team}",
        "/v1/teams/north",
        Some(json!({"name": "华北"}))
    );
    call!(
        "PUT /v1/salespeople/{salesperson}",
        "/v1/salespeople/sales-7",
        Some(
            json!({"name": "王芳", "email": "wang.fang@shop.cn", "team": "north",
            "skills": ["win-back"], "languages": ["zh-CN"], "capacity": 150})
        )
    );
    call!(
        "PUT /v1/teams/{team}",
        "/v1/teams/north",
        Some(json!({"name": "华北", "lead": "sales-7"}))
    );
    call!("GET /v1/teams", "/v1/teams");
    let north = call!("GET /v1/teams/{team}", "/v1/teams/north");
    assert_eq!(north["members"][0]["id"], "sales-7", "{north}");
    call!("GET /v1/salespeople", "/v1/salespeople");
    call!(
        "GET /v1/salespeople/{salesperson}",
        "/v1/salespeople/sales-7"
    );
    let definition = call!("GET /v1/segments/definition", "/v1/segments/definition");
    let mut list = definition["definition"].clone();
    list["segments"].as_array_mut().expect("segments").insert(
        0,
        json!({"id": "big_spenders", "name": "大客户", "description": "Spent 1,000 or more.",
            "rule": {"all": [{"attr": "spend", "op": "gte", "value": 1000},
                {"not": {"attr": "consents", "op": "contains", "value": "third_party_sharing"}}]}}),
    );
    let preview = call!(
        "POST /v1/segments/preview",
        "/v1/segments/preview",
        Some(list.clone())
    );
    assert_eq!(preview["complete"], true, "{preview}");
    call!(
        "PUT /v1/segments/definition",
        "/v1/segments/definition",
        Some(list)
    );
    strata_engage::Segmenter::new(host.table.clone())
        .run(host.segment_settings(), chrono::Utc::now())
        .await
        .expect("segment run");
    let strategy = call!(
        "PUT /v1/strategies/{segment}",
        "/v1/strategies/at_risk",
        Some(json!({"channels": ["phone", "wechat"], "offer": "welcome",
            "cadence": {"first_contact_days": 2, "every_days": 14, "task": "call"},
            "assign": true, "team": "north", "skills": ["win-back"], "priority": 1}))
    );
    assert_eq!(strategy["revision"], 1, "{strategy}");
    call!("GET /v1/strategies/{segment}", "/v1/strategies/at_risk");
    call!("GET /v1/strategies", "/v1/strategies");
    let segments = call!("GET /v1/segments", "/v1/segments");
    assert!(segments["counted_at"].is_string(), "{segments}");
    let members = call!(
        "GET /v1/segments/{segment}/customers",
        "/v1/segments/other/customers?limit=5"
    );
    assert!(
        !members["customers"]
            .as_array()
            .expect("customers")
            .is_empty(),
        "{members}"
    );

    // The data subject's rights: a whole export (with the assignment, and a
    // scored customer's churn score and recommendation profile), the
    // salesperson's list, an erasure and its idempotent repeat.
    let export = call!(
        "GET /v1/customers/{id}/export",
        format!("/v1/customers/{id}/export")
    );
    assert_eq!(export["assignment"]["salesperson"], "sales-7", "{export}");
    let export = call!(
        "GET /v1/customers/{id}/export",
        format!("/v1/customers/{buyer}/export")
    );
    assert!(
        export["churn_score"].is_object() && export["recommendation_profile"].is_object(),
        "{export}"
    );
    let listed = call!(
        "GET /v1/salespeople/{salesperson}/customers",
        "/v1/salespeople/sales-7/customers?limit=10"
    );
    assert_eq!(listed["customers"][0]["customer_id"], json!(id), "{listed}");
    let erased = call!(
        "DELETE /v1/customers/{id}",
        format!("/v1/customers/{intent}")
    );
    assert_eq!(erased["status"], "erased", "{erased}");
    let again = call!(
        "DELETE /v1/customers/{id}",
        format!("/v1/customers/{intent}")
    );
    assert_eq!(again["status"], "already_erased", "{again}");

    let documented = documented_success_routes(&checker.doc);
    let answered: BTreeSet<String> = checker
        .checked
        .iter()
        .map(|checked| checked.rsplitn(3, ' ').nth(2).expect("route").to_owned())
        .collect();
    let unchecked: Vec<_> = documented.difference(&answered).collect();
    assert!(
        unchecked.is_empty(),
        "documented routes whose success response no case checked: {unchecked:?}"
    );
}

/// `METHOD /path` of every operation with a 2xx response.
fn documented_success_routes(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue; // path-level parameters
            };
            if responses.keys().any(|status| status.starts_with('2')) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    routes
}

/// Imports the first Superstore lines as the S3 trigger would; the id.
async fn import_superstore_head(host: &Host) -> String {
    let head = common::superstore_head(400);
    let key = "imports/superstore/head.csv";
    let receipt = host
        .blobs
        .put(
            key,
            blob::body_from(head.into_bytes()),
            PutOptions::default(),
        )
        .await
        .expect("store the export");
    let object = ImportedObject {
        bucket: "local".into(),
        key: key.into(),
        version: None,
        etag: receipt.etag,
        size: receipt.size,
    };
    match host
        .importer
        .run(object, "test", None)
        .await
        .expect("import")
    {
        RunOutcome::Completed(state) => state.id,
        other => panic!("the import did not complete: {other:?}"),
    }
}
