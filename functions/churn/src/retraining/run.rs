//! A training run in the blob store. Everything a run needs and leaves
//! sits under its id, so a run can be read back (and trained again) later:
//!
//! ```text
//! training/churn/<run>/features.csv            the export (Rust feature definitions)
//! training/churn/<run>/trainer/train.py         the trainer of this build, and its pinned
//! training/churn/<run>/trainer/requirements.txt   requirements
//! training/churn/<run>/run.json                 the manifest (written after the above)
//! training/churn/<run>/review.json              the outcome (written once, last)
//! models/churn/candidates/<run>/…               the trainer's output; model-card.json last
//! ```

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use strata_domain::churn::RetrainReason;
use strata_domain::ports::blob::{self, BlobError, BlobStore, PutOptions};

use crate::registry::MODEL_NAME;

/// The trainer this build ships with: the CodeBuild job runs the copy the
/// run carries, so features and trainer always come from the same build.
pub const TRAIN_SCRIPT: &[u8] = include_bytes!("../../training/train.py");
pub const TRAIN_REQUIREMENTS: &[u8] = include_bytes!("../../training/requirements.txt");

/// The files a trainer leaves in a candidate, the card last.
pub const CANDIDATE_FILES: [&str; 4] = [
    "model.onnx",
    "evaluation.json",
    "golden.json",
    "model-card.json",
];
pub const CANDIDATE_CARD: &str = "model-card.json";

fn runs_prefix() -> String {
    format!("training/{MODEL_NAME}/")
}

fn candidates_prefix() -> String {
    format!("models/{MODEL_NAME}/candidates/")
}

/// Where a run's objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKeys {
    pub id: String,
}

impl RunKeys {
    pub fn features(&self) -> String {
        format!("{}{}/features.csv", runs_prefix(), self.id)
    }
    pub fn trainer(&self, file: &str) -> String {
        format!("{}{}/trainer/{file}", runs_prefix(), self.id)
    }
    pub fn manifest(&self) -> String {
        format!("{}{}/run.json", runs_prefix(), self.id)
    }
    pub fn review(&self) -> String {
        format!("{}{}/review.json", runs_prefix(), self.id)
    }
    /// The prefix a trainer writes the candidate under (ends in `/`).
    pub fn candidate_prefix(&self) -> String {
        format!("{}{}/", candidates_prefix(), self.id)
    }
    pub fn candidate(&self, file: &str) -> String {
        format!("{}{file}", self.candidate_prefix())
    }
}

/// A run id: the start time and 8 random hex digits
/// (`20261122T030000Z-1a2b3c4d`), so ids sort by start time.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    // A v7 UUID ends in random bits.
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        &uuid[uuid.len() - 8..]
    )
}

fn is_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The run whose candidate card an object key is (an S3 ObjectCreated event).
pub fn run_of_candidate_card(key: &str) -> Option<String> {
    let rest = key.strip_prefix(&candidates_prefix())?;
    let id = rest.strip_suffix(&format!("/{CANDIDATE_CARD}"))?;
    is_run_id(id).then(|| id.to_owned())
}

/// The manifest of a run, written when its features are exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub reason: RetrainReason,
    /// Formal customers when the features were exported; a promoted
    /// candidate's pointer records it for the next growth check.
    pub formal_customers: u64,
    pub features_sha256: String,
    pub rows: usize,
    pub holdout_rows: usize,
    pub holdout_cutoff: String,
    /// Share of the holdout's customers who churned within the horizon: near
    /// 0 or 1, the label says little and the horizon wants changing.
    #[serde(default)]
    pub holdout_churned_share: f64,
    pub horizon_days: u32,
    /// The version serving when the run started.
    pub champion: String,
    /// The trainer's job id (a CodeBuild build id), once started.
    pub job: Option<String>,
}

impl TrainingRun {
    pub fn keys(&self) -> RunKeys {
        RunKeys {
            id: self.id.clone(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The candidate serves now.
    Promoted,
    /// The candidate was sound but worse than the champion.
    Kept,
    /// The candidate failed a check (digest, data, parity, loading).
    Rejected,
    /// No candidate came: the training job failed or timed out.
    Abandoned,
}

/// The outcome of a run, written once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub run: String,
    pub reviewed_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: String,
    pub candidate_version: Option<String>,
    pub champion_version: String,
    /// Both measured by this build (ONNX Runtime) on the run's holdout rows.
    pub candidate_roc_auc: Option<f64>,
    pub champion_roc_auc: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("`{key}` is not readable: {why}")]
    Format { key: String, why: String },
}

/// A run's objects in the blob store.
#[derive(Clone)]
pub struct Runs {
    blobs: Arc<dyn BlobStore>,
}

impl Runs {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Runs { blobs }
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        let options = PutOptions {
            content_type: Some(content_type.to_owned()),
            ..PutOptions::default()
        };
        self.blobs
            .put(key, blob::body_from(bytes), options)
            .await
            .map(|_| ())
    }

    pub async fn put_json(&self, key: &str, value: &impl Serialize) -> Result<(), RunError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| RunError::Format {
            key: key.to_owned(),
            why: e.to_string(),
        })?;
        Ok(self.put(key, bytes, "application/json").await?)
    }

    /// An object's bytes, `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self.blobs.get(key).await {
            Ok(object) => Ok(Some(blob::collect(object.body).await?)),
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RunError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RunError::Format {
                key: key.to_owned(),
                why: e.to_string(),
            })
    }

    pub async fn manifest(&self, id: &str) -> Result<Option<TrainingRun>, RunError> {
        self.get_json(&RunKeys { id: id.to_owned() }.manifest())
            .await
    }

    pub async fn review(&self, id: &str) -> Result<Option<Review>, RunError> {
        self.get_json(&RunKeys { id: id.to_owned() }.review()).await
    }

    /// The newest run with a manifest.
    pub async fn latest(&self) -> Result<Option<TrainingRun>, RunError> {
        let prefix = runs_prefix();
        let mut newest: Option<String> = None;
        let mut continuation = None;
        loop {
            let page = self.blobs.list(&prefix, continuation, 1_000).await?;
            for object in &page.objects {
                let Some(id) = object
                    .key
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix("/run.json"))
                else {
                    continue;
                };
                if is_run_id(id) && newest.as_deref().is_none_or(|n| id > n) {
                    newest = Some(id.to_owned());
                }
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        match newest {
            Some(id) => self.manifest(&id).await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_card_keys_name_their_run() {
        let keys = RunKeys {
            id: "20261122T030000Z-1a2b3c4d".into(),
        };
        assert_eq!(
            run_of_candidate_card(&keys.candidate(CANDIDATE_CARD)).as_deref(),
            Some("20261122T030000Z-1a2b3c4d")
        );
        assert_eq!(run_of_candidate_card(&keys.candidate("model.onnx")), None);
        assert_eq!(
            run_of_candidate_card("models/churn/candidates/../x/model-card.json"),
            None
        );
        assert_eq!(
            run_of_candidate_card("models/churn/abc/model-card.json"),
            None
        );
        let id = new_run_id(DateTime::<Utc>::UNIX_EPOCH);
        assert!(id.starts_with("19700101T000000Z-") && is_run_id(&id));
    }
}
