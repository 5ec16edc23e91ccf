//! The consent ledger through every way a decision arrives (API create and
//! upsert, batch, import) and through its own routes, on the embedded
//! backend.

mod common;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use strata_domain::ids::CustomerId;
use strata_ingest::api::{ApiState, router};
use strata_store::ConsentLedger;
use tower::ServiceExt;

fn app(local: &common::Local) -> Router {
    let ingestor = strata_ingest::ingest::Ingestor::new(
        local.table.clone(),
        local.privacy.clone(),
        strata_domain::ReadOptions::default(),
    );
    router(ApiState::new(local.table.clone(), ingestor))
}

async fn send(app: &Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, json)
}

fn decision(purpose: &str, granted: bool, at: &str) -> Value {
    json!({"purpose": purpose, "granted": granted, "at": at, "version": "v1", "source": "signup"})
}

async fn ledger(app: &Router, id: &str) -> Vec<Value> {
    let (status, body) = send(app, "GET", &format!("/v1/customers/{id}/consents"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["consents"].as_array().expect("consents").clone()
}

#[tokio::test]
async fn every_decision_through_the_api_is_kept_once_and_the_latest_is_in_force() {
    let local = common::local().await;
    let app = app(&local);
    let grant = decision("marketing", true, "2026-01-01T00:00:00Z");
    let body = json!({"email": "ana@shop.cn", "consents": [grant]});
    let (status, created) = send(&app, "POST", "/v1/customers", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    // The same decision again: nothing new anywhere.
    let (_, again) = send(&app, "POST", "/v1/customers", Some(body)).await;
    assert_eq!(again["outcome"], "duplicate", "{again}");
    let entries = ledger(&app, &id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["recorded_by"], "api");
    assert_eq!(entries[0]["granted"], true);

    // An older withdrawal arrives late: kept in the ledger, not in force.
    let older = decision("marketing", false, "2025-06-01T00:00:00Z");
    let (_, late) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"email": "ana@shop.cn", "consents": [older]})),
    )
    .await;
    assert_eq!(late["customer"]["consents"][0]["granted"], true, "{late}");
    // A batch brings a profiling withdrawal.
    let (status, batch) = send(
        &app,
        "POST",
        "/v1/batch",
        Some(json!({"records": [{"type": "customer", "customer": {
            "email": "ana@shop.cn",
            "consents": [decision("profiling", false, "2026-02-01T00:00:00Z")]}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let entries = ledger(&app, &id).await;
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        [
            "2025-06-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z"
        ],
        "every decision, oldest first"
    );
    let (_, profile) = send(&app, "GET", &format!("/v1/customers/{id}"), None).await;
    let in_force = profile["customer"]["consents"]
        .as_array()
        .expect("consents");
    assert_eq!(in_force.len(), 2, "one decision per purpose: {in_force:?}");
}

#[tokio::test]
async fn a_customer_records_a_withdrawal_and_a_repeat_is_stored_once() {
    let local = common::local().await;
    let app = app(&local);
    let (_, created) = send(
        &app,
        "POST",
        "/v1/customers",
        Some(json!({"email": "bo@shop.cn", "consents": [decision("personalisation", true, "2026-01-01T00:00:00Z")]})),
    )
    .await;
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/customers/{id}/consents");
    let withdrawal = json!({"purpose": "personalisation", "granted": false, "version": "v2", "source": "preference-centre"});
    let (status, recorded) = send(&app, "POST", &uri, Some(withdrawal)).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    assert_eq!(recorded["outcome"], "recorded");
    assert_eq!(recorded["in_force"][0]["granted"], false, "{recorded}");
    let at = recorded["consent"]["at"]
        .as_str()
        .expect("stamped now")
        .to_owned();
    let repeat = json!({"purpose": "personalisation", "granted": false, "version": "v2", "source": "preference-centre", "at": at});
    let (status, again) = send(&app, "POST", &uri, Some(repeat)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["outcome"], "already_recorded");
    assert_eq!(ledger(&app, &id).await.len(), 2);

    let (status, problem) = send(
        &app,
        "POST",
        &uri,
        Some(json!({"purpose": "personalisation", "granted": true, "version": "v2", "source": "x", "recorded_by": "me"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = send(
        &app,
        "POST",
        &uri,
        Some(json!({"purpose": "personalisation", "granted": true, "version": " ", "source": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let stranger = CustomerId::generate();
    for method in ["GET", "POST"] {
        let body = (method == "POST").then(
            || json!({"purpose": "marketing", "granted": true, "version": "v", "source": "x"}),
        );
        let (status, _) = send(
            &app,
            method,
            &format!("/v1/customers/{stranger}/consents"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
    }
    assert!(
        ConsentLedger::new(local.table.clone())
            .of(stranger)
            .await
            .expect("read")
            .is_empty(),
        "nothing recorded for a customer who does not exist"
    );
}

#[tokio::test]
async fn an_import_records_each_rows_decisions_with_its_row() {
    let local = common::local().await;
    let file = b"email,consent.marketing,consent.analytics,consent.version,consent.at\n\
        cy@shop.cn,yes,no,terms-3,2026-03-01T10:00:00Z\n\
        cy@shop.cn,no,,terms-4,2026-04-01T10:00:00Z\n"
        .to_vec();
    let object = common::upload(local.blobs.as_ref(), "imports/customers/consents.csv", file).await;
    let state = common::import_to_end(&local.importer, object.clone()).await;
    let customers = local.importer_customers();
    let id = customers
        .find(&strata_domain::customer::Identifier::Email(
            strata_domain::contact::Email::parse("email", "cy@shop.cn").expect("email"),
        ))
        .await
        .expect("find")
        .expect("imported");
    let ledger = ConsentLedger::new(local.table.clone());
    let entries = ledger.of(id).await.expect("ledger");
    let recorded: Vec<(String, bool, String)> = entries
        .iter()
        .map(|r| {
            (
                r.decision.purpose.name().to_owned(),
                r.decision.granted,
                r.recorded_by.clone(),
            )
        })
        .collect();
    let row = |n: u64| format!("import:{} row {n}", state.id);
    assert_eq!(
        recorded,
        [
            ("analytics".to_owned(), false, row(1)),
            ("marketing".to_owned(), true, row(1)),
            ("marketing".to_owned(), false, row(2)),
        ]
    );
    let profile = customers.get(id).await.expect("read").expect("profile");
    assert!(!profile.has_consent(strata_domain::customer::Purpose::Marketing));
    assert_eq!(profile.consents.len(), 2, "{:?}", profile.consents);
}
