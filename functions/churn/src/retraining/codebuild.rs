//! The trainer in AWS: a CodeBuild project (infra/template.yaml) whose
//! buildspec fetches the run's features and trainer from the bucket,
//! installs the pinned requirements, trains, and uploads the candidate.
//! A build per run; the run id travels as an environment variable.

use async_trait::async_trait;
use aws_sdk_codebuild::Client;
use aws_sdk_codebuild::types::{EnvironmentVariable, EnvironmentVariableType, StatusType};

use super::run::TrainingRun;
use super::trainer::{JobState, Trainer, TrainerError};

/// The variables the buildspec reads.
pub const RUN_ID_VAR: &str = "STRATA_RUN_ID";
pub const HORIZON_VAR: &str = "STRATA_HORIZON_DAYS";

pub struct CodeBuildTrainer {
    client: Client,
    project: String,
}

impl CodeBuildTrainer {
    pub fn new(client: Client, project: impl Into<String>) -> Self {
        CodeBuildTrainer {
            client,
            project: project.into(),
        }
    }
}

fn variable(name: &str, value: &str) -> Result<EnvironmentVariable, TrainerError> {
    EnvironmentVariable::builder()
        .name(name)
        .value(value)
        .r#type(EnvironmentVariableType::Plaintext)
        .build()
        .map_err(|e| TrainerError::Start(e.to_string()))
}

#[async_trait]
impl Trainer for CodeBuildTrainer {
    async fn start(&self, run: &TrainingRun) -> Result<String, TrainerError> {
        let output = self
            .client
            .start_build()
            .project_name(&self.project)
            .environment_variables_override(variable(RUN_ID_VAR, &run.id)?)
            .environment_variables_override(variable(HORIZON_VAR, &run.horizon_days.to_string())?)
            .send()
            .await
            .map_err(|e| {
                TrainerError::Start(format!(
                    "CodeBuild project {}: {}",
                    self.project,
                    aws_sdk_codebuild::error::DisplayErrorContext(&e)
                ))
            })?;
        output
            .build_value()
            .and_then(|b| b.id())
            .map(str::to_owned)
            .ok_or_else(|| TrainerError::Start("CodeBuild returned no build id".into()))
    }

    async fn state(&self, job: &str) -> Result<JobState, TrainerError> {
        let output = self
            .client
            .batch_get_builds()
            .ids(job)
            .send()
            .await
            .map_err(|e| {
                TrainerError::State(aws_sdk_codebuild::error::DisplayErrorContext(&e).to_string())
            })?;
        let Some(build) = output.builds().first() else {
            return Ok(JobState::Failed(format!("CodeBuild knows no build {job}")));
        };
        Ok(match build.build_status() {
            Some(StatusType::InProgress) | None => JobState::Running,
            Some(StatusType::Succeeded) => JobState::Succeeded,
            Some(other) => JobState::Failed(format!("build {job} ended {}", other.as_str())),
        })
    }
}
