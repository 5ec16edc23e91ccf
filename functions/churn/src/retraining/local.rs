//! The trainer on one machine: what the CodeBuild job does, done here with
//! the training venv's Python (`.venv-train`, made by `cargo xtask train`).
//! It runs to the end before `start` returns, so the candidate is in the
//! store when the service looks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use strata_domain::ports::blob::BlobStore;

use super::run::{CANDIDATE_FILES, Runs, TrainingRun};
use super::trainer::{JobState, Trainer, TrainerError};

pub struct LocalTrainer {
    runs: Runs,
    python: PathBuf,
    /// A trainer script to run instead of the copy the run carries.
    script: Option<PathBuf>,
    work_dir: PathBuf,
}

impl LocalTrainer {
    /// `python` is the training venv's interpreter; runs are unpacked under
    /// `work_dir/<run id>/`.
    pub fn new(blobs: Arc<dyn BlobStore>, python: PathBuf, work_dir: PathBuf) -> Self {
        LocalTrainer {
            runs: Runs::new(blobs),
            python,
            script: None,
            work_dir,
        }
    }

    pub fn with_script(mut self, script: PathBuf) -> Self {
        self.script = Some(script);
        self
    }

    async fn fetch(&self, key: &str, to: &Path) -> Result<(), TrainerError> {
        let bytes = self
            .runs
            .get(key)
            .await
            .map_err(|e| TrainerError::Start(e.to_string()))?
            .ok_or_else(|| TrainerError::Start(format!("the run has no `{key}`")))?;
        std::fs::write(to, bytes).map_err(|e| TrainerError::Start(format!("{}: {e}", to.display())))
    }
}

#[async_trait]
impl Trainer for LocalTrainer {
    async fn start(&self, run: &TrainingRun) -> Result<String, TrainerError> {
        let keys = run.keys();
        let dir = self.work_dir.join(&run.id);
        let out = dir.join("candidate");
        std::fs::create_dir_all(&out)
            .map_err(|e| TrainerError::Start(format!("{}: {e}", out.display())))?;
        let features = dir.join("features.csv");
        self.fetch(&keys.features(), &features).await?;
        let script = match &self.script {
            Some(script) => script.clone(),
            None => {
                let script = dir.join("train.py");
                self.fetch(&keys.trainer("train.py"), &script).await?;
                script
            }
        };
        let mut command = Command::new(&self.python);
        command
            .arg(&script)
            .arg("--features")
            .arg(&features)
            .arg("--out")
            .arg(&out)
            .arg("--source")
            .arg(format!("strata training run {}", run.id))
            .arg("--horizon-days")
            .arg(run.horizon_days.to_string());
        let status = tokio::task::spawn_blocking(move || command.status())
            .await
            .map_err(|e| TrainerError::Start(e.to_string()))?
            .map_err(|e| TrainerError::Start(format!("{}: {e}", self.python.display())))?;
        if !status.success() {
            return Err(TrainerError::Failed(format!(
                "{} exited with {status}",
                script.display()
            )));
        }
        for file in CANDIDATE_FILES {
            let path = out.join(file);
            let bytes = std::fs::read(&path)
                .map_err(|e| TrainerError::Failed(format!("{}: {e}", path.display())))?;
            self.runs
                .put(&keys.candidate(file), bytes, "application/octet-stream")
                .await
                .map_err(|e| TrainerError::Failed(e.to_string()))?;
        }
        Ok(format!("local:{}", run.id))
    }

    async fn state(&self, _job: &str) -> Result<JobState, TrainerError> {
        // `start` returns only once training has finished or failed.
        Ok(JobState::Succeeded)
    }
}
