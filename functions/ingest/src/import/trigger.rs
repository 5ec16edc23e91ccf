//! The S3 upload trigger: each created object under `imports/` starts (or,
//! for a continuation marker, resumes) an import. A run that must stop before
//! Lambda's time limit leaves a marker object whose own event continues it.

use std::time::Instant;

use aws_lambda_events::s3::S3Event;
use strata_domain::ports::blob::{self, BlobStore, PutOptions};
use strata_store::ImportedObject;

use super::run::{IMPORTS_PREFIX, ImportError, Importer, RunOutcome};

/// Continuation markers: `imports/_continue/<import id>/<run>.json`. Mapping
/// names cannot start with `_`, so no upload is mistaken for one.
pub const CONTINUE_PREFIX: &str = "imports/_continue/";

/// Handles every record of one S3 event. A retryable failure fails the whole
/// invocation so Lambda retries it (then sends it to the failure destination);
/// imports already finished are skipped, so a retry repeats nothing.
pub async fn handle(
    importer: &Importer,
    blobs: &dyn BlobStore,
    event: S3Event,
    worker: &str,
    deadline: Option<Instant>,
) -> Result<Vec<RunOutcome>, ImportError> {
    let mut outcomes = Vec::new();
    for record in event.records {
        let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
            continue;
        };
        let key = decode_key(&key);
        let outcome = if let Some(id) = continuation_of(&key) {
            importer.resume(id, worker, deadline).await?
        } else if key.starts_with(IMPORTS_PREFIX) {
            let object = ImportedObject {
                bucket,
                key: key.clone(),
                version: record
                    .s3
                    .object
                    .version_id
                    .filter(|v| !v.is_empty() && v != "null"),
                etag: record.s3.object.e_tag.unwrap_or_default(),
                size: record
                    .s3
                    .object
                    .size
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
            };
            importer.run(object, worker, deadline).await?
        } else {
            tracing::info!(%key, "not an import; ignored");
            continue;
        };
        if let RunOutcome::Paused(state) = &outcome {
            let marker = format!(
                "{CONTINUE_PREFIX}{}/{:06}.json",
                state.id, state.invocations
            );
            let body = serde_json::json!({ "import_id": state.id, "rows_done": state.rows_done })
                .to_string();
            blobs
                .put(&marker, blob::body_from(body), PutOptions::default())
                .await?;
            tracing::info!(import = %state.id, rows_done = state.rows_done, %marker, "import paused; continues from the marker's event");
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn continuation_of(key: &str) -> Option<&str> {
    key.strip_prefix(CONTINUE_PREFIX)?
        .split('/')
        .next()
        .filter(|id| !id.is_empty())
}

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("imports/customers/%E5%AE%A2%E6%88%B7+list.csv"),
            "imports/customers/客户 list.csv"
        );
        assert_eq!(decode_key("imports/a/100%25.csv"), "imports/a/100%.csv");
        assert_eq!(decode_key("imports/a/bad%zz"), "imports/a/bad%zz");
        assert_eq!(decode_key("trailing%"), "trailing%");
    }

    #[test]
    fn continuation_markers_name_their_import() {
        assert_eq!(
            continuation_of("imports/_continue/abc/000002.json"),
            Some("abc")
        );
        assert_eq!(continuation_of("imports/customers/x.csv"), None);
    }
}
