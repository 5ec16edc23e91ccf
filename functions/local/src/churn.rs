//! `strata churn`: the churn function's local tool on the embedded backend —
//! the training export, the serving/training parity check, the retraining
//! job (the Lambda's service with a local trainer), promotion and rollback,
//! a batch run, and the benchmark behind `cargo xtask train`, `retrain` and
//! `bench-churn`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use strata_churn::api::{ChurnApi, online_score};
use strata_churn::batch::{self, BatchSettings};
use strata_churn::model::ChurnModel;
use strata_churn::registry::{ModelRegistry, version_of};
use strata_churn::retraining::local::LocalTrainer;
use strata_churn::retraining::run::Outcome;
use strata_churn::retraining::{DEFAULT_HORIZON_DAYS, RetrainSettings, Retraining};
use strata_churn::{evaluate, export, scoring};
use strata_domain::churn::{FeatureVector, Promotion, RetrainPolicy, TrainingCutoffs};
use strata_domain::ids::CustomerId;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_embedded::EmbeddedBackend;
use strata_store::cold::{ColdTier, JOB_CACHE_BYTES};
use strata_store::{ChurnRepository, CustomerRecords};

#[derive(Subcommand)]
pub enum Command {
    /// Writes every formal customer's features at monthly cut-offs, with the label, as CSV.
    ExportFeatures {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The label: no purchase in this many days after the cut-off.
        #[arg(long, default_value_t = DEFAULT_HORIZON_DAYS)]
        horizon_days: u32,
        /// At most this many (latest) training cut-offs.
        #[arg(long, default_value_t = 12)]
        max_train_cutoffs: usize,
    },
    /// Recomputes a model's holdout ROC AUC through serving (Rust features,
    /// ONNX Runtime) and fails unless it matches the card.
    CheckModel {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        model_dir: PathBuf,
    },
    /// Writes the serving model (the pointer's version, or the bundled one) to a directory.
    CurrentModel {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Publishes a trained challenger and promotes it if it is not worse
    /// than the champion on the same holdout.
    Promote {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        challenger: PathBuf,
    },
    /// The retraining job on the store (what the `churn-retrain` Lambda
    /// does on its schedule), training with the local venv's Python: decides
    /// whether to retrain, exports the features, trains a challenger and
    /// promotes it only if it is not worse.
    Retrain {
        #[arg(long)]
        data_dir: PathBuf,
        /// The training venv's Python (scikit-learn, skl2onnx; `.venv-train`).
        #[arg(long)]
        python: PathBuf,
        /// Where runs are unpacked for training.
        #[arg(long)]
        work_dir: PathBuf,
        /// Runs this trainer script instead of the copy the run carries.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Trains even if neither the growth nor the age threshold is reached.
        #[arg(long)]
        force: bool,
        /// Train again once formal customers grew by this fraction.
        #[arg(long, default_value_t = RetrainPolicy::default().growth)]
        growth: f64,
        /// Train again once the champion is this many days old.
        #[arg(long, default_value_t = RetrainPolicy::default().max_age.num_days())]
        max_age_days: i64,
        /// The label: no purchase in this many days after a cut-off.
        #[arg(long, default_value_t = DEFAULT_HORIZON_DAYS)]
        horizon_days: u32,
    },
    /// Points the serving model back at a stored version.
    Rollback {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        version: String,
    },
    /// Runs the batch scoring job on the store and shows the early-warning list.
    Score {
        #[arg(long)]
        data_dir: PathBuf,
        /// Score as of this instant (RFC 3339); the day after the last purchase by default.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
    /// Measures scoring throughput, online latency and cold start.
    Bench {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

const SEGMENTS: u32 = 4;

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::ExportFeatures {
            data_dir,
            out,
            horizon_days,
            max_train_cutoffs,
        } => export_features(&data_dir, &out, horizon_days, max_train_cutoffs).await,
        Command::CheckModel {
            data_dir,
            model_dir,
        } => check_model(&data_dir, &model_dir).await,
        Command::CurrentModel { data_dir, out } => current_model(&data_dir, &out).await,
        Command::Promote {
            data_dir,
            challenger,
        } => promote(&data_dir, &challenger).await,
        Command::Retrain {
            data_dir,
            python,
            work_dir,
            script,
            force,
            growth,
            max_age_days,
            horizon_days,
        } => {
            let (table, blobs) = open(&data_dir)?;
            let mut trainer = LocalTrainer::new(blobs.clone(), python, work_dir);
            if let Some(script) = script {
                trainer = trainer.with_script(script);
            }
            let settings = RetrainSettings {
                policy: RetrainPolicy {
                    growth,
                    max_age: chrono::Duration::days(max_age_days),
                    ..RetrainPolicy::default()
                },
                segments: SEGMENTS,
                horizon_days,
                ..RetrainSettings::default()
            };
            let cold = ColdTier::new(blobs.clone()).with_cache(JOB_CACHE_BYTES);
            let report = Retraining::new(table, cold, blobs, Arc::new(trainer), settings)
                .on_schedule(Utc::now(), force)
                .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if let Some(review) = &report.reviewed
                && review.outcome == Outcome::Rejected
            {
                bail!("the candidate was rejected: {}", review.reason);
            }
            Ok(())
        }
        Command::Rollback { data_dir, version } => {
            let (table, blobs) = open(&data_dir)?;
            ModelRegistry::new(table, blobs)
                .rollback(&version, Utc::now())
                .await?;
            println!("the churn model now serves version {version}");
            Ok(())
        }
        Command::Score { data_dir, as_of } => score(&data_dir, as_of).await,
        Command::Bench { data_dir } => bench(&data_dir).await,
    }
}

fn open(data_dir: &Path) -> anyhow::Result<(Arc<dyn Table>, Arc<dyn BlobStore>)> {
    let backend = EmbeddedBackend::open(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    Ok((Arc::new(backend.table), Arc::new(backend.blobs)))
}

/// Every customer of the store, history whole (hot and cold).
async fn customers(data_dir: &Path) -> anyhow::Result<Vec<CustomerRecords>> {
    let (table, blobs) = open(data_dir)?;
    let cold = ColdTier::new(blobs).with_cache(JOB_CACHE_BYTES);
    Ok(export::read_customers(table, cold, SEGMENTS).await?)
}

fn read_model(dir: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    Ok((read("model.onnx")?, read("model-card.json")?))
}

async fn export_features(
    data_dir: &Path,
    out: &Path,
    horizon_days: u32,
    max_train_cutoffs: usize,
) -> anyhow::Result<()> {
    let customers = customers(data_dir).await?;
    let (first, last) =
        export::purchase_span(&customers).context("the store holds no purchase to learn from")?;
    let cutoffs = TrainingCutoffs::monthly(first, last, horizon_days, max_train_cutoffs)
        .with_context(|| {
            format!("purchases from {first} to {last} are too short a span for a {horizon_days}-day label")
        })?;
    let mut file =
        BufWriter::new(File::create(out).with_context(|| format!("creating {}", out.display()))?);
    let summary = export::write_csv(&customers, cutoffs, &mut file)?;
    file.flush()?;
    let train = &summary.cutoffs.train;
    println!(
        "exported {} rows ({} holdout at {}, {:.1}% of them churned within {} days; {} training cut-offs {}..{}) from {} customers to {}",
        summary.rows,
        summary.holdout_rows,
        summary.cutoffs.holdout.date_naive(),
        summary.holdout_churned_share() * 100.0,
        horizon_days,
        train.len(),
        train[0].date_naive(),
        train[train.len() - 1].date_naive(),
        customers.len(),
        out.display()
    );
    if let Some(warning) = summary.label_warning() {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

async fn check_model(data_dir: &Path, model_dir: &Path) -> anyhow::Result<()> {
    let (bytes, card_json) = read_model(model_dir)?;
    let (model, _) = ChurnModel::load(&bytes, ChurnModel::parse_card(&card_json)?)?;
    let customers = customers(data_dir).await?;
    let served =
        evaluate::served_auc(&model, &customers)?.context("the holdout has a single class")?;
    let trained = model.card().holdout.roc_auc;
    println!(
        "model {}: holdout ROC AUC {served:.6} through serving, {trained:.6} in training",
        model.version()
    );
    if (served - trained).abs() > 1e-4 {
        bail!("serving and training disagree: the features or the model drifted");
    }
    Ok(())
}

async fn current_model(data_dir: &Path, out: &Path) -> anyhow::Result<()> {
    let (table, blobs) = open(data_dir)?;
    let registry = ModelRegistry::new(table, blobs);
    let (model, card) = match registry.pointer().await? {
        Some(pointer) => {
            let (model, _) = registry.fetch(&pointer.version).await?;
            let card = registry.fetch_card_json(&pointer.version).await?;
            (model, card)
        }
        None => (
            strata_churn::registry::BUNDLED_MODEL.to_vec(),
            strata_churn::registry::BUNDLED_CARD.to_vec(),
        ),
    };
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("model.onnx"), &model)?;
    std::fs::write(out.join("model-card.json"), &card)?;
    println!(
        "serving model {} written to {}",
        version_of(&model),
        out.display()
    );
    Ok(())
}

async fn promote(data_dir: &Path, challenger: &Path) -> anyhow::Result<()> {
    let (model, card) = read_model(challenger)?;
    let evaluation: serde_json::Value = serde_json::from_slice(
        &std::fs::read(challenger.join("evaluation.json")).context("reading evaluation.json")?,
    )?;
    let champion = evaluation["champion"]["roc_auc"].as_f64();
    let (table, blobs) = open(data_dir)?;
    let registry = ModelRegistry::new(table, blobs);
    if champion.is_none() && registry.pointer().await?.is_some() {
        bail!("the champion was not scored on the challenger's holdout; train with --champion");
    }
    match registry
        .promote(&model, &card, champion, Utc::now())
        .await?
    {
        Promotion::Promote { reason } => println!("promoted {}: {reason}", version_of(&model)),
        Promotion::Keep { reason } => println!("kept the champion: {reason}"),
    }
    Ok(())
}

fn day_after_last_purchase(customers: &[CustomerRecords]) -> anyhow::Result<DateTime<Utc>> {
    let (_, last) = export::purchase_span(customers).context("no purchases stored")?;
    Ok(last
        .succ_opt()
        .context("date overflow")?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc())
}

async fn score(data_dir: &Path, as_of: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    let as_of = match as_of {
        Some(at) => at,
        None => day_after_last_purchase(&customers(data_dir).await?)?,
    };
    let (table, blobs) = open(data_dir)?;
    let cold_tier = ColdTier::new(blobs.clone()).with_cache(JOB_CACHE_BYTES);
    let (model, cold, source) = ModelRegistry::new(table.clone(), blobs)
        .load_serving()
        .await?;
    println!(
        "model {} ({source:?}) ready: library {:.1?}, session {:.1?}",
        model.version(),
        cold.library,
        cold.session
    );
    let report = batch::run(
        table.clone(),
        cold_tier,
        Arc::new(model),
        BatchSettings::default(),
        as_of,
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let page = ChurnRepository::new(table)
        .by_risk(strata_domain::churn::RiskBand::High, None, 5)
        .await?;
    println!("early warning, riskiest first:");
    for s in page.scores {
        let reasons: Vec<String> = s
            .reasons
            .iter()
            .map(|r| {
                format!(
                    "{} {} (typical {}) +{:.3}",
                    r.feature, r.value, r.typical, r.contribution
                )
            })
            .collect();
        println!(
            "  {} p={:.3} {}",
            s.customer_id,
            s.probability,
            reasons.join("; ")
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn bench(data_dir: &Path) -> anyhow::Result<()> {
    let card = ChurnModel::parse_card(strata_churn::registry::BUNDLED_CARD)?;
    let (model, cold) = ChurnModel::load(strata_churn::registry::BUNDLED_MODEL, card.clone())?;
    let mut sessions: Vec<Duration> = (0..20)
        .map(|_| {
            ChurnModel::load(strata_churn::registry::BUNDLED_MODEL, card.clone())
                .map(|(_, c)| c.session)
        })
        .collect::<Result<_, _>>()?;
    sessions.sort();
    println!(
        "cold start: ONNX Runtime library load {:.1} ms, first session build {:.2} ms (median of 20 more: {:.2} ms); model {} ({} bytes)",
        cold.library.as_secs_f64() * 1e3,
        cold.session.as_secs_f64() * 1e3,
        percentile(&sessions, 0.5).as_secs_f64() * 1e3,
        model.version(),
        strata_churn::registry::BUNDLED_MODEL.len()
    );

    let customers = customers(data_dir).await?;
    let as_of = day_after_last_purchase(&customers)?;
    let formal: Vec<&CustomerRecords> = customers
        .iter()
        .filter(|c| scoring::view(&c.history).is_formal_at(as_of))
        .collect();
    println!(
        "batch scoring of {} formal customers as of {as_of}, per second (features assembled from in-memory histories, except model only):",
        formal.len()
    );
    let inputs = model.inputs().len();
    let mut rows = Vec::with_capacity(formal.len() * inputs);
    for customer in &formal {
        if let Some(features) = scoring::view(&customer.history).features(as_of) {
            features.write_selected(model.inputs(), &mut rows);
        }
    }
    for size in [1usize, 32, 1024] {
        let started = Instant::now();
        let mut scored = 0;
        for chunk in formal.chunks(size) {
            let batch: Vec<(CustomerId, FeatureVector)> = chunk
                .iter()
                .filter_map(|c| Some((c.id, scoring::view(&c.history).features(as_of)?)))
                .collect();
            scored += scoring::score(&model, &batch, as_of)?.len();
        }
        let with_reasons = scored as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for chunk in formal.chunks(size) {
            let batch: Vec<FeatureVector> = chunk
                .iter()
                .filter_map(|c| scoring::view(&c.history).features(as_of))
                .collect();
            model.probabilities(&batch)?;
        }
        let probability_only = formal.len() as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for chunk in rows.chunks(size * inputs) {
            model.run(chunk.to_vec(), chunk.len() / inputs)?;
        }
        let model_only = formal.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "  batch {size:>5}: {with_reasons:>9.0}/s with reasons, {probability_only:>9.0}/s probability only, {model_only:>9.0} rows/s model only"
        );
    }

    let (table, _) = open(data_dir)?;
    let api = ChurnApi::new(table, Arc::new(model));
    let mut latencies = Vec::new();
    for customer in formal.iter().step_by((formal.len() / 2_000).max(1)) {
        let started = Instant::now();
        online_score(&api, customer.id)
            .await
            .map_err(|p| anyhow::anyhow!("{}: {:?}", p.title, p.detail))?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "online score of one customer (profile + history read from the embedded store, features, model, reasons), {} requests: p50 {:.3} ms, p99 {:.3} ms",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    Ok(())
}
