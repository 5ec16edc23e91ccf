//! The port that trains a challenger. Training runs in Python
//! (scikit-learn, skl2onnx), which a Rust Lambda cannot host, so the job
//! only starts it: in AWS a CodeBuild build, locally the trainer script in
//! the project's training venv. Either way the trainer reads the run's
//! exported features and writes the candidate under
//! `models/churn/candidates/<run id>/`, its card last.

use async_trait::async_trait;

use super::run::TrainingRun;

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error("the training job could not be started: {0}")]
    Start(String),
    #[error("the training job's state could not be read: {0}")]
    State(String),
    #[error("the training job failed: {0}")]
    Failed(String),
}

/// A started training job as the trainer knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    /// Finished well: the candidate is (or is about to be) in the store.
    Succeeded,
    Failed(String),
}

#[async_trait]
pub trait Trainer: Send + Sync {
    /// Starts training on the run's exported features; returns the job's
    /// id (a CodeBuild build id, …), kept in the run's manifest.
    async fn start(&self, run: &TrainingRun) -> Result<String, TrainerError>;

    /// The state of a job this trainer started.
    async fn state(&self, job: &str) -> Result<JobState, TrainerError>;
}
