//! The plaintext canary on the AWS adapters, against moto: the same known
//! personal values as `canary.rs` go in through the ingest API's Lambda
//! request path (API Gateway events, the Lambda's guard and router, with an
//! idempotency key) and through the import trigger (an S3 ObjectCreated
//! event for an uploaded export); the tiering job and a full backup run
//! with the settings their Lambdas read, and the snapshot is restored into
//! a new table and bucket. Then everything the deployment holds is read raw
//! with the SDK — every attribute of every item of every table (data, key
//! table, restored), every version of every object of every bucket with its
//! key, metadata and tags (gzip bodies decompressed) — and so is every log
//! line at debug level. None may hold a canary in any form the search
//! knows. The values read back through the API, so they were stored; the
//! order numbers, stored in the clear on purpose, are found in each place
//! searched, so the search cannot pass by seeing nothing.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use axum::Router;
use common::canary::{self, Captured};
use http::StatusCode;
use serde_json::{Value, json};
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_ingest::import::run::RunOutcome;
use strata_ingest::import::trigger;
use strata_ingest::lambda::ImportFunction;
use strata_lambda_kit::EnvReader;
use strata_tests::raw::{self, Place};
use tower::ServiceExt;

/// The environment the template gives the functions, naming resources
/// made for this run on moto (all named `<prefix>…`).
struct Deployment {
    config: aws_config::SdkConfig,
    prefix: String,
    vars: HashMap<&'static str, String>,
}

impl Deployment {
    async fn create() -> Deployment {
        let config = strata_tests::backend::moto_config()
            .await
            .expect("moto: run `cargo xtask test`, which starts it");
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let prefix = format!("strata-canary-{}-", &suffix[20..]);
        let name = |what: &str| format!("{prefix}{what}");
        let (dynamodb, s3, kms) = (
            strata_aws::dynamodb_client(&config),
            strata_aws::s3_client(&config),
            strata_aws::kms_client(&config),
        );
        for table in ["table", "keys"] {
            strata_aws::create_table(&dynamodb, &name(table))
                .await
                .expect("table");
        }
        for bucket in ["imports", "cold", "snapshots", "restored-objects"] {
            strata_aws::create_bucket(&s3, &name(bucket))
                .await
                .expect("bucket");
        }
        strata_aws::enable_versioning(&s3, &name("snapshots"))
            .await
            .expect("versioning");
        strata_aws::create_locked_bucket(&s3, &name("archive"))
            .await
            .expect("archive bucket");
        let mut vars = HashMap::from([
            ("STRATA_TABLE", name("table")),
            ("STRATA_KEY_TABLE", name("keys")),
            ("STRATA_IMPORTS_BUCKET", name("imports")),
            ("STRATA_COLD_BUCKET", name("cold")),
            ("STRATA_DATA_BUCKET", name("cold")),
            ("STRATA_SNAPSHOT_BUCKET", name("snapshots")),
            ("STRATA_ARCHIVE_BUCKET", name("archive")),
            ("STRATA_ARCHIVE_LOCK_DAYS", "1".to_owned()),
            // Every seeded record is cold; objects of any size are written.
            ("STRATA_TIERING_MIN_OBJECT_BYTES", "1".to_owned()),
            (
                "STRATA_RETENTION_POLICY",
                serde_json::to_string(&canary::tiering_retention()).expect("policy"),
            ),
        ]);
        for var in [
            "STRATA_PERSONAL_DATA_KEY",
            "STRATA_BACKUP_KEY",
            "STRATA_ARCHIVE_KEY",
        ] {
            let key = strata_aws::create_key(&kms, var).await.expect("KMS key");
            vars.insert(var, key);
        }
        Deployment {
            config,
            prefix,
            vars,
        }
    }

    fn env(&self) -> EnvReader {
        let vars = self.vars.clone();
        EnvReader::from_lookup(move |var| vars.get(var).cloned())
    }

    fn var(&self, name: &str) -> &str {
        &self.vars[name]
    }

    fn bucket(&self, var: &str) -> Arc<dyn BlobStore> {
        Arc::new(strata_aws::S3BlobStore::new(
            strata_aws::s3_client(&self.config),
            self.var(var),
        ))
    }

    /// The composition root and a function's settings, read from the
    /// template's environment as `Deployment::from_env` reads them.
    fn wired<S>(&self, read: impl FnOnce(&mut EnvReader) -> S) -> (strata_aws::Deployment, S) {
        let mut env = self.env();
        let names = strata_aws::DeploymentNames::read(&mut env);
        let settings = read(&mut env);
        env.finish().expect("the template's environment");
        (
            strata_aws::Deployment::connect(self.config.clone(), names),
            settings,
        )
    }

    /// The ingest API as `ingest-api` builds it.
    async fn api(&self) -> Router {
        let (deployment, settings) = self.wired(strata_ingest::lambda::Settings::from_env);
        strata_ingest::lambda::api(&deployment, settings)
            .await
            .expect("ingest API")
    }

