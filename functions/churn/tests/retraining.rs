//! Model correction end to end on every adapter (embedded, and the AWS
//! adapters against moto): the retraining job's events from the events/
//! fixtures through the Lambda's handler, the export of a run, a candidate
//! that is not worse (the bundled network) promoted, worse or dishonest
//! candidates kept out, a candidate arriving later reviewed from its S3
//! event, rollback; the CodeBuild trainer against moto and the local
//! trainer with a stand-in script.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use strata_churn::lambda;
use strata_churn::model::ChurnModel;
use strata_churn::registry::{BUNDLED_CARD, BUNDLED_MODEL, version_of};
use strata_churn::retraining::codebuild::CodeBuildTrainer;
use strata_churn::retraining::events::Handled;
use strata_churn::retraining::local::LocalTrainer;
use strata_churn::retraining::review::Holdout;
use strata_churn::retraining::run::{Outcome, Review, RunKeys, Runs, TrainingRun};
use strata_churn::retraining::trainer::{JobState, Trainer, TrainerError};
use strata_churn::retraining::{RetrainReport, RetrainSettings, Retraining};
use strata_domain::ReadOptions;
use strata_domain::churn::RetrainReason;
use strata_domain::customer::{Customer, CustomerInput, Origin};
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderStatus};
use strata_store::cold::ColdTier;
use strata_store::{ActivityRepository, BatchPolicy, CustomerRepository};
use strata_tests::backend::Backend;

/// The run id in the candidate fixture, replaced by a test's real run.
const FIXTURE_RUN: &str = "19980701T033000Z-0a1b2c3d";
const FIXTURE_VERSION: &str = "5f2d8e1a9c3b";

fn fixture(name: &str, replace: &[(&str, &str)]) -> EventBridgeEvent {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).expect("an EventBridge event")
}

fn end_of_data() -> DateTime<Utc> {
    "1998-07-01T00:00:00Z".parse().unwrap()
}

/// A tiny deterministic generator, so the shop is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A shop shaped like CDNOW: customers arrive in the first quarter of 1997;
/// most buy once, some now and then for a while, a few regularly to the end.
/// Returns the number of formal customers.
async fn seed(b: &Backend, customers: usize) -> u64 {
    let repository = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let start = end_of_data() - Duration::days(546);
    let mut random = Lcg(42);
    let mut orders = Vec::new();
    for n in 0..customers {
        let first = start + Duration::days((random.next() * 90.0) as i64);
        let input = CustomerInput {
            email: Some(format!("r{n}@example.cn")),
            ..CustomerInput::default()
        };
        let valid = input
            .validate(&ReadOptions::default(), first)
            .expect("valid");
        let customer = Customer::create(
            CustomerId::generate(),
            valid,
            &Origin {
                source: "api".into(),
                at: first,
            },
        );
        repository.create(&customer).await.expect("create");
        let kind = random.next();
        let (gap, lifetime) = if kind < 0.55 {
            (0.0, 0.0)
        } else if kind < 0.85 {
            (40.0 + random.next() * 100.0, random.next() * 400.0)
        } else {
            (15.0 + random.next() * 25.0, 1_000.0)
        };
        let mut at = first;
        let mut k = 0;
        while at < end_of_data() && (at - first).num_days() as f64 <= lifetime {
            orders.push(Order {
                id: OrderId::parse("id", &format!("R-{n}-{k}")).unwrap(),
                customer_id: customer.id,
                placed_at: at,
                status: OrderStatus::Paid,
                lines: Vec::new(),
                item_count: 1,
                total: Money {
                    minor: 1_000 + (random.next() * 9_000.0) as i64,
                    currency: Currency::USD,
                },
                coupon: None,
            });
            k += 1;
            if gap == 0.0 {
                break;
            }
            at += Duration::days((gap * (0.5 + random.next())) as i64);
        }
    }
    ActivityRepository::new(b.table.clone())
        .put_orders(&orders, BatchPolicy::default())
        .await
        .expect("orders");
    customers as u64
}

