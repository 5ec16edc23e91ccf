//! The Lambda packages `cargo xtask package` built (the test command builds
//! them for this machine's architecture) start as Lambda starts them: each
//! `bootstrap` runs from its package directory against a stand-in for the
//! Lambda Runtime API, with the template's environment pointed at moto.
//! Its init (configuration, SDK clients, ONNX Runtime from the package's
//! `lib/`, the model) must finish and ask for an event; it then gets one of
//! the `events/` fixtures for its trigger and must answer it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::repo_path;
use common::template::Template;
use tokio::sync::mpsc;

const PACKAGES_VAR: &str = "STRATA_TEST_PACKAGES";
const TASK_ROOT: &str = "/var/task";

/// What the runtime stand-in saw the function do.
#[derive(Debug)]
enum Seen {
    AskedForEvent,
    Responded(String),
    Failed(String),
    InitFailed(String),
}

#[derive(Clone)]
struct RuntimeApi {
    event: Arc<Mutex<Option<String>>>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(api): State<RuntimeApi>) -> axum::response::Response {
    let _ = api.seen.send(Seen::AskedForEvent);
    let event = api.event.lock().map(|mut e| e.take()).unwrap_or(None);
    let Some(event) = event else {
        // One event per test: later polls wait until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    put(
        "lambda-runtime-aws-request-id",
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into(),
    );
    put("lambda-runtime-deadline-ms", deadline.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:strata-check".into(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700".into(),
    );
    (headers, event).into_response()
}

async fn respond(State(api): State<RuntimeApi>, body: String) -> &'static str {
    let _ = api.seen.send(Seen::Responded(body));
    "accepted"
}

async fn fail(State(api): State<RuntimeApi>, body: String) -> &'static str {
    let _ = api.seen.send(Seen::Failed(body));
    "accepted"
}

async fn init_failed(State(api): State<RuntimeApi>, body: String) -> &'static str {
    let _ = api.seen.send(Seen::InitFailed(body));
    "accepted"
}

async fn runtime_api(event: Option<String>) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let (seen, receiver) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        event: Arc::new(Mutex::new(event)),
        seen,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
        .route("/2018-06-01/runtime/init/error", post(init_failed))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, receiver)
}

/// Real resources on moto for the names the template's environment holds.
async fn moto_resources() -> BTreeMap<&'static str, String> {
    let config = strata_tests::backend::moto_config()
        .await
        .expect("moto: run `cargo xtask test`, which starts it and packages the functions");
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let name = |what: &str| format!("strata-pkg-{what}-{}", &suffix[20..]);
    let dynamodb = strata_aws::dynamodb_client(&config);
    let s3 = strata_aws::s3_client(&config);
    let kms = strata_aws::kms_client(&config);
    strata_aws::create_table(&dynamodb, &name("table"))
        .await
        .expect("table");
    strata_aws::create_table(&dynamodb, &name("keys"))
        .await
        .expect("key table");
    let mut resources = BTreeMap::from([
        ("STRATA_TABLE", name("table")),
        ("STRATA_KEY_TABLE", name("keys")),
    ]);
    for (var, bucket) in [
        ("STRATA_IMPORTS_BUCKET", "imports"),
        ("STRATA_BUCKET", "models"),
        ("STRATA_SNAPSHOT_BUCKET", "snapshots"),
        ("STRATA_DATA_BUCKET", "cold"),
    ] {
        strata_aws::create_bucket(&s3, &name(bucket))
            .await
            .expect("bucket");
        resources.insert(var, name(bucket));
    }
    strata_aws::create_locked_bucket(&s3, &name("archive"))
        .await
        .expect("archive bucket");
    resources.insert("STRATA_ARCHIVE_BUCKET", name("archive"));
    for var in [
        "STRATA_BACKUP_KEY",
        "STRATA_ARCHIVE_KEY",
        "STRATA_PERSONAL_DATA_KEY",
    ] {
        let key = strata_aws::create_key(&kms, var).await.expect("key");
        resources.insert(var, key);
    }
    resources
}

