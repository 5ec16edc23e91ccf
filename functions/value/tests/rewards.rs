//! Rewards end to end on every backend, through the ingest and rewards
//! routers as the local host merges them: purchases, reviews and referrals
//! earn once each (API, batch, an import chunk applied again); refunds
//! claw back; redemptions never overspend, even at once; coupons are issued
//! (one customer, a whole tier, a tier benefit) and redeemed once; points
//! and coupons expire with the daily job; referral rules; erasure.

mod common;

use common::{day, new_customer};

use std::sync::Arc;

use axum::Router;
use chrono::{Duration, Utc};
use http::StatusCode;
use serde_json::{Value, json};
use strata_domain::ReadOptions;
use strata_domain::customer::Tier;
use strata_domain::customer::{CustomerInput, Origin};
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::order::{OrderInput, OrderStatus};
use strata_domain::rewards::RewardsPolicy;
use strata_domain::value::{AssessmentCause, TierChange};
use strata_ingest::api::rights::Erasure;
use strata_ingest::api::{ApiState, router};
use strata_ingest::import::record::ImportRecord;
use strata_ingest::ingest::{Ingestor, OwnerCache, Pending, Summaries};
use strata_store::{CustomerEraser, ErasureLedger, TierChangeRecord, ValueRepository};
use strata_tests::backend::Backend;
use strata_tests::http::send;
use strata_tests::on_every_adapter;
use strata_value::api::RewardsApi;
use strata_value::{RefreshSettings, ValueRefresh};

fn options() -> ReadOptions {
    ReadOptions {
        currency: Currency::USD,
        ..ReadOptions::default()
    }
}

fn ingestor(backend: &Backend) -> Ingestor {
    Ingestor::new(backend.table.clone(), backend.privacy.clone(), options())
}

fn app(backend: &Backend) -> Router {
    let ledger = ErasureLedger::new(backend.blobs.clone());
    let erasure = Erasure {
        eraser: CustomerEraser::new(
            backend.table.clone(),
            backend.privacy.clone(),
            ledger.clone(),
        ),
        ledger,
    };
    let ingest =
        router(ApiState::new(backend.table.clone(), ingestor(backend)).with_erasure(erasure));
    let rewards = strata_value::api::router(Arc::new(RewardsApi::new(
        backend.table.clone(),
        Currency::USD,
    )));
    ingest.merge(rewards)
}

async fn order(app: &Router, id: &str, number: &str, days_ago: i64, total: &str) -> StatusCode {
    let (status, body, _) = send(
        app,
        "POST",
        &format!("/v1/customers/{id}/orders"),
        Some(json!({"id": number, "placed_at": day(days_ago), "currency": "USD", "total": total})),
        &[],
    )
    .await;
    assert!(status.is_success(), "{body}");
    status
}

async fn points(app: &Router, id: &str) -> Value {
    let (status, body, _) =
        send(app, "GET", &format!("/v1/customers/{id}/points"), None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn tier_of(app: &Router, id: &str) -> Option<String> {
    let (_, body, _) = send(app, "GET", &format!("/v1/customers/{id}"), None, &[]).await;
    body["customer"]["tier"].as_str().map(str::to_owned)
}

fn multiplier(tier: Option<&str>) -> i64 {
    let policy = RewardsPolicy::default();
    tier.and_then(|name| {
        policy
            .tiers
            .iter()
            .find(|(t, _)| t.name() == name)
            .map(|(_, b)| i64::from(b.multiplier_permille))
    })
    .unwrap_or(1000)
}

async fn post(app: &Router, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = send(app, "POST", path, Some(body), &[]).await;
    (status, body)
}

fn field_of(body: &Value) -> (&str, &str) {
    (
        body["errors"][0]["field"].as_str().unwrap_or(""),
        body["errors"][0]["code"].as_str().unwrap_or(""),
    )
}

/// An order earns its points once, at the customer's tier, whichever way it
/// comes again (the same request, `/v1/batch`); a review earns the review
/// points once.
async fn purchases_and_reviews_earn_once(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "earner@example.com").await;
    assert_eq!(
        order(&app, &id, "E-1", 10, "120.00").await,
        StatusCode::CREATED
    );
    let tier = tier_of(&app, &id).await;
    assert!(tier.is_some(), "a buyer has a tier");
    let expected = 120 * multiplier(tier.as_deref()) / 1000;
    let ledger = points(&app, &id).await;
    assert_eq!(ledger["balance"], expected, "{ledger}");
    assert_eq!(ledger["entries"][0]["kind"], "purchase");
    assert_eq!(ledger["entries"][0]["source"], "E-1");
    // The same order again, by the API and by a batch: no new points.
    order(&app, &id, "E-1", 10, "120.00").await;
    let (status, body) = post(
        &app,
        "/v1/batch",
        json!({"records": [{"type": "order", "customer": {"email": "earner@example.com"},
            "order": {"id": "E-1", "placed_at": day(10), "currency": "USD", "total": "120.00"}}]}),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/reviews"),
        json!({"id": "R-1", "product_id": "P-1", "rating": 5, "at": day(5), "text": "good"}),
    )
    .await;
    assert!(status.is_success(), "{body}");
    post(
        &app,
        &format!("/v1/customers/{id}/reviews"),
        json!({"id": "R-1", "product_id": "P-1", "rating": 5, "at": day(5), "text": "good"}),
    )
    .await;
    let ledger = points(&app, &id).await;
    assert_eq!(ledger["balance"], expected + 20, "{ledger}");
    assert_eq!(ledger["entries"].as_array().map(Vec::len), Some(2));
    // An order in another currency earns nothing: there is no rate for it.
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/orders"),
        json!({"id": "E-EUR", "placed_at": day(3), "currency": "EUR", "total": "80.00"}),
    )
    .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(
        points(&app, &id).await["entries"].as_array().map(Vec::len),
        Some(2)
    );
}

