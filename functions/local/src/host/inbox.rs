//! The import folder standing in for the imports bucket's S3 trigger: a
//! file at `<folder>/<mapping>/<name>` is stored as `imports/<mapping>/<name>`
//! and handed to the import trigger in an S3 ObjectCreated event, as S3
//! would; then it moves to `<folder>/_done/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use chrono::Utc;
use serde_json::json;
use strata_domain::ports::blob::{self, PutOptions};
use strata_ingest::import::run::RunOutcome;
use strata_ingest::import::trigger;

use super::Host;

/// Where processed files go, inside the folder (mapping names never start
/// with `_`, so it is never taken for one).
const DONE: &str = "_done";
/// A file still changing this recently may be mid-copy; wait for it.
const SETTLE: Duration = Duration::from_secs(1);

pub struct Inbox {
    folder: PathBuf,
}

impl Inbox {
    pub fn new(folder: &Path) -> anyhow::Result<Inbox> {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating the import folder {}", folder.display()))?;
        Ok(Inbox {
            folder: folder.to_owned(),
        })
    }

    /// Polls the folder until the task is dropped.
    pub async fn watch(self, host: Arc<Host>, every: Duration) {
        loop {
            match self.ready_files() {
                Ok(files) => {
                    for (key, path) in files {
                        if let Err(error) = self.import(&host, &key, &path).await {
                            tracing::error!(%key, error = %format!("{error:#}"), "import from the folder failed; the file stays");
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "reading the import folder")
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Files that stopped changing, by the object key they become.
    pub fn ready_files(&self) -> anyhow::Result<BTreeMap<String, PathBuf>> {
        let mut ready = BTreeMap::new();
        for mapping in std::fs::read_dir(&self.folder)? {
            let mapping = mapping?;
            let name = mapping.file_name().to_string_lossy().into_owned();
            if !mapping.file_type()?.is_dir() || name.starts_with(['_', '.']) {
                continue;
            }
            for file in std::fs::read_dir(mapping.path())? {
                let file = file?;
                let file_name = file.file_name().to_string_lossy().into_owned();
                let metadata = file.metadata()?;
                let settled = metadata
                    .modified()
                    .ok()
                    .and_then(|at| SystemTime::now().duration_since(at).ok())
                    .is_some_and(|age| age >= SETTLE);
                if metadata.is_file() && settled && !file_name.starts_with('.') {
                    ready.insert(format!("imports/{name}/{file_name}"), file.path());
                }
            }
        }
        Ok(ready)
    }

    /// Stores the file and runs the trigger on its ObjectCreated event.
    pub async fn import(
        &self,
        host: &Host,
        key: &str,
        path: &Path,
    ) -> anyhow::Result<Vec<RunOutcome>> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let receipt = host
            .blobs
            .put(key, blob::body_from(bytes), PutOptions::default())
            .await?;
        let event = object_created("strata-local-imports", key, receipt.size, &receipt.etag)?;
        let outcomes =
            trigger::handle(&host.importer, host.blobs.as_ref(), event, "local", None).await?;
        for outcome in &outcomes {
            tracing::info!(%key, outcome = ?summary(outcome), "imported from the folder");
        }
        let done = self
            .folder
            .join(DONE)
            .join(key.trim_start_matches("imports/"));
        if let Some(parent) = done.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(path, &done)
            .with_context(|| format!("moving {} to {}", path.display(), done.display()))?;
        Ok(outcomes)
    }
}

fn summary(outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Completed(state) => format!(
            "completed: {} rows read, {} rejected",
            state.counts.rows_read, state.counts.rejected
        ),
        RunOutcome::Skipped { why, .. } => format!("skipped: {why}"),
        RunOutcome::Failed(state) => format!("failed: {}", state.error.clone().unwrap_or_default()),
        RunOutcome::Paused(state) => format!("paused after {} rows", state.rows_done),
    }
}

/// The event S3 sends for a new object (keys URL-encoded, `+` for spaces).
pub fn object_created(bucket: &str, key: &str, size: u64, etag: &str) -> anyhow::Result<S3Event> {
    Ok(serde_json::from_value(json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": "local" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": { "x-amz-request-id": "local", "x-amz-id-2": "local" },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "strata-imports",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": { "principalId": "local" },
                    "arn": format!("arn:aws:s3:::{bucket}")
                },
                "object": { "key": url_encode(key), "size": size, "eTag": etag, "sequencer": "0" }
            }
        }]
    }))?)
}

fn url_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
