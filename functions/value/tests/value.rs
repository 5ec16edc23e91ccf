//! Value tiers end to end on every backend: the write paths (the API's
//! order route, `/v1/batch`) assess a customer when their purchases change,
//! the policy is changed under its revision, the daily refresh moves
//! customers as time passes and writes only those who move, and the tier
//! history, counts, lists and movements report it.

mod common;

use common::{day, new_customer};

use axum::Router;
use chrono::{Duration, Utc};
use http::StatusCode;
use serde_json::{Value, json};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_domain::ids::SalespersonId;
use strata_domain::money::Currency;
use strata_ingest::api::{ApiState, router};
use strata_ingest::ingest::Ingestor;
use strata_tests::backend::Backend;
use strata_tests::http::{send, send_as};
use strata_tests::on_every_adapter;
use strata_value::{RefreshSettings, ValueRefresh};

fn options() -> ReadOptions {
    ReadOptions {
        currency: Currency::USD,
        ..ReadOptions::default()
    }
}

fn app(backend: &Backend) -> Router {
    let ingestor = Ingestor::new(backend.table.clone(), backend.privacy.clone(), options());
    router(ApiState::new(backend.table.clone(), ingestor))
}

fn settings() -> RefreshSettings {
    RefreshSettings {
        currency: Currency::USD,
        segments: 2,
        page: 100,
    }
}

/// A GET as a salesperson (the guard would have put the principal there).
async fn get_as_sales(app: &Router, salesperson: &str, path: &str) -> (StatusCode, Value) {
    let principal = Principal::new(
        format!("user-{salesperson}"),
        Role::Sales,
        None,
        Some(SalespersonId::parse("salesperson", salesperson).expect("id")),
    )
    .expect("principal");
    let (status, body, _) = send_as(app, Some(principal), "GET", path, None, &[]).await;
    (status, body)
}