/// An import chunk applied again (after a crash) earns nothing twice.
async fn a_reimported_chunk_earns_once(backend: &Backend) {
    let ingestor = ingestor(backend);
    let origin = Origin {
        source: "import:test".into(),
        at: Utc::now(),
    };
    let rows: Vec<Pending> = (1..=4u64)
        .map(|row| Pending {
            row,
            record: ImportRecord::Order {
                customer: CustomerInput {
                    email: Some("imported@example.com".into()),
                    ..CustomerInput::default()
                },
                order: OrderInput {
                    id: format!("I-{row}"),
                    placed_at: day(20 - row as i64),
                    status: OrderStatus::Paid,
                    currency: None,
                    lines: Vec::new(),
                    total: Some(format!("{row}0.00")),
                    item_count: Some(1),
                    coupon: None,
                },
            },
            origin: origin.clone(),
        })
        .collect();
    let summaries = Summaries::Incremental {
        import: "rewards".into(),
    };
    let (outcomes, _) = ingestor
        .apply(rows.clone(), &mut OwnerCache::default(), &summaries)
        .await
        .expect("first");
    let customer = outcomes[0].customer().expect("customer");
    let first = ingestor
        .rewards()
        .ledger
        .balance(customer)
        .await
        .expect("balance");
    ingestor
        .apply(rows, &mut OwnerCache::default(), &summaries)
        .await
        .expect("again");
    let again = ingestor
        .rewards()
        .ledger
        .balance(customer)
        .await
        .expect("balance");
    assert_eq!(first, again, "nothing earned twice");
    assert!(
        first.balance >= 100,
        "10+20+30+40 dollars at ×1 or more: {first:?}"
    );
    assert_eq!(
        ingestor
            .rewards()
            .ledger
            .entries(customer)
            .await
            .expect("entries")
            .len(),
        4
    );
}