/// The fixtures a function's triggers send, one per kind of trigger, from
/// the template's events (an API's first GET route only).
fn fixtures_for(template: &Template, logical: &str, binary: &str) -> Vec<String> {
    let events = &template.resource(logical)["Properties"]["Events"];
    let Some(mapping) = events.as_mapping() else {
        return Vec::new();
    };
    let read = |name: &str| std::fs::read_to_string(repo_path("events").join(name)).ok();
    let mut fixtures = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for event in mapping.values() {
        let kind = event["Type"].as_str().unwrap_or_default();
        let fixture = match kind {
            "HttpApi" if event["Properties"]["Method"] == "GET" => {
                let route = format!(
                    "GET {}",
                    event["Properties"]["Path"].as_str().unwrap_or_default()
                );
                std::fs::read_dir(repo_path("events"))
                    .into_iter()
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .find(|text| text.contains(&format!("\"routeKey\": \"{route}\"")))
            }
            "S3" => read("s3-object-created-import.json"),
            "Schedule" => match binary {
                "churn-batch" => read("churn-schedule.json"),
                "churn-retrain" => read("churn-retrain-schedule.json"),
                "backup-job" => read("backup-scheduled.json"),
                "recommend-job" => read("recommend-schedule.json"),
                "tiering-job" => read("tiering-schedule.json"),
                "value-job" => read("value-schedule.json"),
                "ingest-import" => read("inactive-erasure-schedule.json"),
                _ => None,
            },
            _ => None,
        };
        if let Some(fixture) = fixture.filter(|_| kinds.insert(kind)) {
            fixtures.push(fixture);
        }
    }
    fixtures
}

fn environment(
    template: &Template,
    logical: &str,
    package: &Path,
    resources: &BTreeMap<&'static str, String>,
    runtime: SocketAddr,
) -> BTreeMap<String, String> {
    let mut env = template.environment(logical);
    for (name, value) in env.iter_mut() {
        if let Some(real) = resources.get(name.as_str()) {
            *value = real.clone();
        } else if let Some(inside) = value.strip_prefix(TASK_ROOT) {
            *value = format!("{}{inside}", package.display());
        }
    }
    let endpoint = std::env::var("STRATA_TEST_AWS_ENDPOINT").unwrap_or_default();
    env.extend(
        [
            ("AWS_LAMBDA_RUNTIME_API", runtime.to_string()),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                format!("strata-check-{logical}"),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "check".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "check".into()),
            ("LAMBDA_TASK_ROOT", package.display().to_string()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

#[tokio::test]
async fn every_package_starts_like_lambda_starts_it_and_answers_its_trigger() {
    strata_tests::require_moto!();
    let packages = PathBuf::from(std::env::var(PACKAGES_VAR).unwrap_or_else(|_| {
        panic!(
            "{PACKAGES_VAR} is not set: run `cargo xtask test`, which packages the functions first"
        )
    }));
    let template = Template::load();
    let resources = moto_resources().await;
    for (logical, binary) in template.functions() {
        let package = packages.join(&binary);
        let bootstrap = package.join("bootstrap");
        assert!(
            bootstrap.is_file(),
            "{logical}: {} is missing",
            bootstrap.display()
        );
        let fixtures = fixtures_for(&template, &logical, &binary);
        let events: Vec<Option<String>> = if fixtures.is_empty() {
            vec![None]
        } else {
            fixtures.into_iter().map(Some).collect()
        };
        for event in events {
            let with_event = event.is_some();
            let (address, mut seen) = runtime_api(event).await;
            let mut child = tokio::process::Command::new(&bootstrap)
                .current_dir(&package)
                .env_clear()
                .envs(environment(
                    &template, &logical, &package, &resources, address,
                ))
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("{logical}: starting {}: {e}", bootstrap.display()));
            let outcome = tokio::time::timeout(Duration::from_secs(90), async {
                let mut asked = false;
                while let Some(event) = seen.recv().await {
                    match event {
                        Seen::AskedForEvent if !with_event || asked => {
                            return Ok("init only".to_owned());
                        }
                        Seen::AskedForEvent => asked = true,
                        Seen::Responded(body) => return Ok(body),
                        Seen::Failed(body) => return Err(format!("the handler failed: {body}")),
                        Seen::InitFailed(body) => return Err(format!("init failed: {body}")),
                    }
                }
                Err("the runtime API closed".to_owned())
            })
            .await;
            let _ = child.kill().await;
            let answer = match outcome {
                Ok(Ok(answer)) => answer,
                Ok(Err(why))
                    if why.starts_with("the handler failed") && !binary.contains("api") =>
                {
                    // An event function may refuse the fixture's object (it is not
                    // on moto); init finished and the handler ran.
                    why
                }
                Ok(Err(why)) => panic!("{logical} ({binary}): {why}"),
                Err(_) => panic!("{logical} ({binary}): no answer within 90 s"),
            };
            if binary.contains("api") {
                let response: serde_json::Value =
                    serde_json::from_str(&answer).expect("an API Gateway response");
                let status = response["statusCode"].as_u64().unwrap_or(0);
                assert!(
                    (200..500).contains(&status),
                    "{logical}: answered {status}: {answer}"
                );
            }
            println!(
                "{logical} ({binary}): init ok; answered {}",
                answer.chars().take(160).collect::<String>()
            );
        }
    }
}