async fn order(app: &Router, id: &str, order: Value) {
    let (status, body, _) = send(
        app,
        "POST",
        &format!("/v1/customers/{id}/orders"),
        Some(order),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn customer(app: &Router, id: &str) -> Value {
    let (status, body, _) = send(app, "GET", &format!("/v1/customers/{id}"), None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["customer"].clone()
}

async fn history(app: &Router, id: &str) -> Vec<Value> {
    let (status, body, _) = send(
        app,
        "GET",
        &format!("/v1/customers/{id}/tier-history"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["changes"].as_array().expect("changes").clone()
}

/// A first small purchase makes a bronze customer; a year of large,
/// frequent orders lifts them; refunded orders cost points. Every move is
/// in the history and the counts, lists and movements follow.
async fn tiers_follow_purchases(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "value-1@shop.example").await;
    order(
        &app,
        &id,
        json!({"id": "V1-1", "placed_at": day(2), "currency": "USD", "total": "12.00"}),
    )
    .await;
    let first = customer(&app, &id).await;
    assert_eq!(first["tier"], "bronze", "{first}");
    let value = &first["value"];
    assert_eq!(value["tier"], "bronze");
    assert_eq!(value["premium"], false);
    for component in ["tenure", "activity", "spend", "quantity"] {
        assert!(value["components"][component].is_u64(), "{value}");
    }
    assert!(
        value["components"]["activity"].as_u64().unwrap() > 400,
        "{value}"
    );

    // A year of monthly orders, the latest last week: the batch path.
    let records: Vec<Value> = (0..12)
        .map(|m| {
            json!({"type": "order", "customer": {"email": "value-1@shop.example"}, "order": {
                "id": format!("V1-M{m}"), "placed_at": day(7 + 30 * m), "currency": "USD",
                "lines": [{"product_id": "CHAIR", "quantity": 4, "unit_price": "450.00"}]}})
        })
        .collect();
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({ "records": records })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let loyal = customer(&app, &id).await;
    let coefficient = loyal["value"]["coefficient"].as_u64().unwrap();
    assert!(
        matches!(loyal["tier"].as_str(), Some("diamond" | "platinum")),
        "{loyal}"
    );
    assert_eq!(loyal["value"]["premium"], true, "{loyal}");

    // Returned orders count against the customer.
    for n in 0..6 {
        order(
            &app,
            &id,
            json!({"id": format!("V1-R{n}"), "placed_at": day(1), "status": "refunded", "currency": "USD", "total": "900.00"}),
        )
        .await;
    }
    let after_returns = customer(&app, &id).await;
    assert_eq!(after_returns["activity"]["returns"], 6);
    assert!(
        after_returns["value"]["coefficient"].as_u64().unwrap() < coefficient,
        "{after_returns}"
    );

    let changes = history(&app, &id).await;
    // Newest first: into bronze first, then up.
    let last = changes.last().expect("the first change");
    assert_eq!(
        (&last["from"], &last["to"]),
        (&Value::Null, &json!("bronze"))
    );
    assert_eq!(last["cause"], "purchases");
    assert!(changes.len() >= 2, "{changes:?}");
    assert_ne!(changes[changes.len() - 2]["to"], "bronze");

    let tier = after_returns["tier"].as_str().unwrap().to_owned();
    let (status, counts, _) = send(&app, "GET", "/v1/tiers", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["tiers"][&tier], 1, "{counts}");
    assert_eq!(counts["customers_with_a_tier"], 1);
    let premium = u64::from(after_returns["value"]["premium"] == true);
    assert_eq!(counts["premium"], premium);

    let (status, listed, _) = send(
        &app,
        "GET",
        &format!("/v1/tiers/{tier}/customers?limit=10"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["customers"][0]["customer_id"], id.as_str());
    // Sales staff see only the customers assigned to them.
    let (status, body, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/assignment"),
        Some(json!({"salesperson": "s-1"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let path = format!("/v1/tiers/{tier}/customers?limit=10");
    let (status, mine) = get_as_sales(&app, "s-1", &path).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["customers"][0]["customer_id"], id.as_str(), "{mine}");
    let (status, theirs) = get_as_sales(&app, "s-2", &path).await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["customers"], json!([]), "{theirs}");

    let (status, empty, _) = send(&app, "GET", "/v1/tiers/copper/customers", None, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");
    assert_eq!(empty["errors"][0]["field"], "tier");

    let month = Utc::now().format("%Y-%m").to_string();
    let (status, moves, _) = send(
        &app,
        "GET",
        &format!("/v1/tiers/movements?from={month}&to={month}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moves}");
    let ups: u64 = moves["months"][0]["up"]
        .as_object()
        .expect("ups")
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(ups >= 2, "into bronze, then up: {moves}");
    let (status, bad, _) = send(
        &app,
        "GET",
        "/v1/tiers/movements?from=2026-13&to=2026-12",
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["errors"][0]["field"], "from");
}

/// The policy: the default at revision 0, a bad one refused naming each
/// field, a change applied only to the revision it names, and a customer's
/// next purchase assessed under the new one.
async fn the_policy_changes_under_its_revision(backend: &Backend) {
    let app = app(backend);
    let (status, stored, headers) = send(&app, "GET", "/v1/tiers/policy", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["revision"], 0);
    assert_eq!(headers["etag"], "\"0\"");

    let mut bad = stored["policy"].clone();
    bad["tiers"]["gold"] = bad["tiers"]["platinum"].clone();
    bad["premium_at"] = json!(0);
    let (status, problem, _) = send(
        &app,
        "PUT",
        "/v1/tiers/policy",
        Some(bad),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tiers.gold", "premium_at"]);
    let mut unknown = stored["policy"].clone();
    unknown["tiers"]["copper"] = json!(10);
    let (status, problem, _) = send(&app, "PUT", "/v1/tiers/policy", Some(unknown), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("copper"), "{problem}");
    let (status, _, _) = send(
        &app,
        "PUT",
        "/v1/tiers/policy",
        Some(json!("x")),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, again, _) = send(&app, "GET", "/v1/tiers/policy", None, &[]).await;
    assert_eq!(again["revision"], 0, "nothing half-written");

    // Everyone who buys is premium under this policy.
    let mut generous = stored["policy"].clone();
    generous["premium_at"] = json!(1);
    let (status, changed, headers) = send(
        &app,
        "PUT",
        "/v1/tiers/policy",
        Some(generous.clone()),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["revision"], 1);
    assert_eq!(headers["etag"], "\"1\"");
    let (status, stale, _) = send(
        &app,
        "PUT",
        "/v1/tiers/policy",
        Some(generous),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");

    let id = new_customer(&app, "value-2@shop.example").await;
    order(
        &app,
        &id,
        json!({"id": "V2-1", "placed_at": day(3), "currency": "USD", "total": "5.00"}),
    )
    .await;
    let profile = customer(&app, &id).await;
    assert_eq!(profile["value"]["premium"], true, "{profile}");
}

/// The daily refresh: two years without a purchase move a customer down
/// (recency decays); a second run as of the same day writes nothing; a
/// customer stored before the policy existed is assessed once.
async fn the_refresh_moves_customers_as_time_passes(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "value-3@shop.example").await;
    let records: Vec<Value> = (0..10)
        .map(|m| {
            json!({"type": "order", "customer": {"email": "value-3@shop.example"}, "order": {
                "id": format!("V3-{m}"), "placed_at": day(5 + 20 * m), "currency": "USD",
                "lines": [{"product_id": "DESK", "quantity": 3, "unit_price": "300.00"}]}})
        })
        .collect();
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({ "records": records })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = customer(&app, &id).await;
    let other = new_customer(&app, "value-4@shop.example").await;

    let refresh = ValueRefresh::new(backend.table.clone(), backend.privacy.clone());
    let today = refresh.run(settings(), Utc::now()).await.expect("refresh");
    assert_eq!(today.customers, 2, "{today:?}");
    assert_eq!((today.with_tier, today.moved), (1, 0), "{today:?}");
    // One customer with a tier is too few for shares: the default policy's
    // absolute bounds stay in force.
    assert_eq!(today.calibration, None, "{today:?}");

    let later = Utc::now() + Duration::days(730);
    let report = refresh.run(settings(), later).await.expect("refresh");
    assert_eq!(report.moved, 1, "{report:?}");
    let after = customer(&app, &id).await;
    let rank = |tier: &Value| {
        ["diamond", "platinum", "gold", "silver", "bronze"]
            .iter()
            .position(|t| tier == *t)
            .unwrap()
    };
    assert!(
        rank(&after["tier"]) > rank(&before["tier"]),
        "{before} → {after}"
    );
    assert_eq!(after["version"], before["version"].as_u64().unwrap() + 1);
    assert_eq!(
        after["identity"]["email"], "value-3@shop.example",
        "resealed whole"
    );
    let changes = history(&app, &id).await;
    assert_eq!(changes[0]["cause"], "refresh");
    assert_eq!(changes[0]["from"], before["tier"]);

    let again = refresh.run(settings(), later).await.expect("refresh");
    assert_eq!(again.moved, 0, "{again:?}");
    assert_eq!(customer(&app, &id).await["version"], after["version"]);
    assert_eq!(customer(&app, &other).await["tier"], Value::Null);

    // The counts: the refresh's own (as of its day), then a purchase since
    // moves the other customer into a tier at once.
    let tier_counts = || async {
        let (status, counts, _) = send(&app, "GET", "/v1/tiers", None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{counts}");
        counts
    };
    let counts = tier_counts().await;
    assert_eq!(counts["customers_with_a_tier"], 1, "{counts}");
    assert_eq!(
        counts["tiers"][after["tier"].as_str().unwrap()],
        1,
        "{counts}"
    );
    order(
        &app,
        &other,
        json!({"id": "V4-1", "placed_at": day(1), "currency": "USD", "total": "50.00"}),
    )
    .await;
    let tier = customer(&app, &other).await["tier"].clone();
    let counts = tier_counts().await;
    assert_eq!(counts["customers_with_a_tier"], 2, "{counts}");
    let in_tier = if tier == after["tier"] { 2 } else { 1 };
    assert_eq!(counts["tiers"][tier.as_str().unwrap()], in_tier, "{counts}");
}

/// Relative bounds: the refresh cuts the policy's shares on the shop's own
/// customers, the counts show the calibrated bounds, and a purchase made
/// after it is assessed with them — a one-off buyer whom the absolute
/// bounds put in gold is diamond among customers who all bought once.
async fn relative_bounds_follow_the_shops_own_customers(backend: &Backend) {
    let app = app(backend);
    let (_, stored, _) = send(&app, "GET", "/v1/tiers/policy", None, &[]).await;
    let mut policy = stored["policy"].clone();
    policy["relative"] = json!({"diamond": 100, "platinum": 150, "gold": 250, "silver": 250,
        "premium": 250, "min_customers": 10});
    let (status, body, _) = send(&app, "PUT", "/v1/tiers/policy", Some(policy.clone()), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bad = policy.clone();
    bad["relative"]["silver"] = json!(600);
    bad["relative"]["min_customers"] = json!(0);
    let (status, problem, _) = send(&app, "PUT", "/v1/tiers/policy", Some(bad), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["relative.silver", "relative.min_customers"]);

    // Twenty one-off buyers, each spending more than the one before.
    let records: Vec<Value> = (1..=20)
        .map(|i| {
            json!({"type": "order", "customer": {"email": format!("rel-{i}@shop.example")},
                "order": {"id": format!("R-{i}"), "placed_at": day(3), "currency": "USD",
                    "total": format!("{}.00", 5 * i * i)}})
        })
        .collect();
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({ "records": records })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, counts, _) = send(&app, "GET", "/v1/tiers", None, &[]).await;
    assert_eq!(counts["bounds"]["source"], "absolute", "{counts}");
    assert_eq!(counts["tiers"]["diamond"], 0, "{counts}");

    let refresh = ValueRefresh::new(backend.table.clone(), backend.privacy.clone());
    let report = refresh.run(settings(), Utc::now()).await.expect("refresh");
    let calibration = report.calibration.expect("calibrated");
    assert_eq!(calibration.customers, 20, "{report:?}");
    let (_, counts, _) = send(&app, "GET", "/v1/tiers", None, &[]).await;
    assert_eq!(counts["bounds"]["source"], "relative", "{counts}");
    assert_eq!(
        counts["bounds"]["diamond"], calibration.tiers.diamond,
        "{counts}"
    );
    assert_eq!(counts["bounds"]["calibrated_on_customers"], 20, "{counts}");
    assert_eq!(
        counts["tiers"],
        json!({"diamond": 2, "platinum": 3, "gold": 5, "silver": 5, "bronze": 5}),
        "{counts}"
    );
    assert_eq!(counts["premium"], 5, "{counts}");

    // A new customer spending as much as the top one: diamond now.
    let id = new_customer(&app, "rel-new@shop.example").await;
    order(
        &app,
        &id,
        json!({"id": "R-NEW", "placed_at": day(3), "currency": "USD", "total": "2000.00"}),
    )
    .await;
    let profile = customer(&app, &id).await;
    assert_eq!(profile["tier"], "diamond", "{profile}");
    assert!(
        profile["value"]["coefficient"].as_u64().unwrap()
            < stored["policy"]["tiers"]["diamond"].as_u64().unwrap(),
        "the absolute bounds would not make them diamond: {profile}"
    );

    // Back to absolute bounds: the calibration no longer applies.
    let (_, current, _) = send(&app, "GET", "/v1/tiers/policy", None, &[]).await;
    let mut absolute = current["policy"].clone();
    absolute.as_object_mut().unwrap().remove("relative");
    let (status, body, _) = send(&app, "PUT", "/v1/tiers/policy", Some(absolute), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = refresh.run(settings(), Utc::now()).await.expect("refresh");
    assert_eq!(report.calibration, None, "{report:?}");
    let (_, counts, _) = send(&app, "GET", "/v1/tiers", None, &[]).await;
    assert_eq!(counts["bounds"]["source"], "absolute", "{counts}");
    assert_eq!(counts["tiers"]["diamond"], 0, "{counts}");
}

on_every_adapter!(
    tiers_follow_purchases,
    the_policy_changes_under_its_revision,
    the_refresh_moves_customers_as_time_passes,
    relative_bounds_follow_the_shops_own_customers,
);
