//! Segments end to end on every backend: customers written through the
//! ingest API, churn scores stored, the nightly run puts each in the first
//! segment whose rule matches (none without profiling consent), writes only
//! those who move and records the change; the list is changed under its
//! revision, a draft previewed first, a bad rule refused by its path; the
//! sales team's directory.

use std::sync::Arc;

use axum::Router;
use chrono::{Duration, Utc};
use http::StatusCode;
use serde_json::{Value, json};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_domain::churn::{ChurnScore, RiskBand};
use strata_domain::ids::CustomerId;
use strata_domain::ids::SalespersonId;
use strata_domain::money::Currency;
use strata_engage::api::{EngageApi, router as engage_router};
use strata_engage::{SegmentSettings, Segmenter};
use strata_ingest::api::{ApiState, router as ingest_router};
use strata_ingest::ingest::Ingestor;
use strata_store::{ChurnRepository, CustomerRepository, SegmentRepository};
use strata_tests::backend::Backend;
use strata_tests::http::{send, send_as};
use strata_tests::on_every_adapter;

fn settings() -> SegmentSettings {
    SegmentSettings {
        currency: Currency::USD,
        scan_segments: 2,
        page: 50,
        ..SegmentSettings::default()
    }
}

fn app(backend: &Backend) -> Router {
    let ingestor = Ingestor::new(
        backend.table.clone(),
        backend.privacy.clone(),
        ReadOptions {
            currency: Currency::USD,
            ..ReadOptions::default()
        },
    );
    ingest_router(ApiState::new(backend.table.clone(), ingestor)).merge(engage_router(Arc::new(
        EngageApi::new(backend.table.clone(), settings()),
    )))
}

fn day(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago))
        .date_naive()
        .to_string()
}