/// The bundled model with an unknown protobuf field appended: the same
/// network, other bytes, so another version.
fn variant(tag: u8) -> Vec<u8> {
    let mut bytes = BUNDLED_MODEL.to_vec();
    bytes.extend_from_slice(&[0xA0, 0x06, tag]);
    bytes
}

/// What a candidate can be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Candidate {
    /// The bundled network: exactly as good as the bundled champion.
    NotWorse,
    /// The bundled network fed its inputs in reverse order.
    Worse,
    /// Not worse, but its card claims more than the model does.
    Boastful,
    /// Not worse, but its card names other training data.
    OtherData,
}

/// The model and card a trainer would leave for this export.
fn candidate(kind: Candidate, tag: u8, features_csv: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let model = variant(tag);
    let mut card: serde_json::Value = serde_json::from_slice(BUNDLED_CARD).unwrap();
    card["version"] = version_of(&model).into();
    card["data"]["features_sha256"] = hex::encode(Sha256::digest(features_csv)).into();
    if kind == Candidate::Worse {
        for field in ["features", "reference"] {
            card[field].as_array_mut().expect("a list").reverse();
        }
    }
    if kind == Candidate::OtherData {
        card["data"]["features_sha256"] = "0".repeat(64).into();
    }
    let parsed = ChurnModel::parse_card(&serde_json::to_vec(&card).unwrap()).unwrap();
    let (loaded, _) = ChurnModel::load(&model, parsed)
        .expect("ONNX Runtime; run the tests with `cargo xtask test`, which sets ORT_DYLIB_PATH");
    let measured = Holdout::from_csv(features_csv)
        .expect("the export")
        .roc_auc(&loaded)
        .expect("inference")
        .expect("both classes in the holdout");
    let claimed = if kind == Candidate::Boastful {
        measured + 0.05
    } else {
        measured
    };
    card["holdout"]["roc_auc"] = claimed.into();
    (model, serde_json::to_vec_pretty(&card).unwrap())
}

/// Writes a candidate as the CodeBuild job does: the card last.
async fn deliver(runs: &Runs, run: &str, model: Vec<u8>, card: Vec<u8>) {
    let keys = RunKeys { id: run.to_owned() };
    for (file, bytes) in [
        ("model.onnx", model),
        ("evaluation.json", b"{}".to_vec()),
        ("golden.json", b"{}".to_vec()),
        ("model-card.json", card),
    ] {
        runs.put(&keys.candidate(file), bytes, "application/octet-stream")
            .await
            .expect("candidate");
    }
}

/// A trainer that trains at once (`Some`) or leaves the candidate to the
/// test, as a CodeBuild build would (`None`).
struct StandIn {
    runs: Runs,
    produce: Option<Candidate>,
    /// Makes this trainer's models differ from other trainers'.
    tag: u8,
    started: Mutex<Vec<String>>,
}

