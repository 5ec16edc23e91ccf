//! `strata import FILE --mapping NAME`: one import on the embedded store,
//! as the import function runs it on an upload (the same trigger, importer
//! and report), printing the report; exits non-zero unless it completed.

use std::path::Path;

use anyhow::{Context, bail};
use strata_domain::ReadOptions;
use strata_domain::ports::blob::{self, PutOptions};
use strata_embedded::EmbeddedBackend;
use strata_ingest::import::run::{self, RunOutcome};
use strata_ingest::import::trigger;

pub async fn run(file: &Path, mapping: &str, data_dir: &Path) -> anyhow::Result<()> {
    if mapping.is_empty() || mapping.starts_with(['_', '.']) || mapping.contains('/') {
        bail!(
            "--mapping: `{mapping}` is not a mapping name (cdnow, superstore, or one uploaded as mappings/<name>.json)"
        );
    }
    let name = file
        .file_name()
        .with_context(|| format!("{} names no file", file.display()))?
        .to_string_lossy();
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let backend = EmbeddedBackend::open(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let store = strata_local::host::Store::open(backend, ReadOptions::default()).await?;
    let key = format!("imports/{mapping}/{name}");
    let receipt = store
        .blobs
        .put(&key, blob::body_from(bytes), PutOptions::default())
        .await?;
    let event = strata_local::host::object_created(
        "strata-local-imports",
        &key,
        receipt.size,
        &receipt.etag,
    )?;
    let outcomes =
        trigger::handle(&store.importer, store.blobs.as_ref(), event, "cli", None).await?;
    let mut completed = true;
    for outcome in outcomes {
        let (state, status) = match outcome {
            RunOutcome::Completed(state) => (state, "completed".to_owned()),
            RunOutcome::Paused(state) => (state, "paused".to_owned()),
            RunOutcome::Failed(state) => (state, "failed".to_owned()),
            RunOutcome::Skipped { state, why } => (state, format!("skipped: {why}")),
        };
        // A file imported before is skipped with its earlier report: not a failure.
        completed &= status == "completed" || status.starts_with("skipped");
        println!("{}", serde_json::to_string_pretty(&run::report(&state))?);
        if status != "completed" {
            eprintln!("import of {key}: {status}");
        }
    }
    if !completed {
        bail!("the import did not complete");
    }
    Ok(())
}
