//! Model correction: the retraining job. On its schedule it reviews a
//! candidate that has arrived, then decides (`strata_domain::churn::
//! decide_retraining`) whether to train again; if so it exports the
//! features with this build's definitions, stores them with the trainer
//! under a new run, and starts the trainer (CodeBuild in AWS, the training
//! venv locally). When the candidate arrives (its card's S3 ObjectCreated
//! event, or the next scheduled run) it is checked here and promoted
//! through the registry only if its holdout ROC AUC, measured here, is not
//! worse than the champion's on the same rows.
//!
//! The Lambda (`churn-retrain`) and `cargo xtask retrain` both run this
//! service; only the trainer differs.

pub mod codebuild;
pub mod events;
pub mod local;
pub mod review;
pub mod run;
pub mod trainer;

use std::sync::Arc;
use strata_store::cold::ColdTier;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use strata_domain::churn::{
    ChampionFacts, ModelCard, Promotion, RetrainDecision, RetrainPolicy, RetrainReason,
    RetrainSituation, TrainingCutoffs, decide, decide_retraining,
};
use strata_domain::ports::blob::{BlobError, BlobStore};
use strata_domain::ports::table::Table;
use strata_store::StoreError;

use crate::export;
use crate::model::{ChurnModel, ModelError};
use crate::registry::{ModelRegistry, RegistryError};
use crate::scoring;
use review::Holdout;
use run::{
    CANDIDATE_CARD, Outcome, Review, RunError, RunKeys, Runs, TRAIN_REQUIREMENTS, TRAIN_SCRIPT,
    TrainingRun, new_run_id,
};
use trainer::{JobState, Trainer, TrainerError};

#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("no training run `{0}`")]
    UnknownRun(String),
    #[error("run `{0}` has no candidate card yet")]
    NoCandidate(String),
    #[error("the export could not be written: {0}")]
    Export(String),
}

/// The retraining job's knobs besides the policy.
#[derive(Debug, Clone, Copy)]
pub struct RetrainSettings {
    pub policy: RetrainPolicy,
    /// Parallel scan segments when reading the customers.
    pub segments: u32,
    /// At most this many (latest) monthly training cut-offs.
    pub max_train_cutoffs: usize,
    /// The label: a customer churned when they make no purchase in this
    /// many days after a cut-off. The shop's setting: choose it from the
    /// shop's purchase cycle (docs/churn-model.md); a challenger's card
    /// records it.
    pub horizon_days: u32,
}

/// The label horizon when the shop sets none: a quarter.
pub const DEFAULT_HORIZON_DAYS: u32 = 90;

impl Default for RetrainSettings {
    fn default() -> Self {
        RetrainSettings {
            policy: RetrainPolicy::default(),
            segments: 4,
            max_train_cutoffs: 12,
            horizon_days: DEFAULT_HORIZON_DAYS,
        }
    }
}

/// What one invocation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetrainReport {
    /// A candidate judged (one that had arrived, or the new run's own when
    /// the trainer finished before `start` returned).
    pub reviewed: Option<Review>,
    pub started: Option<TrainingRun>,
    pub skipped: Option<String>,
}

pub struct Retraining {
    registry: ModelRegistry,
    runs: Runs,
    table: Arc<dyn Table>,
    /// Histories are exported whole: a challenger trained on what tiering
    /// left hot would learn (and be reviewed) on truncated histories.
    cold: ColdTier,
    trainer: Arc<dyn Trainer>,
    pub settings: RetrainSettings,
}

impl Retraining {
    /// `blobs` holds models and runs; `cold` is the cold tier.
    pub fn new(
        table: Arc<dyn Table>,
        cold: ColdTier,
        blobs: Arc<dyn BlobStore>,
        trainer: Arc<dyn Trainer>,
        settings: RetrainSettings,
    ) -> Self {
        Retraining {
            registry: ModelRegistry::new(table.clone(), blobs.clone()),
            runs: Runs::new(blobs),
            cold,
            table,
            trainer,
            settings,
        }
    }