/// A customer with orders `days_ago` (each for `total`), returning the id.
async fn buyer(app: &Router, email: &str, orders: &[(i64, &str)]) -> String {
    let (status, body, _) = send(
        app,
        "POST",
        "/v1/customers",
        Some(json!({"email": email})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["customer"]["id"].as_str().unwrap().to_owned();
    for (n, (days_ago, total)) in orders.iter().enumerate() {
        let (status, body, _) = send(
            app,
            "POST",
            &format!("/v1/customers/{id}/orders"),
            Some(json!({"id": format!("{email}-{n}"), "placed_at": day(*days_ago), "currency": "USD", "total": total})),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    id
}

async fn segment_of(app: &Router, id: &str) -> Value {
    let (status, body, _) = send(app, "GET", &format!("/v1/customers/{id}"), None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["customer"]["segment"].clone()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn segments_follow_the_rules(backend: &Backend) {
    let app = app(backend);
    let loyal = buyer(&app, "loyal@shop.example", &[(100, "40.00"), (20, "60.00")]).await;
    let new = buyer(&app, "new@shop.example", &[(10, "25.00")]).await;
    let lapsed = buyer(&app, "lapsed@shop.example", &[(400, "90.00")]).await;
    let risky = buyer(&app, "risky@shop.example", &[(200, "30.00"), (60, "30.00")]).await;
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(
            json!({"email": "private@shop.example", "consents": [{"purpose": "profiling",
            "granted": false, "at": "2026-01-01T00:00:00Z", "version": "v1", "source": "form"}]}),
        ),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let private = body["customer"]["id"].as_str().unwrap().to_owned();
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"email": "browser@shop.example"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let browser = body["customer"]["id"].as_str().unwrap().to_owned();
    ChurnRepository::new(backend.table.clone())
        .put_score(&ChurnScore {
            customer_id: CustomerId::parse("id", &risky).unwrap(),
            probability: 0.83,
            band: RiskBand::High,
            reasons: Vec::new(),
            model_version: "test".into(),
            as_of: Utc::now(),
            contactable: true,
        })
        .await
        .expect("score");

    // Before any run: the default list, no sizes yet, nobody in a segment.
    let (status, overview, _) = send(&app, "GET", "/v1/segments", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["revision"], 0);
    assert_eq!(overview["segments"][0]["id"], "at_risk");
    assert_eq!(overview["segments"][0]["size"], Value::Null);
    assert_eq!(segment_of(&app, &loyal).await, Value::Null);

    let segmenter = Segmenter::new(backend.table.clone());
    let report = segmenter.run(settings(), Utc::now()).await.expect("run");
    assert_eq!(report.customers, 6, "{report:?}");
    assert_eq!(
        report.moved, 5,
        "all but the one without profiling consent: {report:?}"
    );
    for (id, segment) in [
        (&loyal, json!("loyal")),
        (&new, json!("new")),
        (&lapsed, json!("lapsed")),
        (&risky, json!("at_risk")),
        (&browser, json!("other")),
        (&private, Value::Null),
    ] {
        assert_eq!(segment_of(&app, id).await, segment, "{id}");
    }
    let (_, overview, _) = send(&app, "GET", "/v1/segments", None, &[]).await;
    let size = |overview: &Value, id: &str| {
        overview["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["size"].clone())
            .unwrap()
    };
    assert_eq!(size(&overview, "loyal"), 1, "{overview}");
    assert_eq!(size(&overview, "champions"), 0, "{overview}");
    assert_eq!(overview["unsegmented"], 1, "{overview}");
    let (status, members, _) = send(&app, "GET", "/v1/segments/loyal/customers", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(
        members["customers"][0]["customer_id"],
        json!(loyal),
        "{members}"
    );
    let (status, _, _) = send(&app, "GET", "/v1/segments/vip/customers", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let history = SegmentRepository::new(backend.table.clone())
        .history(CustomerId::parse("id", &loyal).unwrap())
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0].from.clone(),
            history[0].to.as_ref().map(|s| s.as_str())
        ),
        (None, Some("loyal"))
    );

    // Nothing changed: nobody is written.
    let again = segmenter.run(settings(), Utc::now()).await.expect("run");
    assert_eq!(again.moved, 0, "{again:?}");

    // A new list: big spenders first. A bad draft is refused by path; the
    // draft's sizes are previewed before it is saved.
    let (status, stored, headers) = send(&app, "GET", "/v1/segments/definition", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(headers["etag"], "\"0\"");
    let mut draft = stored["definition"].clone();
    draft["segments"].as_array_mut().unwrap().insert(
        0,
        json!({"id": "big_spenders", "name": "Big spenders",
            "rule": {"all": [{"attr": "spend", "op": "gte", "value": 90}]}}),
    );
    let mut bad = draft.clone();
    bad["segments"][0]["rule"]["all"][0]["attr"] = json!("wealth");
    let (status, problem, _) = send(
        &app,
        "PUT",
        "/v1/segments/definition",
        Some(bad.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["segments[0].rule.all[0].attr"]);
    let (status, problem, _) = send(&app, "POST", "/v1/segments/preview", Some(bad), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, preview, _) = send(
        &app,
        "POST",
        "/v1/segments/preview",
        Some(draft.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["complete"], true);
    assert_eq!(preview["customers_read"], 6);
    assert_eq!(
        preview["sizes"]["big_spenders"], 2,
        "loyal (100) and lapsed (90): {preview}"
    );
    assert_eq!(
        segment_of(&app, &loyal).await,
        "loyal",
        "a preview saves nothing"
    );
    let (status, saved, headers) = send(
        &app,
        "PUT",
        "/v1/segments/definition",
        Some(draft.clone()),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(headers["etag"], "\"1\"");
    let (status, _, _) = send(
        &app,
        "PUT",
        "/v1/segments/definition",
        Some(draft),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let moved = segmenter.run(settings(), Utc::now()).await.expect("run");
    assert_eq!(moved.moved, 2, "{moved:?}");
    assert_eq!(segment_of(&app, &loyal).await, "big_spenders");
    assert_eq!(segment_of(&app, &lapsed).await, "big_spenders");

    // Moves go several to a transaction; one whose profile changed since it
    // was read is refused alone, the others still move.
    let profiles = CustomerRepository::pseudonymous(backend.table.clone());
    let read = |id: &str| {
        let profiles = profiles.clone();
        let id = CustomerId::parse("id", id).unwrap();
        async move { profiles.get(id).await.unwrap().unwrap() }
    };
    let fresh = read(&new).await;
    let mut stale = read(&risky).await;
    stale.version -= 1;
    let moved = profiles
        .set_segments(
            &[(&fresh, Some("other")), (&stale, Some("other"))],
            Vec::new(),
            Utc::now(),
        )
        .await
        .expect("moves");
    assert_eq!(moved, [true, false]);
    assert_eq!(segment_of(&app, &new).await, "other");
    assert_eq!(segment_of(&app, &risky).await, "at_risk");
}

async fn the_sales_team_directory(backend: &Backend) {
    let app = app(backend);
    let (status, problem, _) = send(
        &app,
        "PUT",
        "/v1/salespeople/li-wei",
        Some(
            json!({"name": "Li Wei", "email": "li@shop.example", "team": "north", "capacity": 50}),
        ),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["team"]);
    let (status, problem, _) = send(
        &app,
        "PUT",
        "/v1/teams/north",
        Some(json!({"name": "North", "lead": "li-wei"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["lead"]);
    let (status, team, _) = send(
        &app,
        "PUT",
        "/v1/teams/north",
        Some(json!({"name": "North"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let person = json!({"name": "Li Wei", "email": "Li@Shop.example", "team": "north",
        "skills": ["win-back"], "languages": ["zh-CN"], "capacity": 50});
    let (status, created, _) = send(
        &app,
        "PUT",
        "/v1/salespeople/li-wei",
        Some(person.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["email"], "li@shop.example");
    assert_eq!(created["status"], "active");
    let (status, _, _) = send(&app, "PUT", "/v1/salespeople/li-wei", Some(person), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, bad, _) = send(
        &app,
        "PUT",
        "/v1/salespeople/x",
        Some(json!({"name": "X", "capacity": 0, "rank": 1})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, team, _) = send(
        &app,
        "PUT",
        "/v1/teams/north",
        Some(json!({"name": "North", "lead": "li-wei"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    let (status, north, _) = send(&app, "GET", "/v1/teams/north", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{north}");
    assert_eq!(north["team"]["lead"], "li-wei");
    assert_eq!(north["members"][0]["id"], "li-wei");
    let (_, people, _) = send(&app, "GET", "/v1/salespeople", None, &[]).await;
    assert_eq!(
        people["salespeople"].as_array().unwrap().len(),
        1,
        "{people}"
    );
    let (status, _, _) = send(&app, "GET", "/v1/salespeople/nobody", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A strategy per segment: checked field by field, its team and offer must
/// exist, changed under its revision; the list shows every segment.
async fn strategies_per_segment(backend: &Backend) {
    let app = app(backend);
    let strategy = json!({"channels": ["phone", "wechat"], "offer": "win-back",
        "cadence": {"first_contact_days": 2, "every_days": 14, "task": "call"},
        "assign": true, "team": "north", "skills": ["Win-back"], "priority": 1});
    let (status, problem, _) = send(
        &app,
        "PUT",
        "/v1/strategies/at_risk",
        Some(strategy.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["team", "offer"]);
    let (status, _, _) = send(
        &app,
        "PUT",
        "/v1/teams/north",
        Some(json!({"name": "North"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut no_offer = strategy.clone();
    no_offer["offer"] = Value::Null;
    let mut bad = no_offer.clone();
    bad["priority"] = json!(7);
    bad["cadence"]["every_days"] = json!(0);
    let (status, problem, _) = send(&app, "PUT", "/v1/strategies/at_risk", Some(bad), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["cadence.every_days", "priority"]);
    let (status, _, _) = send(
        &app,
        "PUT",
        "/v1/strategies/vip",
        Some(no_offer.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a segment not in the list");
    let (status, stored, headers) = send(
        &app,
        "PUT",
        "/v1/strategies/at_risk",
        Some(no_offer.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(stored["strategy"]["skills"], json!(["win-back"]));
    let mut slower = no_offer.clone();
    slower["cadence"]["every_days"] = json!(30);
    let (status, _, _) = send(
        &app,
        "PUT",
        "/v1/strategies/at_risk",
        Some(slower.clone()),
        &[("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, changed, _) = send(
        &app,
        "PUT",
        "/v1/strategies/at_risk",
        Some(slower),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["revision"], 2);
    let (status, one, _) = send(&app, "GET", "/v1/strategies/at_risk", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["strategy"]["cadence"]["every_days"], 30);
    let (status, _, _) = send(&app, "GET", "/v1/strategies/loyal", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, all, _) = send(&app, "GET", "/v1/strategies", None, &[]).await;
    let listed = all["strategies"].as_array().unwrap();
    assert_eq!(listed.len(), 7, "every segment of the default list: {all}");
    assert_eq!(listed[0]["segment"], "at_risk");
    assert_eq!(listed[0]["strategy"]["revision"], 2);
    assert_eq!(listed[1]["strategy"], Value::Null);
}

/// Finding customers by an exact identifier through the blind index; sales
/// staff find only their own.
async fn finding_customers_by_identifier(backend: &Backend) {
    let app = app(backend);
    let (status, body, _) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(
            json!({"email": "find.me@shop.example", "phone": "138 0013 8000",
            "source": {"source": "shop", "external_id": "u-77"}}),
        ),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["customer"]["id"].clone();
    for query in [
        "email=Find.Me@Shop.example",
        "phone=%2B86%20138%200013%208000",
        "source=Shop&external_id=u-77",
    ] {
        let (status, found, _) =
            send(&app, "GET", &format!("/v1/customers?{query}"), None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{query}: {found}");
        assert_eq!(
            found["customers"][0]["customer"]["id"], id,
            "{query}: {found}"
        );
    }
    let (status, none, _) = send(
        &app,
        "GET",
        "/v1/customers?email=nobody@shop.example",
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["customers"], json!([]));
    for (query, field) in [
        ("", "email"),
        ("email=a@b.example&phone=1", "email"),
        ("email=not-an-email", "email"),
        ("source=shop", "external_id"),
    ] {
        let (status, problem, _) =
            send(&app, "GET", &format!("/v1/customers?{query}"), None, &[]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(fields(&problem), [field], "{query}");
    }
    // A salesperson finds the customer once assigned to them, not before.
    let principal = Principal::new(
        "sales-9",
        Role::Sales,
        None,
        Some(SalespersonId::parse("salesperson", "rep-9").unwrap()),
    )
    .unwrap();
    let query = "/v1/customers?email=find.me@shop.example";
    let (_, theirs, _) = send_as(&app, Some(principal.clone()), "GET", query, None, &[]).await;
    assert_eq!(theirs["customers"], json!([]), "{theirs}");
    let (status, _, _) = send(
        &app,
        "PUT",
        &format!("/v1/customers/{}/assignment", id.as_str().unwrap()),
        Some(json!({"salesperson": "rep-9"})),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, own, _) = send_as(&app, Some(principal), "GET", query, None, &[]).await;
    assert_eq!(own["customers"][0]["customer"]["id"], id, "{own}");
}

on_every_adapter!(
    segments_follow_the_rules,
    the_sales_team_directory,
    strategies_per_segment,
    finding_customers_by_identifier,
);
