//! The churn function end to end on every adapter (embedded, and the AWS
//! adapters against moto): the scheduled batch run from its EventBridge
//! fixture, the HTTP API from API Gateway fixtures through the router the
//! Lambda serves, conversion criteria, and model promotion and rollback.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::body::Body;
use chrono::{DateTime, Datelike, Duration, Utc};
use http::{Request, StatusCode};
use strata_churn::api::{ChurnApi, router};
use strata_churn::batch::{self, BatchSettings};
use strata_churn::lambda;
use strata_churn::model::ChurnModel;
use strata_churn::registry::{BUNDLED_CARD, BUNDLED_MODEL, ModelRegistry, ModelSource, version_of};
use strata_domain::ReadOptions;
use strata_domain::channel::Channel;
use strata_domain::churn::{Promotion, RiskBand};
use strata_domain::consent::ConsentRequest;
use strata_domain::customer::{Customer, CustomerInput, Origin, Purpose};
use strata_domain::ids::{CustomerId, InteractionId, OrderId};
use strata_domain::interaction::{Interaction, InteractionKind};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderStatus};
use strata_store::cold::ColdTier;
use strata_store::{ActivityRepository, BatchPolicy, ChurnRepository, CustomerRepository};
use strata_tests::backend::Backend;
use tower::ServiceExt;