    pub fn registry(&self) -> &ModelRegistry {
        &self.registry
    }

    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    /// The scheduled run (or an operator's request, which skips the
    /// thresholds but not a run in flight).
    pub async fn on_schedule(
        &self,
        now: DateTime<Utc>,
        requested: bool,
    ) -> Result<RetrainReport, RetrainError> {
        let mut report = RetrainReport::default();
        let mut in_flight_since = None;
        if let Some(latest) = self.runs.latest().await?
            && self.runs.review(&latest.id).await?.is_none()
        {
            if self.has_candidate(&latest.id).await? {
                report.reviewed = Some(self.review(&latest.id, now).await?);
            } else if let Some(why) = self.lost(&latest, now).await? {
                report.reviewed = Some(self.abandon(&latest, now, why).await?);
            } else {
                in_flight_since = Some(latest.started_at);
            }
        }

        let (champion, _, _) = self.registry.load_serving().await?;
        let pointer = self.registry.pointer().await?;
        let card = champion.card();
        let facts = ChampionFacts {
            trained_at: DateTime::parse_from_rfc3339(&card.created_at)
                .map(|at| at.with_timezone(&Utc))
                .or_else(|_| pointer.as_ref().map(|p| p.promoted_at).ok_or(()))
                .unwrap_or(now),
            customers: pointer
                .as_ref()
                .map_or(card.data.customers, |p| p.customers),
        };
        let customers = export::read_customers(
            self.table.clone(),
            self.cold.clone(),
            self.settings.segments,
        )
        .await?;
        let formal = customers
            .iter()
            .filter(|c| scoring::view(&c.history).is_formal_at(now))
            .count() as u64;
        let situation = RetrainSituation {
            now,
            champion: facts,
            formal_customers: formal,
            run_in_flight_since: in_flight_since,
            requested,
        };
        let reason = match decide_retraining(&self.settings.policy, &situation) {
            RetrainDecision::Skip(why) => {
                tracing::info!(reason = %why, "no retraining");
                report.skipped = Some(why);
                return Ok(report);
            }
            RetrainDecision::Start(reason) => reason,
        };
        let Some(run) = self.export(&customers, card, formal, reason, now).await? else {
            report.skipped =
                Some("the purchases span too little time for a training export".into());
            return Ok(report);
        };
        tracing::info!(run = %run.id, reason = %run.reason, rows = run.rows, "starting a training run");
        let run = self.start(run, now).await?;
        // A trainer that finished before returning (the local one) has left
        // its candidate already.
        if matches!(
            self.trainer
                .state(run.job.as_deref().unwrap_or_default())
                .await?,
            JobState::Succeeded
        ) && self.has_candidate(&run.id).await?
        {
            report.reviewed = Some(self.review(&run.id, now).await?);
        }
        report.started = Some(run);
        Ok(report)
    }

    /// Writes the export, the trainer and the manifest of a new run.
    async fn export(
        &self,
        customers: &[strata_store::CustomerRecords],
        champion: &ModelCard,
        formal: u64,
        reason: RetrainReason,
        now: DateTime<Utc>,
    ) -> Result<Option<TrainingRun>, RetrainError> {
        let horizon_days = self.settings.horizon_days;
        let Some((first, last)) = export::purchase_span(customers) else {
            return Ok(None);
        };
        let Some(cutoffs) =
            TrainingCutoffs::monthly(first, last, horizon_days, self.settings.max_train_cutoffs)
        else {
            return Ok(None);
        };
        let mut csv = Vec::new();
        let summary = export::write_csv(customers, cutoffs, &mut csv)
            .map_err(|e| RetrainError::Export(e.to_string()))?;
        if let Some(warning) = summary.label_warning() {
            tracing::warn!(horizon_days, "{warning}");
        }
        let run = TrainingRun {
            id: new_run_id(now),
            started_at: now,
            reason,
            formal_customers: formal,
            features_sha256: hex::encode(Sha256::digest(&csv)),
            rows: summary.rows,
            holdout_rows: summary.holdout_rows,
            holdout_cutoff: summary.cutoffs.holdout.date_naive().to_string(),
            holdout_churned_share: summary.holdout_churned_share(),
            horizon_days,
            champion: champion.version.clone(),
            job: None,
        };
        let keys = run.keys();
        self.runs.put(&keys.features(), csv, "text/csv").await?;
        self.runs
            .put(
                &keys.trainer("train.py"),
                TRAIN_SCRIPT.to_vec(),
                "text/x-python",
            )
            .await?;
        self.runs
            .put(
                &keys.trainer("requirements.txt"),
                TRAIN_REQUIREMENTS.to_vec(),
                "text/plain",
            )
            .await?;
        self.runs.put_json(&keys.manifest(), &run).await?;
        Ok(Some(run))
    }

    /// Starts the trainer and records its job; a run that cannot start is
    /// closed at once so it does not block the next.
    async fn start(
        &self,
        mut run: TrainingRun,
        now: DateTime<Utc>,
    ) -> Result<TrainingRun, RetrainError> {
        match self.trainer.start(&run).await {
            Ok(job) => {
                run.job = Some(job);
                self.runs.put_json(&run.keys().manifest(), &run).await?;
                Ok(run)
            }
            Err(error) => {
                self.abandon(&run, now, error.to_string()).await?;
                Err(error.into())
            }
        }
    }

    async fn has_candidate(&self, id: &str) -> Result<bool, RetrainError> {
        let key = RunKeys { id: id.to_owned() }.candidate(CANDIDATE_CARD);
        Ok(self.runs.get(&key).await?.is_some())
    }