/// A refund takes back what its order earned, as far as the balance holds
/// it; the tier follows; a refund is final.
async fn refunds_claw_back_and_move_the_tier(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "refund@example.com").await;
    order(&app, &id, "F-1", 40, "50.00").await;
    order(&app, &id, "F-2", 20, "900.00").await;
    let before = points(&app, &id).await["balance"]
        .as_i64()
        .expect("balance");
    let tier_before = tier_of(&app, &id).await;
    let (_, before_refund, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, &[]).await;
    let coefficient_before = before_refund["customer"]["value"]["coefficient"]
        .as_u64()
        .expect("coefficient");
    let earned_f2 = 900 * multiplier(tier_before.as_deref()) / 1000;
    // Spend all but 100 points: the refund can take back only those.
    let spend = before - 100;
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/points/redemptions"),
        json!({"points": spend, "reference": "checkout-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/orders/F-2/status"),
        Some(json!({"status": "refunded"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["previous_status"], "paid");
    assert_eq!(body["points_clawed_back"], 100);
    assert_eq!(body["points_unrecovered"], earned_f2 - 100);
    assert_eq!(points(&app, &id).await["balance"], 0);
    let (_, profile, _) = send(&app, "GET", &format!("/v1/customers/{id}"), None, &[]).await;
    assert_eq!(profile["customer"]["activity"]["purchases"], 1, "{profile}");
    // The refund took 900.00 of spend away: a lower coefficient, and the
    // tier history has the move down if the tier changed.
    assert!(
        profile["customer"]["value"]["coefficient"].as_u64() < Some(coefficient_before),
        "{profile}"
    );
    let tier_after = tier_of(&app, &id).await;
    if tier_after != tier_before {
        let history = send(
            &app,
            "GET",
            &format!("/v1/customers/{id}/tier-history"),
            None,
            &[],
        )
        .await
        .1;
        assert_eq!(history["changes"][0]["to"], json!(tier_after), "{history}");
    }
    // Sent again: the same answer, nothing taken twice.
    let (status, body, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/orders/F-2/status"),
        Some(json!({"status": "refunded"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["points_clawed_back"], 100);
    let entries = points(&app, &id).await["entries"].clone();
    assert_eq!(
        entries
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["kind"] == "clawback")
            .count(),
        1
    );
    // Refunds are final; unknown orders and statuses are named.
    let (status, body, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/orders/F-2/status"),
        Some(json!({"status": "paid"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("status", "invalid_transition"));
    let (status, _, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/orders/NOPE/status"),
        Some(json!({"status": "refunded"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{id}/orders/F-1/status"),
        Some(json!({"status": "lost"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Ten redemptions of 30 points at once from a balance of 100: three win,
/// seven are refused naming `points`, and the balance is 10.
async fn concurrent_redemptions_never_overspend(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "spender@example.com").await;
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/points/adjustments"),
        json!({"points": 100, "reference": "welcome", "note": "welcome gift"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let attempts = (0..10).map(|n| {
        let app = app.clone();
        let id = id.clone();
        tokio::spawn(async move {
            post(
                &app,
                &format!("/v1/customers/{id}/points/redemptions"),
                json!({"points": 30, "reference": format!("race-{n}")}),
            )
            .await
        })
    });
    let results: Vec<(StatusCode, Value)> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let won = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(won, 3, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(field_of(body), ("points", "insufficient_points"));
    }
    let ledger = points(&app, &id).await;
    assert_eq!(ledger["balance"], 10);
    assert_eq!(ledger["debited"], 90);
    // A retried redemption is the same redemption.
    let winner = results
        .iter()
        .position(|(s, _)| *s == StatusCode::CREATED)
        .expect("a winner");
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/points/redemptions"),
        json!({"points": 30, "reference": format!("race-{winner}")}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recorded"], false);
    assert_eq!(body["balance"], 10);
    // Bad amounts are named.
    for bad in [json!(1.5), json!(-5), json!("ten"), json!(0)] {
        let (status, body) = post(
            &app,
            &format!("/v1/customers/{id}/points/redemptions"),
            json!({"points": bad, "reference": "bad"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(field_of(&body).0, "points");
    }
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/points/redemptions"),
        json!({"points": 11, "reference": "too-much"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        points(&app, &id).await["balance"],
        10,
        "nothing half-written"
    );
}

/// Points earned long ago expire: the ledger shows them as due at once,
/// and the daily job posts the expiry.
async fn old_points_expire_with_the_job(backend: &Backend) {
    let app = app(backend);
    let id = new_customer(&app, "old@example.com").await;
    order(&app, &id, "O-1", 800, "200.00").await;
    order(&app, &id, "O-2", 10, "30.00").await;
    let ledger = points(&app, &id).await;
    let due = ledger["expired_not_yet_posted"].as_i64().expect("due");
    assert!(due >= 200, "{ledger}");
    let report = ValueRefresh::new(backend.table.clone(), backend.privacy.clone())
        .run(
            RefreshSettings {
                currency: Currency::USD,
                segments: 2,
                page: 100,
            },
            Utc::now(),
        )
        .await
        .expect("job");
    assert_eq!(report.points_expired, due, "{report:?}");
    let after = points(&app, &id).await;
    assert_eq!(after["expired_not_yet_posted"], 0);
    assert_eq!(after["balance"], ledger["balance"]);
    let entries = after["entries"].as_array().expect("entries");
    let lot = entries
        .iter()
        .find(|e| e["source"] == "O-1")
        .expect("O-1's lot");
    let expiry = entries
        .iter()
        .find(|e| e["kind"] == "expiry")
        .expect("an expiry");
    // Dated when the lot expired, and taking all that was left of it.
    assert_eq!(
        (&expiry["source"], &expiry["at"]),
        (&lot["id"], &lot["expires_at"])
    );
    assert_eq!(expiry["points"], -due);
    // Run again: nothing more.
    let again = ValueRefresh::new(backend.table.clone(), backend.privacy.clone())
        .run(
            RefreshSettings {
                currency: Currency::USD,
                segments: 2,
                page: 100,
            },
            Utc::now(),
        )
        .await
        .expect("job");
    assert_eq!(again.points_expired, 0);
}

async fn put_template(app: &Router, id: &str, template: Value) -> (StatusCode, Value) {
    let (status, body, _) = send(
        app,
        "PUT",
        &format!("/v1/coupons/templates/{id}"),
        Some(template),
        &[],
    )
    .await;
    (status, body)
}

/// Templates, one coupon issued, redeemed once even at once, bulk issue to
/// a tier (resumable, idempotent), expiry by the job.
async fn coupons_are_issued_and_redeemed_once(backend: &Backend) {
    let app = app(backend);
    let (status, body) = put_template(
        &app,
        "ten-off",
        json!({"name": "Ten off", "discount": {"kind": "amount", "minor": 1000},
            "min_spend_minor": 5000, "valid_days": 30}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = put_template(
        &app,
        "bad",
        json!({"name": "", "discount": {"kind": "percent", "percent": 150}, "valid_days": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "discount.percent", "valid_days"]);

    let id = new_customer(&app, "couponer@example.com").await;
    order(&app, &id, "C-1", 5, "60.00").await;
    let (status, coupon) = post(
        &app,
        &format!("/v1/customers/{id}/coupons"),
        json!({"template": "ten-off"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{coupon}");
    let code = coupon["code"].as_str().expect("code").to_owned();
    let redeem = |reference: &'static str, total: &'static str| {
        let app = app.clone();
        let path = format!("/v1/customers/{id}/coupons/{code}/redemptions");
        tokio::spawn(async move {
            post(
                &app,
                &path,
                json!({"reference": reference, "order_total": total}),
            )
            .await
        })
    };
    let (status, body) = redeem("cart-0", "49.99").await.expect("task");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("order_total", "below_minimum_spend"));
    let (a, b) = tokio::join!(redeem("cart-1", "80.00"), redeem("cart-2", "80.00"));
    let (a, b) = (a.expect("task"), b.expect("task"));
    let wins = [&a, &b]
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    let loser = if a.0 == StatusCode::CREATED { &b } else { &a };
    assert_eq!(field_of(&loser.1), ("code", "coupon_redeemed"));
    let winner = if a.0 == StatusCode::CREATED {
        "cart-1"
    } else {
        "cart-2"
    };
    let (status, body) = redeem(winner, "80.00").await.expect("task");
    assert_eq!(status, StatusCode::OK, "the same redemption again: {body}");
    assert_eq!(body["discount_minor"], 1000);

    // Bulk: every customer of the buyer's tier gets one, once.
    let tier = tier_of(&app, &id).await.expect("tier");
    let other = new_customer(&app, "couponer2@example.com").await;
    order(&app, &other, "C-2", 5, "60.00").await;
    assert_eq!(tier_of(&app, &other).await.as_deref(), Some(tier.as_str()));
    let (status, body) = post(
        &app,
        "/v1/coupons/issues",
        json!({"id": "spring", "template": "ten-off", "tier": tier}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["done"].clone(), body["issued"].clone()),
        (json!(true), json!(2))
    );
    let (status, again) = post(
        &app,
        "/v1/coupons/issues",
        json!({"id": "spring", "template": "ten-off", "tier": tier}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["issued"], 2, "issued nobody twice");
    let (status, followed, _) = send(&app, "GET", "/v1/coupons/issues/spring", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{followed}");
    assert_eq!(
        (&followed["done"], &followed["issued"]),
        (&json!(true), &json!(2))
    );
    let (status, templates, _) = send(&app, "GET", "/v1/coupons/templates", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{templates}");
    assert_eq!(templates["templates"][0]["id"], "ten-off", "{templates}");
    let (status, template, headers) =
        send(&app, "GET", "/v1/coupons/templates/ten-off", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{template}");
    assert_eq!(headers["etag"], "\"1\"");
    let coupons = send(
        &app,
        "GET",
        &format!("/v1/customers/{other}/coupons"),
        None,
        &[],
    )
    .await
    .1;
    assert_eq!(
        coupons["coupons"].as_array().map(Vec::len),
        Some(1),
        "{coupons}"
    );
    let (status, body) = post(
        &app,
        "/v1/coupons/issues",
        json!({"id": "x", "template": "ten-off", "tier": "mithril"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body).0, "tier");
    let (status, body) = post(
        &app,
        "/v1/coupons/issues",
        json!({"id": "y", "template": "nope", "tier": tier}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body).0, "template");
    // A template for other tiers is refused up front, not issued to nobody.
    put_template(
        &app,
        "diamonds",
        json!({"name": "Diamonds only", "discount": {"kind": "percent", "percent": 20},
            "valid_days": 30, "tiers": ["diamond"]}),
    )
    .await;
    let other_tier = if tier == "diamond" {
        "bronze"
    } else {
        tier.as_str()
    };
    let (status, body) = post(
        &app,
        "/v1/coupons/issues",
        json!({"id": "z", "template": "diamonds", "tier": other_tier}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("tier", "not_eligible"));

    // Thirty days on, the job expires the other's coupon; redeeming it is refused.
    let report = ValueRefresh::new(backend.table.clone(), backend.privacy.clone())
        .run(
            RefreshSettings {
                currency: Currency::USD,
                segments: 2,
                page: 100,
            },
            Utc::now() + Duration::days(31),
        )
        .await
        .expect("job");
    assert_eq!(
        report.coupons_expired, 2,
        "the two bulk coupons: {report:?}"
    );
    let other_code = coupons["coupons"][0]["code"].as_str().expect("code");
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{other}/coupons/{other_code}/redemptions"),
        json!({"reference": "late"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("code", "coupon_expired"));
}

/// An order carries the coupon it redeemed (API and import): redeemed for
/// that order, once; an order with a coupon it cannot redeem is rejected
/// naming `order.coupon`, and nothing of it is stored.
async fn orders_carry_the_coupons_they_redeem(backend: &Backend) {
    let app = app(backend);
    put_template(
        &app,
        "five-off",
        json!({"name": "Five off", "discount": {"kind": "amount", "minor": 500}, "valid_days": 30}),
    )
    .await;
    let id = new_customer(&app, "checkout@example.com").await;
    let issue = || {
        let app = app.clone();
        let path = format!("/v1/customers/{id}/coupons");
        async move {
            let (status, coupon) = post(&app, &path, json!({"template": "five-off"})).await;
            assert_eq!(status, StatusCode::CREATED, "{coupon}");
            coupon["code"].as_str().expect("code").to_owned()
        }
    };
    let code = issue().await;
    let with_coupon = |number: &str, code: &str| json!({"id": number, "placed_at": day(1), "currency": "USD", "total": "30.00", "coupon": code});
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/orders"),
        with_coupon("K-1", &code),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The same order again is the same redemption; another order is refused.
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/orders"),
        with_coupon("K-1", &code),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/orders"),
        with_coupon("K-2", &code),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("order.coupon", "coupon_redeemed"));
    let (status, body) = post(
        &app,
        &format!("/v1/customers/{id}/orders"),
        with_coupon("K-3", "NOSUCHCODE"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), ("order.coupon", "unknown_coupon"));
    let (_, history, _) = send(
        &app,
        "GET",
        &format!("/v1/customers/{id}/history"),
        None,
        &[],
    )
    .await;
    let numbers: Vec<&str> = history["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(numbers, ["K-1"], "refused orders are not stored: {history}");
    assert_eq!(history["orders"][0]["coupon"], json!(code));
    let coupons = send(
        &app,
        "GET",
        &format!("/v1/customers/{id}/coupons"),
        None,
        &[],
    )
    .await
    .1;
    assert_eq!(coupons["coupons"][0]["state"], "redeemed", "{coupons}");
    assert_eq!(coupons["coupons"][0]["redeemed_for"], "K-1");

    // An import row's coupon column, applied twice as after a crash.
    let code = issue().await;
    let ingestor = ingestor(backend);
    let rows = vec![Pending {
        row: 1,
        record: ImportRecord::Order {
            customer: CustomerInput {
                email: Some("checkout@example.com".into()),
                ..CustomerInput::default()
            },
            order: OrderInput {
                id: "K-IMP".into(),
                placed_at: day(2),
                status: OrderStatus::Paid,
                currency: None,
                lines: Vec::new(),
                total: Some("40.00".into()),
                item_count: Some(1),
                coupon: Some(code.to_lowercase()),
            },
        },
        origin: Origin {
            source: "import:test".into(),
            at: Utc::now(),
        },
    }];
    let summaries = Summaries::Incremental {
        import: "coupons".into(),
    };
    for _ in 0..2 {
        let (outcomes, _) = ingestor
            .apply(rows.clone(), &mut OwnerCache::default(), &summaries)
            .await
            .expect("import");
        assert!(outcomes[0].customer().is_some(), "{outcomes:?}");
    }
    let customer = CustomerId::parse("id", &id).expect("id");
    let coupon = ingestor
        .rewards()
        .coupons
        .get(customer, &code)
        .await
        .expect("read")
        .expect("coupon");
    assert_eq!(coupon.redeemed_for.as_deref(), Some("K-IMP"));
}

/// Reaching a tier grants its coupons once per period; the policy must name
/// templates that exist.
async fn a_tier_reached_grants_its_coupons_once(backend: &Backend) {
    let app = app(backend);
    put_template(
        &app,
        "welcome",
        json!({"name": "Welcome", "discount": {"kind": "percent", "percent": 10}, "valid_days": 60}),
    )
    .await;
    let mut policy = serde_json::to_value(RewardsPolicy::default()).expect("policy");
    for tier in ["diamond", "platinum", "gold", "silver", "bronze"] {
        policy["tiers"][tier]["coupons"] = json!(["welcome"]);
    }
    let (status, stored, headers) = send(&app, "GET", "/v1/rewards/policy", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["revision"], 0, "{stored}");
    assert_eq!(headers["etag"], "\"0\"");
    let (status, body, _) =
        send(&app, "PUT", "/v1/rewards/policy", Some(policy.clone()), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bad = policy.clone();
    bad["tiers"]["gold"]["coupons"] = json!(["missing"]);
    bad["expiry_months"] = json!(0);
    let (status, body, _) = send(&app, "PUT", "/v1/rewards/policy", Some(bad), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body).0, "expiry_months");

    let id = new_customer(&app, "member@example.com").await;
    order(&app, &id, "M-1", 3, "40.00").await;
    let tier = tier_of(&app, &id).await.expect("tier");
    let coupons = send(
        &app,
        "GET",
        &format!("/v1/customers/{id}/coupons"),
        None,
        &[],
    )
    .await
    .1;
    let granted = coupons["coupons"].as_array().expect("coupons");
    assert_eq!(granted.len(), 1, "{coupons}");
    assert_eq!(granted[0]["template"], "welcome");
    assert!(
        granted[0]["grant"]
            .as_str()
            .is_some_and(|g| g.starts_with(&format!("tier:{tier}:"))),
        "{coupons}"
    );
    // The same move again in the same period grants nothing new.
    let rewards = ingestor(backend).rewards().clone();
    let customer = CustomerId::parse("id", &id).expect("id");
    let history = ValueRepository::new(backend.table.clone())
        .history(customer)
        .await
        .expect("history");
    let stored = rewards.policies.policy().await.expect("policy").policy;
    let again = rewards
        .grant_tier_benefits(
            &stored,
            &[TierChangeRecord {
                customer_id: customer,
                change: history[0].clone(),
            }],
        )
        .await
        .expect("grant");
    assert_eq!(again, 0);

    // A move up whose grant a crash lost (the record went with the
    // profile's save, the grant never came): the daily job makes it, once.
    let lost = new_customer(&app, "member-2@example.com").await;
    let lost_id = CustomerId::parse("id", &lost).expect("id");
    let record = TierChangeRecord {
        customer_id: lost_id,
        change: TierChange {
            from: None,
            to: Some(Tier::Gold),
            premium_before: false,
            premium_after: false,
            coefficient: Some(450),
            at: Utc::now(),
            cause: AssessmentCause::Purchases,
        },
    };
    backend
        .table
        .transact_write(vec![ValueRepository::record_op(&record).expect("op")])
        .await
        .expect("record");
    let refresh = ValueRefresh::new(backend.table.clone(), backend.privacy.clone());
    let settings = RefreshSettings {
        currency: Currency::USD,
        segments: 2,
        page: 100,
    };
    let report = refresh.run(settings, Utc::now()).await.expect("job");
    assert_eq!(report.missed_grants, 1, "{report:?}");
    let coupons = send(
        &app,
        "GET",
        &format!("/v1/customers/{lost}/coupons"),
        None,
        &[],
    )
    .await
    .1;
    assert_eq!(
        coupons["coupons"][0]["grant"]
            .as_str()
            .map(|g| g.starts_with("tier:gold:")),
        Some(true),
        "{coupons}"
    );
    let report = refresh.run(settings, Utc::now()).await.expect("job");
    assert_eq!(report.missed_grants, 0, "{report:?}");
}

/// Codes, links and what they may not be; the referrer earns on the first
/// purchase only; an erased customer's code is refused as such.
async fn referrals_follow_their_rules(backend: &Backend) {
    let app = app(backend);
    let a = new_customer(&app, "ref-a@example.com").await;
    let b = new_customer(&app, "ref-b@example.com").await;
    let c = new_customer(&app, "ref-c@example.com").await;
    let code_of = |id: String| {
        let app = app.clone();
        async move {
            let (status, body, _) = send(
                &app,
                "GET",
                &format!("/v1/customers/{id}/referral"),
                None,
                &[],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["code"].as_str().expect("code").to_owned()
        }
    };
    let (code_a, code_b, code_c) = (
        code_of(a.clone()).await,
        code_of(b.clone()).await,
        code_of(c.clone()).await,
    );
    assert_eq!(
        code_a,
        code_of(a.clone()).await,
        "a customer keeps their code"
    );
    let link = |id: &str, code: &str| {
        let app = app.clone();
        let path = format!("/v1/customers/{id}/referral");
        let body = json!({ "code": code });
        async move {
            let (status, body, _) = send(&app, "PUT", &path, Some(body), &[]).await;
            (status, body)
        }
    };
    assert_eq!(link(&b, &code_a).await.0, StatusCode::CREATED);
    assert_eq!(
        link(&b, &code_a).await.0,
        StatusCode::OK,
        "the same link again"
    );
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        body["errors"][0]["code"].as_str().unwrap_or("").to_owned()
    };
    assert_eq!(refused(link(&b, &code_c).await), "already_referred");
    assert_eq!(refused(link(&a, &code_b).await), "referral_loop");
    assert_eq!(refused(link(&a, &code_a).await), "self_referral");
    assert_eq!(refused(link(&c, "ZZZZZZZZZZ").await), "unknown_code");
    // b's first purchase earns a the referral points, once.
    order(&app, &b, "RB-1", 2, "20.00").await;
    order(&app, &b, "RB-2", 1, "20.00").await;
    let ledger = points(&app, &a).await;
    assert_eq!(ledger["balance"], 200, "{ledger}");
    assert_eq!(ledger["entries"][0]["kind"], "referral");
    let (_, body, _) = send(
        &app,
        "GET",
        &format!("/v1/customers/{a}/referral"),
        None,
        &[],
    )
    .await;
    assert_eq!(body["referral_credits"], 1);
    // A buyer cannot be referred after the fact.
    order(&app, &c, "RC-1", 2, "20.00").await;
    let d = new_customer(&app, "ref-d@example.com").await;
    assert_eq!(
        refused(link(&c, &code_d_of(&app, &d).await).await),
        "not_a_new_customer"
    );
    // Erase a: their ledger goes with them; their code is refused as erased.
    let (status, body, _) = send(&app, "DELETE", &format!("/v1/customers/{a}"), None, &[]).await;
    assert!(status.is_success(), "{body}");
    let (status, _, _) = send(&app, "GET", &format!("/v1/customers/{a}/points"), None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(refused(link(&d, &code_a).await), "referrer_erased");
}

async fn code_d_of(app: &Router, id: &str) -> String {
    let (_, body, _) = send(
        app,
        "GET",
        &format!("/v1/customers/{id}/referral"),
        None,
        &[],
    )
    .await;
    body["code"].as_str().expect("code").to_owned()
}

on_every_adapter!(
    purchases_and_reviews_earn_once,
    a_reimported_chunk_earns_once,
    refunds_claw_back_and_move_the_tier,
    concurrent_redemptions_never_overspend,
    old_points_expire_with_the_job,
    coupons_are_issued_and_redeemed_once,
    orders_carry_the_coupons_they_redeem,
    a_tier_reached_grants_its_coupons_once,
    referrals_follow_their_rules,
);