    /// The import function as `ingest-import` builds it.
    async fn import_function(&self) -> ImportFunction {
        let (deployment, settings) = self.wired(strata_ingest::lambda::Settings::from_env);
        ImportFunction::build(&deployment, settings)
            .await
            .expect("import function")
    }

    /// Everything under the prefix, read raw: tables, then buckets.
    async fn everything(&self) -> (Vec<String>, Vec<String>, Vec<Place>) {
        let tables = raw::tables(&self.config, &self.prefix)
            .await
            .expect("tables");
        let buckets = raw::buckets(&self.config, &self.prefix)
            .await
            .expect("buckets");
        let mut places = Vec::new();
        for table in &tables {
            places.extend(raw::table_items(&self.config, table).await.expect("scan"));
        }
        for bucket in &buckets {
            let objects = raw::bucket_objects(&self.config, bucket)
                .await
                .expect("objects");
            places.extend(objects.into_iter().map(|place| Place {
                bytes: canary::gunzipped(place.bytes),
                ..place
            }));
        }
        (tables, buckets, places)
    }
}

fn fixture(name: &str) -> Value {
    let path = common::repo_path("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// An admin's API Gateway (HTTP API, JWT authorizer) event for `route`
/// (`POST /v1/customers/{id}/orders`), the `{id}` being `customer`, sent
/// from the canary's IP address, as the Lambda runtime hands it over.
fn gateway_request(
    route: &str,
    customer: Option<&str>,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> http::Request<lambda_http::Body> {
    let (method, template) = route.split_once(' ').expect("METHOD /path");
    let path = match customer {
        Some(id) => template.replace("{id}", id),
        None => template.to_owned(),
    };
    let mut event = fixture("apigw-http-post-customer.json");
    event["routeKey"] = route.into();
    event["rawPath"] = path.clone().into();
    event["requestContext"]["routeKey"] = route.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["http"]["sourceIp"] = "198.51.100.77".into();
    event["requestContext"]["requestId"] = uuid::Uuid::now_v7().to_string().into();
    event["headers"]["x-forwarded-for"] = "198.51.100.77".into();
    if let Some(id) = customer {
        event["pathParameters"] = json!({ "id": id });
    }
    let headers = event["headers"].as_object_mut().expect("headers");
    headers.remove("content-length");
    match idempotency_key {
        Some(key) => headers.insert("idempotency-key".into(), key.into()),
        None => headers.remove("idempotency-key"),
    };
    event["body"] = body.map_or(Value::Null, |b| b.to_string().into());
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

async fn call(app: &Router, request: http::Request<lambda_http::Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The import trigger's fixture event, naming the uploaded export.
fn object_created(bucket: &str, key: &str, size: u64, etag: &str) -> S3Event {
    let mut event = fixture("s3-object-created-import.json");
    let record = &mut event["Records"][0]["s3"];
    record["bucket"]["name"] = bucket.into();
    record["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    record["object"]["key"] = key.into();
    record["object"]["size"] = size.into();
    record["object"]["eTag"] = etag.trim_matches('"').into();
    record["object"]["versionId"] = Value::Null;
    serde_json::from_value(event).expect("an S3 event")
}

fn scheduled(name: &str, changes: &[(&str, Value)]) -> EventBridgeEvent<Value> {
    let mut event = fixture(name);
    for (field, value) in changes {
        event[*field] = value.clone();
    }
    serde_json::from_value(event).expect("an EventBridge event")
}

fn found_in(places: &[Place], label_holds: &str, needle: &str) -> bool {
    places
        .iter()
        .filter(|place| place.label.contains(label_holds))
        .any(|place| canary::holds(&place.bytes, needle.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_personal_value_reaches_dynamodb_s3_backups_or_logs() {
    strata_tests::require_moto!();
    // As Lambda logs (JSON, span fields included), at debug level.
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .init();

    let deployment = Deployment::create().await;
    let api = deployment.api().await;

    // Through the API, old enough for tiering to move its activity.
    let (status, created) = call(
        &api,
        gateway_request(
            "POST /v1/customers",
            None,
            Some(&canary::customer()),
            Some(canary::CREATE_IDEMPOTENCY_KEY),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["id"].as_str().expect("id").to_owned();
    for (route, body) in canary::activity() {
        let route = format!("POST /v1/customers/{{id}}/{route}");
        let (status, answer) =
            call(&api, gateway_request(&route, Some(&id), Some(&body), None)).await;
        assert!(status.is_success(), "{route}: {status} {answer}");
    }

    // Through a bulk import, as the S3 trigger hands it to the import Lambda.
    let export_text = canary::export_text();
    let imports = deployment.bucket("STRATA_IMPORTS_BUCKET");
    let receipt = imports
        .put(
            canary::EXPORT_KEY,
            blob::body_from(export_text.clone().into_bytes()),
            PutOptions::default(),
        )
        .await
        .expect("upload");
    let function = deployment.import_function().await;
    let event = object_created(
        deployment.var("STRATA_IMPORTS_BUCKET"),
        canary::EXPORT_KEY,
        receipt.size,
        &receipt.etag,
    );
    let outcomes = trigger::handle(
        function.importer(),
        imports.as_ref(),
        event,
        "canary-request",
        None,
    )
    .await
    .expect("import");
    let [RunOutcome::Completed(state)] = outcomes.as_slice() else {
        panic!("the import did not complete: {outcomes:?}")
    };
    assert_eq!(state.counts.accepted, 1, "{:?}", state.counts);

    // The tiering job, as its schedule runs it once the records are old.
    let (aws, settings) = deployment.wired(strata_tiering::lambda::Settings::from_env);
    let tiering =
        strata_tiering::lambda::TieringFunction::build(&aws, settings).expect("tiering settings");
    let as_of = json!(canary::tiering_as_of().to_rfc3339());
    let tiering = tiering
        .handle(scheduled("tiering-schedule.json", &[("time", as_of)]))
        .await
        .expect("tiering");
    assert!(tiering.moved.records >= 4, "{tiering:?}");

    // A full backup an operator asks for, then a restore of it into a new
    // table and bucket, through the backup Lambda's handler.
    let (aws, settings) = deployment.wired(strata_backup::lambda::Settings::from_env);
    let backup = strata_backup::lambda::service(&aws, settings);
    let now = json!(chrono::Utc::now().to_rfc3339());
    let run = strata_backup::handle(
        &backup,
        scheduled("backup-requested.json", &[("time", now)]),
    )
    .await
    .expect("backup");
    assert_eq!(run["kind"], "full", "{run}");
    let restore = json!({
        "snapshot": run["snapshot"],
        "target_table": format!("{}restored", deployment.prefix),
        "target_store": format!("{}restored-objects", deployment.prefix),
    });
    let restored = strata_backup::handle(
        &backup,
        scheduled("backup-restore-requested.json", &[("detail", restore)]),
    )
    .await
    .expect("restore");
    assert!(restored["items_restored"].as_u64() > Some(5), "{restored}");

    // The values are stored, and read back whole through the API.
    let (status, profile) = call(
        &api,
        gateway_request("GET /v1/customers/{id}", Some(&id), None, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["customer"]["identity"]["email"], canary::EMAIL);
    let (status, history) = call(
        &api,
        gateway_request("GET /v1/customers/{id}/history", Some(&id), None, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(
        history["interactions"][0]["text"],
        canary::COMPLAINT_TEXT,
        "the complaint's text reads back from the cold tier"
    );

    // Strata's own log lines, a marker to show they are captured.
    tracing::debug!(marker = "canary-log-search-control", "the flows are done");
    let log_bytes = logs.bytes();

    let (tables, buckets, mut places) = deployment.everything().await;
    let prefix = &deployment.prefix;
    assert_eq!(tables.len(), 3, "data, key and restored tables: {tables:?}");
    assert_eq!(buckets.len(), 5, "{buckets:?}");
    // The shop's own upload is theirs, as they sent it; everything else is Strata's.
    let upload = format!("object {prefix}imports/{}@", canary::EXPORT_KEY);
    places.retain(|place| !place.label.starts_with(&upload));
    places.push(Place {
        label: "logs".into(),
        bytes: log_bytes,
    });

    // The search sees what is stored: the order numbers, in the clear on
    // purpose, in the live table, the cold objects and the restored table;
    // object keys and log lines are searched too.
    for number in canary::ORDER_NUMBERS {
        for place in [
            format!("table {prefix}table "),
            format!("object {prefix}cold/cold/"),
            format!("table {prefix}restored "),
        ] {
            assert!(
                found_in(&places, &place, number),
                "{number} is stored in the clear in {place}…, yet the search did not find it"
            );
        }
    }
    assert!(found_in(
        &places,
        "object key",
        Path::new(canary::EXPORT_KEY)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
    ));
    assert!(found_in(&places, "logs", "canary-log-search-control"));
    assert!(found_in(&places, "logs", "tiering run done"));
    assert!(
        places
            .iter()
            .any(|place| place.label.starts_with(&format!("table {prefix}keys "))),
        "the key table holds the customers' wrapped keys"
    );
    assert!(
        places.iter().any(|place| place
            .label
            .starts_with(&format!("object {prefix}snapshots/"))),
        "the snapshot bucket holds the snapshot"
    );

    let count = |kind: &str| places.iter().filter(|p| p.label.starts_with(kind)).count();
    eprintln!(
        "searched {} items in {tables:?}, {} object versions in {buckets:?}, {} log bytes",
        count("table "),
        count("object key "),
        places.last().map_or(0, |logs| logs.bytes.len()),
    );
    let found = canary::leaks(
        places
            .iter()
            .map(|place| (place.label.as_str(), place.bytes.as_slice())),
    );
    assert!(
        found.is_empty(),
        "plaintext personal data found:\n{}",
        found.join("\n")
    );
}