    /// Why a run without a candidate will never deliver one, if it will not.
    async fn lost(
        &self,
        run: &TrainingRun,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, RetrainError> {
        if now - run.started_at >= self.settings.policy.run_timeout {
            return Ok(Some(format!("no candidate since {}", run.started_at)));
        }
        let Some(job) = &run.job else {
            return Ok(None);
        };
        Ok(match self.trainer.state(job).await? {
            JobState::Failed(why) => Some(why),
            JobState::Running | JobState::Succeeded => None,
        })
    }

    async fn abandon(
        &self,
        run: &TrainingRun,
        now: DateTime<Utc>,
        why: String,
    ) -> Result<Review, RetrainError> {
        tracing::warn!(run = %run.id, reason = %why, "training run abandoned");
        let review = Review {
            run: run.id.clone(),
            reviewed_at: now,
            outcome: Outcome::Abandoned,
            reason: why,
            candidate_version: None,
            champion_version: run.champion.clone(),
            candidate_roc_auc: None,
            champion_roc_auc: None,
        };
        self.runs.put_json(&run.keys().review(), &review).await?;
        Ok(review)
    }

    /// Judges a run's candidate and promotes it if it is sound and not
    /// worse than the champion. Idempotent: a reviewed run returns its review.
    pub async fn review(&self, id: &str, now: DateTime<Utc>) -> Result<Review, RetrainError> {
        if let Some(review) = self.runs.review(id).await? {
            return Ok(review);
        }
        let run = self
            .runs
            .manifest(id)
            .await?
            .ok_or_else(|| RetrainError::UnknownRun(id.to_owned()))?;
        let keys = run.keys();
        let read = |key: String| async move {
            self.runs
                .get(&key)
                .await?
                .ok_or_else(|| RetrainError::NoCandidate(id.to_owned()))
        };
        let card_json = read(keys.candidate(CANDIDATE_CARD)).await?;
        let model = read(keys.candidate("model.onnx")).await?;
        let features = self
            .runs
            .get(&keys.features())
            .await?
            .ok_or_else(|| RetrainError::UnknownRun(id.to_owned()))?;
        let (champion, _, _) = self.registry.load_serving().await?;
        let mut review = Review {
            run: run.id.clone(),
            reviewed_at: now,
            outcome: Outcome::Rejected,
            reason: String::new(),
            candidate_version: None,
            champion_version: champion.version().to_owned(),
            candidate_roc_auc: None,
            champion_roc_auc: None,
        };
        match self
            .judge(&run, &features, &model, &card_json, &champion, &mut review)
            .await?
        {
            Err(why) => review.reason = why,
            Ok(Promotion::Keep { reason }) => {
                self.registry.publish(&model, &card_json).await?;
                (review.outcome, review.reason) = (Outcome::Kept, reason);
            }
            Ok(Promotion::Promote { reason }) => {
                self.registry
                    .install(&model, &card_json, run.formal_customers, now)
                    .await?;
                (review.outcome, review.reason) = (Outcome::Promoted, reason);
            }
        }
        tracing::info!(run = %run.id, outcome = ?review.outcome, reason = %review.reason, "candidate reviewed");
        self.runs.put_json(&keys.review(), &review).await?;
        Ok(review)
    }

    /// `Err(why)` rejects the candidate; errors of the machinery (the
    /// store, ONNX Runtime missing) fail the invocation instead.
    async fn judge(
        &self,
        run: &TrainingRun,
        features: &[u8],
        model: &[u8],
        card_json: &[u8],
        champion: &ChurnModel,
        review: &mut Review,
    ) -> Result<Result<Promotion, String>, RetrainError> {
        let card = match ChurnModel::parse_card(card_json) {
            Ok(card) => card,
            Err(e) => return Ok(Err(e.to_string())),
        };
        review.candidate_version = Some(card.version.clone());
        let digest = hex::encode(Sha256::digest(features));
        if digest != run.features_sha256 {
            return Ok(Err(format!("the run's export changed: {digest}")));
        }
        if let Err(why) = review::check_identity(model, &card, &run.features_sha256) {
            return Ok(Err(why));
        }
        let candidate = match ChurnModel::load(model, card.clone()) {
            Ok((candidate, _)) => candidate,
            Err(ModelError::Runtime(why)) => return Err(ModelError::Runtime(why).into()),
            Err(other) => return Ok(Err(other.to_string())),
        };
        let holdout = match Holdout::from_csv(features) {
            Ok(holdout) if !holdout.is_empty() => holdout,
            Ok(_) => return Ok(Err("the export has no holdout rows".into())),
            Err(why) => return Ok(Err(why)),
        };
        let measured = match holdout.roc_auc(&candidate) {
            Ok(Some(auc)) => auc,
            Ok(None) => return Ok(Err("the holdout has a single class".into())),
            Err(e) => return Ok(Err(e.to_string())),
        };
        review.candidate_roc_auc = Some(measured);
        if let Err(why) = review::check_parity(&card, measured) {
            return Ok(Err(why));
        }
        let champion_auc = holdout.roc_auc(champion)?;
        review.champion_roc_auc = champion_auc;
        Ok(Ok(decide(champion_auc, measured)))
    }

    /// Points the serving model back at a stored version.
    pub async fn rollback(&self, version: &str, now: DateTime<Utc>) -> Result<(), RetrainError> {
        Ok(self.registry.rollback(version, now).await?)
    }
}