impl StandIn {
    fn new(b: &Backend, produce: Option<Candidate>, tag: u8) -> Arc<StandIn> {
        Arc::new(StandIn {
            runs: Runs::new(b.blobs.clone()),
            produce,
            tag,
            started: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Trainer for StandIn {
    async fn start(&self, run: &TrainingRun) -> Result<String, TrainerError> {
        self.started.lock().unwrap().push(run.id.clone());
        if let Some(kind) = self.produce {
            let csv = self
                .runs
                .get(&run.keys().features())
                .await
                .map_err(|e| TrainerError::Start(e.to_string()))?
                .ok_or_else(|| TrainerError::Start("no export".into()))?;
            let (model, card) = candidate(kind, self.tag, &csv);
            deliver(&self.runs, &run.id, model, card).await;
        }
        Ok(format!("stand-in:{}", run.id))
    }

    async fn state(&self, _job: &str) -> Result<JobState, TrainerError> {
        Ok(match self.produce {
            Some(_) => JobState::Succeeded,
            None => JobState::Running,
        })
    }
}

fn service(b: &Backend, trainer: Arc<dyn Trainer>) -> Retraining {
    let settings = RetrainSettings {
        segments: 3,
        ..RetrainSettings::default()
    };
    Retraining::new(
        b.table.clone(),
        ColdTier::new(b.blobs.clone()),
        b.blobs.clone(),
        trainer,
        settings,
    )
}

async fn handle(service: &Retraining, event: EventBridgeEvent) -> Handled {
    lambda::on_retrain_event(service, event)
        .await
        .expect("the event is handled")
}

fn scheduled(handled: Handled) -> RetrainReport {
    match handled {
        Handled::Scheduled(report) => *report,
        other => panic!("not a scheduled run: {other:?}"),
    }
}

fn reviewed(handled: Handled) -> Review {
    match handled {
        Handled::Reviewed(review) => review,
        other => panic!("not a review: {other:?}"),
    }
}

pub async fn growth_starts_a_run_whose_candidate_is_promoted_if_not_worse(b: &Backend) {
    let formal = seed(b, 160).await;
    let service = service(b, StandIn::new(b, Some(Candidate::NotWorse), 10));
    let registry = service.registry();

    let report = scheduled(handle(&service, fixture("churn-retrain-schedule.json", &[])).await);
    assert!(report.started.is_none() && report.reviewed.is_none());
    assert!(
        report
            .skipped
            .as_deref()
            .unwrap_or_default()
            .contains("neither threshold"),
        "{report:?}"
    );

    // A champion trained when the shop had half its formal customers.
    let champion = variant(1);
    let mut champion_card: serde_json::Value = serde_json::from_slice(BUNDLED_CARD).unwrap();
    champion_card["version"] = version_of(&champion).into();
    let champion_card = serde_json::to_vec(&champion_card).unwrap();
    registry
        .install(&champion, &champion_card, formal / 2, end_of_data())
        .await
        .expect("a champion");

    let report = scheduled(handle(&service, fixture("churn-retrain-schedule.json", &[])).await);
    let run = report.started.expect("a run started");
    assert_eq!(
        run.reason,
        RetrainReason::Growth {
            trained_on: formal / 2,
            now: formal
        }
    );
    assert_eq!(run.formal_customers, formal);
    assert_eq!(run.champion, version_of(&champion));
    assert!(run.holdout_rows > 0 && run.rows > run.holdout_rows);
    let runs = service.runs();
    let csv = runs
        .get(&format!("training/churn/{}/features.csv", run.id))
        .await
        .unwrap()
        .expect("the export is where the trainer looks");
    assert_eq!(hex::encode(Sha256::digest(&csv)), run.features_sha256);
    for file in ["train.py", "requirements.txt"] {
        assert!(
            runs.get(&format!("training/churn/{}/trainer/{file}", run.id))
                .await
                .unwrap()
                .is_some(),
            "the run carries its trainer"
        );
    }
    assert_eq!(runs.manifest(&run.id).await.unwrap().as_ref(), Some(&run));

    let review = report.reviewed.expect("the stand-in trained at once");
    assert_eq!(review.outcome, Outcome::Promoted, "{review:?}");
    let (candidate_auc, champion_auc) = (
        review.candidate_roc_auc.unwrap(),
        review.champion_roc_auc.unwrap(),
    );
    assert!(candidate_auc > 0.5);
    assert!(
        (candidate_auc - champion_auc).abs() < 1e-12,
        "the same network on the same rows"
    );
    let pointer = registry.pointer().await.unwrap().expect("a pointer");
    assert_eq!(Some(pointer.version.clone()), review.candidate_version);
    assert_eq!(pointer.previous, Some(version_of(&champion)));
    assert_eq!(
        pointer.customers, formal,
        "the count the run trained on is the next growth check's baseline"
    );
    assert_eq!(runs.review(&run.id).await.unwrap(), Some(review));

    let report = scheduled(handle(&service, fixture("churn-retrain-schedule.json", &[])).await);
    assert!(report.started.is_none(), "no growth since: {report:?}");
}

pub async fn worse_or_dishonest_candidates_are_not_promoted(b: &Backend) {
    seed(b, 160).await;
    for (tag, kind, outcome) in [
        (20, Candidate::Worse, Outcome::Kept),
        (21, Candidate::Boastful, Outcome::Rejected),
        (22, Candidate::OtherData, Outcome::Rejected),
    ] {
        let service = service(b, StandIn::new(b, Some(kind), tag));
        let report =
            scheduled(handle(&service, fixture("churn-retrain-requested.json", &[])).await);
        let run = report.started.expect("an operator's request starts a run");
        assert_eq!(run.reason, RetrainReason::Requested);
        let review = report.reviewed.expect("reviewed");
        assert_eq!(review.outcome, outcome, "{kind:?}: {review:?}");
        assert_eq!(
            service.registry().pointer().await.unwrap(),
            None,
            "{kind:?}: the bundled champion still serves"
        );
        if kind == Candidate::Worse {
            assert!(
                review.candidate_roc_auc.unwrap() < review.champion_roc_auc.unwrap(),
                "{review:?}"
            );
        }
        let version = review.candidate_version.clone().expect("a version");
        assert_eq!(
            service.registry().fetch(&version).await.is_ok(),
            outcome == Outcome::Kept,
            "{kind:?}: a sound candidate is kept for rollback, a rejected one is not published"
        );
        assert!(
            service
                .runs()
                .get(&run.keys().candidate("model.onnx"))
                .await
                .unwrap()
                .is_some(),
            "the candidate stays with its run"
        );
    }
}

pub async fn a_candidate_arriving_later_is_reviewed_from_its_event(b: &Backend) {
    let formal = seed(b, 120).await;
    let (trainer, codebuild): (Arc<dyn Trainer>, _) = if b.name == "aws" {
        let project = codebuild_project().await;
        (
            Arc::new(CodeBuildTrainer::new(project.0.clone(), &project.1)),
            Some(project),
        )
    } else {
        (StandIn::new(b, None, 30), None)
    };
    let service = service(b, trainer);
    let report = scheduled(handle(&service, fixture("churn-retrain-requested.json", &[])).await);
    let run = report.started.expect("a run started");
    assert!(report.reviewed.is_none(), "nothing to review yet");
    let job = run.job.clone().expect("the job is recorded");
    if let Some((client, project)) = &codebuild {
        let builds = client
            .list_builds_for_project()
            .project_name(project)
            .send()
            .await
            .expect("builds");
        assert_eq!(
            builds.ids(),
            std::slice::from_ref(&job),
            "one CodeBuild build per run"
        );
    }

    let later = fixture(
        "churn-retrain-schedule.json",
        &[("1998-07-01T03:00:00Z", "1998-07-01T03:45:00Z")],
    );
    let report = scheduled(handle(&service, later).await);
    assert!(report.started.is_none() && report.reviewed.is_none());
    assert!(
        report
            .skipped
            .unwrap_or_default()
            .contains("has not delivered"),
        "one run at a time"
    );

    let csv = service
        .runs()
        .get(&run.keys().features())
        .await
        .unwrap()
        .unwrap();
    let (model, card) = candidate(Candidate::NotWorse, 7, &csv);
    deliver(service.runs(), &run.id, model.clone(), card).await;
    let arrived = fixture("churn-candidate-created.json", &[(FIXTURE_RUN, &run.id)]);
    let review = reviewed(handle(&service, arrived.clone()).await);
    assert_eq!(review.outcome, Outcome::Promoted, "{review:?}");
    let pointer = service.registry().pointer().await.unwrap().unwrap();
    assert_eq!(pointer.version, version_of(&model));
    assert_eq!(pointer.customers, formal);
    assert_eq!(
        reviewed(handle(&service, arrived).await),
        review,
        "a repeated event finds the run reviewed"
    );

    let stray = fixture(
        "churn-candidate-created.json",
        &[("model-card.json", "model.onnx")],
    );
    assert!(matches!(
        handle(&service, stray).await,
        Handled::Ignored { .. }
    ));

    // Back to a version stored before: the first candidate of another run.
    let kept = variant(99);
    let (_, kept_card) = candidate(Candidate::NotWorse, 99, &csv);
    service
        .registry()
        .publish(&kept, &kept_card)
        .await
        .expect("publish");
    let rollback = fixture(
        "churn-rollback-requested.json",
        &[(FIXTURE_VERSION, &version_of(&kept))],
    );
    assert!(matches!(
        handle(&service, rollback).await,
        Handled::RolledBack { .. }
    ));
    let pointer = service.registry().pointer().await.unwrap().unwrap();
    assert_eq!(pointer.version, version_of(&kept));
    assert_eq!(pointer.previous, Some(version_of(&model)));
    let unknown = fixture("churn-rollback-requested.json", &[]);
    assert!(
        lambda::on_retrain_event(&service, unknown).await.is_err(),
        "a version never stored cannot serve"
    );
}

pub async fn a_run_without_a_candidate_is_abandoned_after_its_timeout(b: &Backend) {
    seed(b, 80).await;
    let service = service(b, StandIn::new(b, None, 40));
    let requested = fixture("churn-retrain-requested.json", &[]);
    let first = scheduled(handle(&service, requested).await)
        .started
        .expect("a run");
    let timeout = RetrainSettings::default().policy.run_timeout;
    let later = (first.started_at + timeout).to_rfc3339();
    let event = fixture(
        "churn-retrain-requested.json",
        &[("1998-07-01T03:30:00Z", &later)],
    );
    let report = scheduled(handle(&service, event).await);
    let abandoned = report.reviewed.expect("the lost run is closed");
    assert_eq!(
        (abandoned.run.as_str(), abandoned.outcome),
        (first.id.as_str(), Outcome::Abandoned)
    );
    let second = report.started.expect("and a new one starts");
    assert_ne!(second.id, first.id);
    assert_eq!(
        service.runs().latest().await.unwrap().map(|r| r.id),
        Some(second.id)
    );
}

/// A CodeBuild project in moto, shaped like the template's.
async fn codebuild_project() -> (aws_sdk_codebuild::Client, String) {
    use aws_sdk_codebuild::types::{
        ArtifactsType, ComputeType, EnvironmentType, ProjectArtifacts, ProjectEnvironment,
        ProjectSource, SourceType,
    };
    let config = strata_tests::backend::moto_config()
        .await
        .expect("moto; run the tests with `cargo xtask test`");
    let client = aws_sdk_codebuild::Client::new(&config);
    let name = format!("strata-churn-training-{}", uuid::Uuid::now_v7().simple());
    client
        .create_project()
        .name(&name)
        .source(
            ProjectSource::builder()
                .r#type(SourceType::NoSource)
                .location("none")
                .buildspec("version: 0.2")
                .build()
                .unwrap(),
        )
        .artifacts(
            ProjectArtifacts::builder()
                .r#type(ArtifactsType::NoArtifacts)
                .build()
                .unwrap(),
        )
        .environment(
            ProjectEnvironment::builder()
                .r#type(EnvironmentType::LinuxContainer)
                .image("aws/codebuild/amazonlinux-x86_64-standard:5.0")
                .compute_type(ComputeType::BuildGeneral1Small)
                .build()
                .unwrap(),
        )
        .service_role("arn:aws:iam::123456789012:role/strata-churn-training")
        .send()
        .await
        .expect("a CodeBuild project in moto");
    (client, name)
}

fn a_run(id: &str) -> TrainingRun {
    TrainingRun {
        id: id.to_owned(),
        started_at: end_of_data(),
        reason: RetrainReason::Requested,
        formal_customers: 3,
        features_sha256: String::new(),
        rows: 2,
        holdout_rows: 1,
        holdout_cutoff: "1998-04-01".into(),
        holdout_churned_share: 0.0,
        horizon_days: 90,
        champion: version_of(BUNDLED_MODEL),
        job: None,
    }
}

#[tokio::test]
async fn the_codebuild_trainer_starts_a_build_per_run_in_moto() {
    strata_tests::require_moto!();
    let (client, project) = codebuild_project().await;
    let trainer = CodeBuildTrainer::new(client.clone(), &project);
    let job = trainer
        .start(&a_run("19980701T033000Z-0a1b2c3d"))
        .await
        .expect("a build");
    assert!(job.starts_with(&format!("{project}:")), "{job}");
    let listed = client
        .list_builds_for_project()
        .project_name(&project)
        .send()
        .await
        .expect("builds");
    assert_eq!(listed.ids(), std::slice::from_ref(&job));
    assert!(
        !matches!(
            trainer.state(&job).await.expect("state"),
            JobState::Failed(_)
        ),
        "a started build is running or done"
    );
    assert!(matches!(
        trainer
            .state(&format!("{project}:00000000-0000-0000-0000-000000000000"))
            .await
            .expect("state"),
        JobState::Failed(_)
    ));
    let missing = CodeBuildTrainer::new(client, format!("{project}-missing"));
    assert!(matches!(
        missing.start(&a_run("x")).await,
        Err(TrainerError::Start(_))
    ));
}

/// Stands in for train.py: checks its arguments and writes every file a
/// candidate has, each holding the arguments and the features it read.
const STAND_IN_SCRIPT: &str = r#"
import argparse, json, pathlib, sys
a = argparse.ArgumentParser()
for flag in ("--features", "--out", "--source", "--horizon-days"):
    a.add_argument(flag, required=True)
o = a.parse_args()
if o.source == "fail":
    sys.exit(3)
out = pathlib.Path(o.out)
text = json.dumps({"features": pathlib.Path(o.features).read_text(), "horizon": o.horizon_days, "source": o.source})
for name in ("model.onnx", "evaluation.json", "golden.json", "model-card.json"):
    (out / name).write_text(text)
"#;

#[tokio::test]
async fn the_local_trainer_runs_the_runs_trainer_and_stores_the_candidate() {
    let b = Backend::embedded().await.expect("backend");
    let work = tempfile::tempdir().expect("work dir");
    let runs = Runs::new(b.blobs.clone());
    let run = a_run("19980701T033000Z-0a1b2c3d");
    runs.put(
        &run.keys().features(),
        b"customer,cutoff\n".to_vec(),
        "text/csv",
    )
    .await
    .unwrap();
    runs.put(
        &run.keys().trainer("train.py"),
        STAND_IN_SCRIPT.as_bytes().to_vec(),
        "text/x-python",
    )
    .await
    .unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let trainer = LocalTrainer::new(b.blobs.clone(), python.clone().into(), work.path().into());
    let job = trainer.start(&run).await.expect("trained");
    assert_eq!(trainer.state(&job).await.unwrap(), JobState::Succeeded);
    for file in [
        "model.onnx",
        "evaluation.json",
        "golden.json",
        "model-card.json",
    ] {
        let bytes = runs
            .get(&format!("models/churn/candidates/{}/{file}", run.id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{file} uploaded"));
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written["features"], "customer,cutoff\n");
        assert_eq!(written["horizon"], "90");
        assert_eq!(written["source"], format!("strata training run {}", run.id));
    }

    let failing = work.path().join("fail.py");
    std::fs::write(
        &failing,
        STAND_IN_SCRIPT.replace("o.source == \"fail\"", "True"),
    )
    .unwrap();
    let trainer =
        LocalTrainer::new(b.blobs.clone(), python.into(), work.path().into()).with_script(failing);
    assert!(
        matches!(
            trainer.start(&a_run("19980701T040000Z-0a1b2c3e")).await,
            Err(TrainerError::Start(_))
        ),
        "a run without an export cannot start"
    );
    assert!(matches!(
        trainer.start(&a_run(&run.id)).await,
        Err(TrainerError::Failed(_))
    ));
}

strata_tests::on_every_adapter!(
    growth_starts_a_run_whose_candidate_is_promoted_if_not_worse,
    worse_or_dishonest_candidates_are_not_promoted,
    a_candidate_arriving_later_is_reviewed_from_its_event,
    a_run_without_a_candidate_is_abandoned_after_its_timeout,
);