fn fixture(name: &str) -> String {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The schedule fixture's time: the day after the seeded data ends.
fn as_of() -> DateTime<Utc> {
    "1998-07-01T02:00:00Z".parse().unwrap()
}

/// The backend's cold tier (the jobs always read histories whole).
fn cold(b: &Backend) -> ColdTier {
    ColdTier::new(b.blobs.clone())
}

fn model() -> Arc<ChurnModel> {
    let card = ChurnModel::parse_card(BUNDLED_CARD).expect("card");
    Arc::new(
        ChurnModel::load(BUNDLED_MODEL, card)
            .expect(
                "ONNX Runtime; run the tests with `cargo xtask test`, which sets ORT_DYLIB_PATH",
            )
            .0,
    )
}

fn customer(n: usize) -> Customer {
    let input = CustomerInput {
        email: Some(format!("c{n}@example.cn")),
        ..CustomerInput::default()
    };
    let at = as_of() - Duration::days(600);
    let valid = input.validate(&ReadOptions::default(), at).expect("valid");
    Customer::create(
        CustomerId::generate(),
        valid,
        &Origin {
            source: "api".into(),
            at,
        },
    )
}

fn purchase(customer: CustomerId, n: usize, days_before: i64, dollars: i64) -> Order {
    Order {
        id: OrderId::parse("id", &format!("T-{customer}-{n}")).unwrap(),
        customer_id: customer,
        placed_at: as_of() - Duration::days(days_before),
        status: OrderStatus::Paid,
        lines: Vec::new(),
        item_count: 1,
        total: Money {
            minor: dollars * 100,
            currency: Currency::USD,
        },
        coupon: None,
    }
}

fn contact(customer: CustomerId, days_before: i64, kind: InteractionKind) -> Interaction {
    Interaction {
        id: InteractionId::generate(),
        customer_id: customer,
        kind,
        channel: Channel::Wechat,
        at: as_of() - Duration::days(days_before),
        text: None,
        product_id: None,
        order_id: None,
    }
}

struct Seeded {
    formal: Vec<(CustomerId, Vec<Order>)>,
    intent: CustomerId,
    prospect: CustomerId,
}

/// Formal customers with varied histories (one-off buyers long ago and
/// lately, regulars, lapsed), one intent customer, one prospect.
async fn seed(b: &Backend) -> Seeded {
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let activity = ActivityRepository::new(b.table.clone()).with_privacy(b.privacy.clone());
    let mut formal = Vec::new();
    let mut orders = Vec::new();
    for n in 0..48 {
        let c = customer(n);
        customers.create(&c).await.expect("create");
        let last = [5, 20, 45, 70, 85, 120][n % 6];
        let count = 1 + n / 6;
        let gap = [7, 30, 90, 150][n % 4];
        let mut mine = Vec::new();
        for k in 0..count {
            mine.push(purchase(
                c.id,
                k,
                last + (k as i64) * gap,
                5 + (n as i64 % 7) * 9,
            ));
        }
        orders.extend(mine.clone());
        formal.push((c.id, mine));
    }
    activity
        .put_orders(&orders, BatchPolicy::default())
        .await
        .expect("orders");
    let intent = customer(100);
    let prospect = customer(101);
    customers.create(&intent).await.expect("intent");
    customers.create(&prospect).await.expect("prospect");
    let contacts = [
        contact(intent.id, 20, InteractionKind::Inquiry),
        contact(intent.id, 3, InteractionKind::Chat),
    ];
    activity
        .put_many(&contacts, &[], BatchPolicy::default())
        .await
        .expect("interactions");
    Seeded {
        formal,
        intent: intent.id,
        prospect: prospect.id,
    }
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// An API Gateway HTTP API (v2) event, as the Lambda receives it.
fn gateway(name: &str) -> Request<Body> {
    let request = lambda_http::request::from_str(&fixture(name)).expect("API Gateway event");
    let (parts, body) = request.into_parts();
    Request::from_parts(parts, Body::from(body.to_vec()))
}

fn api(b: &Backend) -> (axum::Router, Arc<ChurnApi>) {
    let api = Arc::new(ChurnApi {
        clock: as_of,
        ..ChurnApi::new(b.table.clone(), model())
    });
    (router(api.clone()), api)
}

pub async fn scheduled_run_scores_formal_customers_and_lists_early_warning(b: &Backend) {
    let seeded = seed(b).await;
    let event: EventBridgeEvent =
        serde_json::from_str(&fixture("churn-schedule.json")).expect("EventBridge event");
    let settings = BatchSettings {
        segments: 3,
        batch_size: 7,
        page_size: 10,
        ..BatchSettings::default()
    };
    let report = lambda::on_schedule(b.table.clone(), cold(b), model(), settings, event)
        .await
        .expect("batch run");
    assert_eq!(report.customers, 50, "every customer partition, once");
    assert_eq!(report.formal, 48);
    assert_eq!(report.scored, 48);

    let repository = ChurnRepository::new(b.table.clone());
    let mut scores = Vec::new();
    for (id, orders) in &seeded.formal {
        let score = repository.score(*id).await.expect("read").expect("scored");
        assert_eq!(score.as_of, as_of());
        let recency = orders.iter().map(|o| as_of() - o.placed_at).min().unwrap();
        assert_eq!(
            score.band == RiskBand::Lapsed,
            recency >= Duration::days(90),
            "lapsed means no purchase for the label's horizon"
        );
        assert!((0.0..=1.0).contains(&score.probability));
        scores.push(score);
    }
    assert!(
        repository
            .score(seeded.intent)
            .await
            .expect("read")
            .is_none()
    );
    let high: Vec<_> = scores.iter().filter(|s| s.band == RiskBand::High).collect();
    assert!(
        !high.is_empty(),
        "the seeded histories include risky active customers"
    );
    assert!(
        high.iter().all(|s| !s.reasons.is_empty()),
        "high risk comes with reasons"
    );

    let (app, _) = api(b);
    let (status, list) = call(&app, gateway("apigw-http-get-churn-early-warning.json")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), high.len().min(3));
    let listed: Vec<f64> = items
        .iter()
        .map(|i| i["probability"].as_f64().unwrap())
        .collect();
    let mut riskiest: Vec<f64> = high.iter().map(|s| s.probability).collect();
    riskiest.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(listed, riskiest[..listed.len()], "riskiest first");
    if high.len() > 3 {
        let cursor = list["next"].as_str().expect("a next page");
        let (_, rest) = call(
            &app,
            get(&format!(
                "/v1/churn/early-warning?limit=100&cursor={cursor}"
            )),
        )
        .await;
        assert_eq!(rest["items"].as_array().unwrap().len(), high.len() - 3);
    }

    let mut converted: BTreeMap<String, u64> = BTreeMap::new();
    for (_, orders) in &seeded.formal {
        let first = orders.iter().map(|o| o.placed_at).min().unwrap();
        *converted
            .entry(format!("{:04}-{:02}", first.year(), first.month()))
            .or_default() += 1;
    }
    let (status, monthly) = call(&app, get("/v1/churn/monthly?from=1990-01&to=1998-12")).await;
    assert_eq!(status, StatusCode::OK);
    let got: BTreeMap<String, u64> = monthly["months"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["converted"].as_u64().unwrap() > 0)
        .map(|m| {
            (
                m["month"].as_str().unwrap().to_owned(),
                m["converted"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, converted);
    let churned: u64 = monthly["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["churned"].as_u64().unwrap())
        .sum();
    assert!(churned >= scores.iter().filter(|s| s.band == RiskBand::Lapsed).count() as u64);
    let (status, _) = call(&app, get("/v1/churn/monthly?from=1998-13")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

pub async fn online_scores_and_conversion_follow_stored_data(b: &Backend) {
    let seeded = seed(b).await;
    let (app, _) = api(b);
    let (id, _) = &seeded.formal[3];
    let (status, score) = call(&app, get(&format!("/v1/customers/{id}/churn"))).await;
    assert_eq!(status, StatusCode::OK, "{score}");
    assert_eq!(score["model_version"], version_of(BUNDLED_MODEL));
    assert_eq!(score["customer_id"], id.to_string());
    let (status, _) = call(&app, get(&format!("/v1/customers/{}/churn", seeded.intent))).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "intent customers are not churn-scored"
    );
    let (status, _) = call(
        &app,
        get(&format!("/v1/customers/{}/churn", CustomerId::generate())),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let conversion = format!("/v1/customers/{}/conversion", seeded.intent);
    let (status, body) = call(&app, get(&conversion)).await;
    assert_eq!(status, StatusCode::CONFLICT, "no criteria yet: {body}");
    assert_eq!(body["type"], "/problems/no-criteria");

    let (status, stored) = call(&app, gateway("apigw-http-put-conversion-criteria.json")).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["revision"], 1);
    let (status, rated) = call(&app, get(&conversion)).await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    // An inquiry and a chat (2 inquiries), the last 3 days ago, no complaint,
    // no marketing consent: 40 + 30 + 10 of 100 points.
    assert_eq!(rated["points"], 80);
    assert_eq!(rated["convertible"], true);
    assert_eq!(rated["criteria_revision"], 1);

    let stricter = r#"{"window_days":30,"threshold":90,"rules":[
        {"signal":"inquiries","at_least":3,"points":50},
        {"signal":"days_since_last_interaction","at_most":7,"points":50}]}"#;
    let put = |if_match: Option<&str>| {
        let mut request =
            Request::put("/v1/conversion/criteria").header("content-type", "application/json");
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.body(Body::from(stricter)).unwrap()
    };
    let (status, _) = call(&app, put(Some("\"7\""))).await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "a stale revision is refused"
    );
    let (status, stored) = call(&app, put(Some("\"1\""))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["revision"], 2);
    let (_, rated) = call(&app, get(&conversion)).await;
    assert_eq!(
        rated["convertible"], false,
        "criteria are data: the new rule applies at once"
    );
    assert_eq!(rated["points"], 50);

    let bad = Request::put("/v1/conversion/criteria")
        .body(Body::from(r#"{"window_days":0,"threshold":5,"rules":[]}"#))
        .unwrap();
    let (status, problem) = call(&app, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["window_days", "rules", "threshold"]);

    let (id, _) = &seeded.formal[0];
    let (status, _) = call(&app, get(&format!("/v1/customers/{id}/conversion"))).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "formal customers have converted"
    );
    let (status, _) = call(
        &app,
        get(&format!("/v1/customers/{}/conversion", seeded.prospect)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a prospect has shown no intent"
    );
}

/// The bundled model with an unknown protobuf field appended: the same
/// network, other bytes, so another version.
fn variant(tag: u8) -> Vec<u8> {
    let mut bytes = BUNDLED_MODEL.to_vec();
    bytes.extend_from_slice(&[0xA0, 0x06, tag]);
    bytes
}

fn card_for(model: &[u8], roc_auc: f64) -> Vec<u8> {
    let mut card: serde_json::Value = serde_json::from_slice(BUNDLED_CARD).unwrap();
    card["version"] = version_of(model).into();
    card["holdout"]["roc_auc"] = roc_auc.into();
    serde_json::to_vec(&card).unwrap()
}

pub async fn promotion_moves_the_pointer_only_for_a_model_not_worse(b: &Backend) {
    let registry = ModelRegistry::new(b.table.clone(), b.blobs.clone());
    let (_, _, source) = registry.load_serving().await.expect("bundled");
    assert_eq!(
        source,
        ModelSource::Bundled,
        "no pointer: the bundled model serves"
    );

    let first = variant(1);
    let now = as_of();
    let decision = registry
        .promote(&first, &card_for(&first, 0.80), None, now)
        .await
        .expect("promote");
    assert!(matches!(decision, Promotion::Promote { .. }));
    let (model, _, source) = registry.load_serving().await.expect("pointer");
    assert_eq!(
        (source, model.version()),
        (ModelSource::Pointer, version_of(&first).as_str())
    );

    let worse = variant(2);
    let decision = registry
        .promote(&worse, &card_for(&worse, 0.79), Some(0.80), now)
        .await
        .expect("evaluate");
    assert!(matches!(decision, Promotion::Keep { .. }));
    assert_eq!(
        registry.pointer().await.unwrap().unwrap().version,
        version_of(&first)
    );
    registry
        .fetch(&version_of(&worse))
        .await
        .expect("a kept challenger stays stored");

    let better = variant(3);
    let decision = registry
        .promote(&better, &card_for(&better, 0.81), Some(0.80), now)
        .await
        .expect("promote");
    assert!(matches!(decision, Promotion::Promote { .. }));
    let pointer = registry.pointer().await.unwrap().unwrap();
    assert_eq!(pointer.version, version_of(&better));
    assert_eq!(pointer.previous, Some(version_of(&first)));

    registry
        .rollback(&version_of(&first), now)
        .await
        .expect("rollback");
    let (model, _, _) = registry.load_serving().await.expect("rolled back");
    assert_eq!(model.version(), version_of(&first));
    assert!(registry.rollback("000000000000", now).await.is_err());

    let mislabelled = card_for(&first, 0.9);
    assert!(
        registry.publish(&better, &mislabelled,).await.is_err(),
        "a card must name its file"
    );
}

/// Records a withdrawal on the profile, as the ingest API does.
async fn withdraw(b: &Backend, id: CustomerId, purpose: Purpose) {
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let mut profile = customers.get(id).await.expect("read").expect("profile");
    let at = as_of() - Duration::days(1);
    let withdrawal = ConsentRequest {
        purpose,
        granted: false,
        version: "terms-4".into(),
        source: "preference-centre".into(),
        at: Some(at.to_rfc3339()),
    }
    .validate(&ReadOptions::default(), at)
    .expect("valid");
    let input = CustomerInput {
        email: Some("ignored@example.cn".into()),
        ..CustomerInput::default()
    };
    let mut valid = input.validate(&ReadOptions::default(), at).expect("valid");
    valid.identity = Default::default();
    valid.consents = vec![withdrawal];
    let origin = Origin {
        source: "api".into(),
        at,
    };
    assert!(!profile.merge(valid, &origin).is_empty());
    customers.save(&profile).await.expect("save");
}

/// A withdrawal stops the use it gates, in the batch and online: profiling
/// (no score, the stored one and its early-warning entry removed; the
/// online score and conversion rating refused by name), analytics (left out
/// of the monthly counts).
pub async fn withdrawn_consent_stops_scoring_and_counting(b: &Backend) {
    let seeded = seed(b).await;
    let settings = BatchSettings {
        segments: 2,
        ..BatchSettings::default()
    };
    let before = batch::run(b.table.clone(), cold(b), model(), settings, as_of())
        .await
        .expect("batch run");
    assert_eq!(before.scored, 48);
    let repository = ChurnRepository::new(b.table.clone());
    let high: Vec<CustomerId> = repository
        .by_risk(RiskBand::High, None, 100)
        .await
        .expect("list")
        .scores
        .iter()
        .map(|s| s.customer_id)
        .collect();
    let profiled_out = *high.first().expect("a high-risk customer");
    let (counted_out, _) = seeded
        .formal
        .iter()
        .find(|(id, _)| *id != profiled_out)
        .expect("another customer");
    let uncontacted = *high.get(1).expect("another high-risk customer");
    withdraw(b, profiled_out, Purpose::Profiling).await;
    withdraw(b, *counted_out, Purpose::Analytics).await;
    withdraw(b, seeded.intent, Purpose::Profiling).await;
    withdraw(b, uncontacted, Purpose::Marketing).await;

    let after = batch::run(b.table.clone(), cold(b), model(), settings, as_of())
        .await
        .expect("batch run");
    assert_eq!(after.scored, 47);
    assert_eq!(after.no_profiling_consent, 2);
    assert_eq!(after.no_analytics_consent, 1);
    assert_eq!(after.not_contactable, 1);
    assert!(
        repository
            .score(profiled_out)
            .await
            .expect("read")
            .is_none(),
        "the stored score goes"
    );
    assert!(
        repository
            .score(*counted_out)
            .await
            .expect("read")
            .is_some(),
        "analytics withdrawn still allows profiling"
    );
    let listed = repository
        .by_risk(RiskBand::High, None, 100)
        .await
        .expect("list");
    assert!(listed.scores.iter().all(|s| s.customer_id != profiled_out));
    for score in &listed.scores {
        assert_eq!(
            score.contactable,
            score.customer_id != uncontacted,
            "marketing withdrawn: listed, not to be contacted"
        );
    }
    let converted = |months: &[strata_domain::churn::lifecycle::MonthlyCounts]| -> u64 {
        months.iter().map(|m| m.converted).sum()
    };
    let months = repository
        .monthly("0000-01", "9999-12")
        .await
        .expect("months");
    assert_eq!(converted(&months), 47, "one formal customer left out");

    let (app, _) = api(b);
    for uri in [
        format!("/v1/customers/{profiled_out}/churn"),
        format!("/v1/customers/{}/conversion", seeded.intent),
    ] {
        let (status, problem) = call(&app, get(&uri)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{uri}: {problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap_or_default()
                .ends_with("no-consent"),
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("profiling"),
            "{problem}"
        );
    }
    let (status, _) = call(&app, get(&format!("/v1/customers/{counted_out}/churn"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, score) = call(&app, get(&format!("/v1/customers/{uncontacted}/churn"))).await;
    assert_eq!(status, StatusCode::OK, "{score}");
    assert_eq!(score["contactable"], false, "{score}");
    assert_eq!(score["customer_id"], uncontacted.to_string());

    // A marketing withdrawal after the run shows on the list at once.
    let since = *high.get(2).expect("a third high-risk customer");
    withdraw(b, since, Purpose::Marketing).await;
    let (status, list) = call(&app, get("/v1/churn/early-warning?limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let marked: Vec<(String, bool)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            (
                s["customer_id"].as_str().unwrap_or_default().to_owned(),
                s["contactable"].as_bool().expect("contactable"),
            )
        })
        .collect();
    assert!(marked.len() >= 2, "{list}");
    for (id, contactable) in marked {
        let withdrawn = id == uncontacted.to_string() || id == since.to_string();
        assert_eq!(contactable, !withdrawn, "{id}");
    }
}

strata_tests::on_every_adapter!(
    scheduled_run_scores_formal_customers_and_lists_early_warning,
    online_scores_and_conversion_follow_stored_data,
    promotion_moves_the_pointer_only_for_a_model_not_worse,
    withdrawn_consent_stops_scoring_and_counting,
);
