//! Runs one import: an uploaded object, read row by row through its mapping,
//! applied in chunks, with a checkpoint after each chunk so a run that must
//! stop (time, crash) is resumed by the next without losing or repeating rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use strata_domain::FieldError;
use strata_domain::customer::Origin;
use strata_domain::ports::blob::{self, BlobError, BlobStore, PutOptions};
use strata_rows::{Fields, Row};
use strata_store::{
    Begun, ImportCounts, ImportRepository, ImportState, ImportStatus, ImportedObject, StoreError,
};
use tokio::sync::mpsc;

use super::mapping::{self, FormatKind, Mapping, RecordType};
use super::record::{self, Values};
use super::source::{self, Event};
use crate::ingest::{Created, IngestError, Ingestor, Outcome, OwnerCache, Pending, Summaries};

/// Where uploads that start an import go: `imports/<mapping>/<file>`.
pub const IMPORTS_PREFIX: &str = "imports/";
/// Uploaded custom mappings: `mappings/<name>.json`.
pub const MAPPINGS_PREFIX: &str = "mappings/";
/// Reports and rejection files: `reports/<import id>/…`.
pub const REPORTS_PREFIX: &str = "reports/";

/// How long a run may hold an import before another may take it over; longer
/// than a Lambda invocation can last (15 minutes).
const LEASE: chrono::Duration = chrono::Duration::minutes(16);

#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed(ImportState),
    /// Stopped at a checkpoint to stay inside the time limit: continue it.
    Paused(ImportState),
    /// Nothing done: finished before, or another run holds it.
    Skipped {
        state: ImportState,
        why: &'static str,
    },
    /// Cannot be imported (unknown mapping, unreadable file); see `error`.
    Failed(ImportState),
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Blob(#[from] BlobError),
    #[error("import {0} is unknown")]
    Unknown(String),
}

impl ImportError {
    /// Whether running the same event again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ImportError::Ingest(IngestError::Store(e)) | ImportError::Store(e) => e.is_retryable(),
            ImportError::Ingest(IngestError::Contended(_)) => true,
            ImportError::Blob(e) => e.is_retryable(),
            ImportError::Unknown(_) => false,
        }
    }
}

/// A rejected row as written to the rejection file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub row: u64,
    pub line: u64,
    pub raw: String,
    pub errors: Vec<FieldError>,
}

#[derive(Clone)]
pub struct Importer {
    ingestor: Ingestor,
    blobs: Arc<dyn BlobStore>,
    imports: ImportRepository,
    /// Rows applied together; a chunk is also the checkpoint interval. Each
    /// chunk reads and saves the profiles of the customers it touches, so
    /// larger chunks do that less often; 2,000 rows hold a few MB and take
    /// seconds against DynamoDB, so a checkpoint is never far back.
    pub chunk_rows: usize,
    /// Stop this long before the deadline.
    pub safety_margin: Duration,
    /// Larger uploads are refused whole, before any row is read
    /// (`STRATA_IMPORT_MAX_BYTES`).
    pub max_object_bytes: u64,
}

/// The default largest upload: 2 GiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The id of an import: one per object version, so a repeated event for the
/// same upload finds the same import.
pub fn import_id(object: &ImportedObject) -> String {
    let mut hasher = Sha256::new();
    for part in [
        object.bucket.as_str(),
        object.key.as_str(),
        object.version.as_deref().unwrap_or(""),
        object.etag.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// `imports/<mapping>/…` → the mapping's name.
pub fn mapping_name(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(IMPORTS_PREFIX)?;
    let (name, file) = rest.split_once('/')?;
    (!name.is_empty() && !file.is_empty()).then_some(name)
}

impl Importer {
    pub fn new(ingestor: Ingestor, blobs: Arc<dyn BlobStore>, imports: ImportRepository) -> Self {
        Importer {
            ingestor,
            blobs,
            imports,
            chunk_rows: 2_000,
            safety_margin: Duration::from_secs(60),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
        }
    }

    pub fn imports(&self) -> &ImportRepository {
        &self.imports
    }

    /// Starts (or resumes) the import of an uploaded object.
    pub async fn run(
        &self,
        object: ImportedObject,
        worker: &str,
        deadline: Option<Instant>,
    ) -> Result<RunOutcome, ImportError> {
        let now = Utc::now();
        let fresh = ImportState {
            id: import_id(&object),
            mapping: mapping_name(&object.key).unwrap_or_default().to_owned(),
            object,
            status: ImportStatus::Running,
            counts: ImportCounts::default(),
            rows_done: 0,
            invocations: 0,
            rejection_files: 0,
            report_key: None,
            error: None,
            started_at: now,
            updated_at: now,
            finished_at: None,
            lease_owner: None,
            lease_until: None,
            version: 0,
        };
        let state = match self.imports.begin(fresh).await? {
            Begun::Started(state) | Begun::Existing(state) => state,
        };
        self.continue_run(state, worker, deadline).await
    }

    /// Continues an import by id (a continuation after a pause).
    pub async fn resume(
        &self,
        id: &str,
        worker: &str,
        deadline: Option<Instant>,
    ) -> Result<RunOutcome, ImportError> {
        let state = self
            .imports
            .get(id)
            .await?
            .ok_or_else(|| ImportError::Unknown(id.to_owned()))?;
        self.continue_run(state, worker, deadline).await
    }

    async fn continue_run(
        &self,
        state: ImportState,
        worker: &str,
        deadline: Option<Instant>,
    ) -> Result<RunOutcome, ImportError> {
        let now = Utc::now();
        if state.status != ImportStatus::Running {
            return Ok(RunOutcome::Skipped {
                state,
                why: "the import has finished",
            });
        }
        if state.lease_until.is_some_and(|until| until > now)
            && state.lease_owner.as_deref() != Some(worker)
        {
            return Ok(RunOutcome::Skipped {
                state,
                why: "another run is importing this object",
            });
        }
        let mut claimed = state;
        claimed.lease_owner = Some(worker.to_owned());
        claimed.lease_until = Some(now + LEASE);
        claimed.invocations += 1;
        claimed.updated_at = now;
        let mut state = match self.imports.save(&claimed).await {
            Ok(state) => state,
            Err(StoreError::Conflict { .. }) => {
                return Ok(RunOutcome::Skipped {
                    state: claimed,
                    why: "another run took the import meanwhile",
                });
            }
            Err(other) => return Err(other.into()),
        };
        if state.rows_done == 0 && state.object.size > self.max_object_bytes {
            let why = format!(
                "the upload is {} bytes, over the import limit of {} bytes; nothing was imported: split the file or raise STRATA_IMPORT_MAX_BYTES",
                state.object.size, self.max_object_bytes
            );
            return self.fail(state, why).await;
        }
        let mapping = match self.mapping(&state.mapping).await {
            Ok(mapping) => mapping,
            Err(why) => return self.fail(state, why).await,
        };
        let body = match self.blobs.get(&state.object.key).await {
            Ok(object)
                if object.meta.etag.trim_matches('"') != state.object.etag.trim_matches('"') =>
            {
                let why = "the object was replaced after this upload; the newer upload is imported by its own event".to_owned();
                return self.fail(state, why).await;
            }
            Ok(object) => object.body,
            Err(BlobError::NotFound(_)) => {
                return self
                    .fail(state, "the uploaded object no longer exists".into())
                    .await;
            }
            Err(other) => return Err(other.into()),
        };
        let mut events = source::read_rows(body, read_options(&mapping));
        let header = match events.recv().await {
            Some(Event::Header(header)) => header,
            Some(Event::Failed(why)) => return self.fail(state, why).await,
            _ => {
                return self
                    .fail(state, "the file ended before its header".into())
                    .await;
            }
        };
        let bound = if matches!(mapping.format.kind, FormatKind::JsonLines) {
            Default::default()
        } else {
            match mapping.bind(&header) {
                Ok(bound) => bound,
                Err(error) => return self.fail(state, error.to_string()).await,
            }
        };
        let reader = RowReader {
            mapping: &mapping,
            header,
            bound,
            etag: short_etag(&state.object.etag),
            origin: Origin {
                source: format!("import:{}", mapping.source),
                at: state.started_at,
            },
        };
        let mut cache = OwnerCache::default();
        let mut peeked: Option<Entry> = None;
        loop {
            let (chunk, end) = self
                .next_chunk(&mut events, &mut peeked, &reader, state.rows_done)
                .await;
            if !chunk.is_empty() {
                state = self.apply_chunk(state, chunk, &mut cache).await?;
            }
            match end {
                Some(ChunkEnd::Done { blank_lines }) => {
                    state.counts.blank_lines = blank_lines;
                    return self
                        .finish(state, ImportStatus::Completed, None)
                        .await
                        .map(RunOutcome::Completed);
                }
                Some(ChunkEnd::Failed(why)) => return self.fail(state, why).await,
                None => {}
            }
            if deadline.is_some_and(|d| Instant::now() + self.safety_margin >= d) {
                drop(events); // stops the reader thread
                return Ok(RunOutcome::Paused(state));
            }
        }
    }

    async fn mapping(&self, name: &str) -> Result<Mapping, String> {
        if name.is_empty() {
            return Err(format!(
                "uploads must go under {IMPORTS_PREFIX}<mapping>/ (e.g. imports/customers/file.csv)"
            ));
        }
        let mapping = match mapping::built_in(name) {
            Some(mapping) => mapping,
            None => {
                let key = format!("{MAPPINGS_PREFIX}{name}.json");
                let object = self
                    .blobs
                    .get(&key)
                    .await
                    .map_err(|e| format!("no mapping named `{name}` ({key}): {e}"))?;
                let bytes = blob::collect(object.body)
                    .await
                    .map_err(|e| format!("reading {key}: {e}"))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{key} is not a valid mapping: {e}"))?
            }
        };
        mapping.check().map_err(|e| e.to_string())?;
        Ok(mapping)
    }

    /// Gathers the next rows to apply (skipping rows a previous run did), and
    /// keeps an order's lines together even past the chunk size.
    async fn next_chunk(
        &self,
        events: &mut mpsc::Receiver<Event>,
        peeked: &mut Option<Entry>,
        reader: &RowReader<'_>,
        rows_done: u64,
    ) -> (Vec<Entry>, Option<ChunkEnd>) {
        let mut chunk: Vec<Entry> = peeked.take().into_iter().collect();
        loop {
            let Some(event) = events.recv().await else {
                return (
                    chunk,
                    Some(ChunkEnd::Failed(
                        "the file reader stopped unexpectedly".into(),
                    )),
                );
            };
            let entry = match event {
                Event::Item(Ok(row)) if row.number <= rows_done => continue,
                Event::Item(Err(error)) if error.number <= rows_done => continue,
                Event::Item(Ok(row)) => reader.entry(row),
                Event::Item(Err(error)) => Entry::Rejected(Rejection {
                    row: error.number,
                    line: error.line,
                    raw: error.raw,
                    errors: vec![FieldError::new(
                        error.field.unwrap_or_else(|| "row".into()),
                        error.code,
                        error.reason,
                    )],
                }),
                Event::End { blank_lines } => return (chunk, Some(ChunkEnd::Done { blank_lines })),
                Event::Failed(why) => return (chunk, Some(ChunkEnd::Failed(why))),
                Event::Header(_) => continue,
            };
            if chunk.len() >= self.chunk_rows && !continues_order(chunk.last(), &entry) {
                *peeked = Some(entry);
                return (chunk, None);
            }
            chunk.push(entry);
        }
    }

    async fn apply_chunk(
        &self,
        mut state: ImportState,
        chunk: Vec<Entry>,
        cache: &mut OwnerCache,
    ) -> Result<ImportState, ImportError> {
        let last_row = chunk
            .iter()
            .map(Entry::row)
            .max()
            .unwrap_or(state.rows_done);
        let mut rejections = Vec::new();
        let mut pending = Vec::new();
        let mut raws = Vec::new();
        for entry in chunk {
            match entry {
                Entry::Rejected(rejection) => rejections.push(rejection),
                Entry::Pending {
                    pending: p,
                    line,
                    raw,
                } => {
                    raws.push((p.row, line, raw));
                    pending.push(*p);
                }
            }
        }
        // Summaries move forward by the chunk's own records, marked with this
        // import's rows, so a chunk retried after a crash counts once.
        let summaries = Summaries::Incremental {
            import: state.id.clone(),
        };
        let (outcomes, created) = self.ingestor.apply(pending, cache, &summaries).await?;
        let counts = &mut state.counts;
        counts.rows_read += (outcomes.len() + rejections.len()) as u64;
        counts.rejected += rejections.len() as u64;
        for (outcome, (row, line, raw)) in outcomes.into_iter().zip(raws) {
            match outcome {
                Outcome::Accepted { .. } => counts.accepted += 1,
                Outcome::Merged { .. } => counts.merged += 1,
                Outcome::Duplicate { .. } => counts.duplicates += 1,
                Outcome::Rejected(invalid) => {
                    counts.rejected += 1;
                    rejections.push(Rejection {
                        row,
                        line,
                        raw,
                        errors: invalid.errors,
                    });
                }
            }
        }
        add_created(counts, created);
        if !rejections.is_empty() {
            rejections.sort_by_key(|r| r.row);
            // Named by the chunk's first rejected row, so a chunk retried
            // after a crash writes the same file again, and key order is
            // row order.
            let key = format!(
                "{}{:012}.jsonl",
                rejection_prefix(&state.id),
                rejections[0].row
            );
            let mut body = Vec::new();
            for rejection in &rejections {
                serde_json::to_writer(&mut body, rejection)
                    .map_err(|e| StoreError::Encode(e.to_string()))?;
                body.push(b'\n');
            }
            let options = PutOptions {
                content_type: Some("application/x-ndjson".into()),
                ..PutOptions::default()
            };
            self.blobs.put(&key, blob::body_from(body), options).await?;
            state.rejection_files += 1;
        }
        state.rows_done = last_row;
        state.updated_at = Utc::now();
        state.lease_until = Some(state.updated_at + LEASE);
        Ok(self.imports.save(&state).await?)
    }

    async fn fail(&self, state: ImportState, why: String) -> Result<RunOutcome, ImportError> {
        tracing::warn!(import = %state.id, key = %state.object.key, %why, "import failed");
        self.finish(state, ImportStatus::Failed, Some(why))
            .await
            .map(RunOutcome::Failed)
    }

    async fn finish(
        &self,
        mut state: ImportState,
        status: ImportStatus,
        error: Option<String>,
    ) -> Result<ImportState, ImportError> {
        let now = Utc::now();
        state.status = status;
        state.error = error;
        state.finished_at = Some(now);
        state.updated_at = now;
        state.lease_until = None;
        let key = format!("{REPORTS_PREFIX}{}/report.json", state.id);
        state.report_key = Some(key.clone());
        let body = serde_json::to_vec_pretty(&report(&state))
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        let options = PutOptions {
            content_type: Some("application/json".into()),
            ..PutOptions::default()
        };
        self.blobs.put(&key, blob::body_from(body), options).await?;
        let state = self.imports.save(&state).await?;
        tracing::info!(import = %state.id, key = %state.object.key, counts = ?state.counts, status = ?state.status, "import finished");
        Ok(state)
    }
}

/// The import report: the state an operator reads, as JSON.
pub fn report(state: &ImportState) -> serde_json::Value {
    serde_json::json!({
        "import_id": state.id,
        "object": state.object,
        "mapping": state.mapping,
        "status": state.status,
        "error": state.error,
        "rows": {
            "read": state.counts.rows_read,
            "accepted": state.counts.accepted,
            "merged": state.counts.merged,
            "duplicates": state.counts.duplicates,
            "rejected": state.counts.rejected,
            "reconciles": state.counts.reconciles(),
        },
        "blank_lines": state.counts.blank_lines,
        "created": {
            "customers": state.counts.customers_created,
            "customers_merged": state.counts.customers_merged,
            "orders": state.counts.orders_created,
            "interactions": state.counts.interactions_created,
            "reviews": state.counts.reviews_created,
            "products_upserted": state.counts.products_upserted,
        },
        "rejections": {
            "prefix": rejection_prefix(&state.id),
            "files": state.rejection_files,
        },
        "invocations": state.invocations,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
    })
}

/// Where an import's rejection files are kept: one JSON Lines file per chunk
/// with rejected rows, `<prefix><first rejected row, 12 digits>.jsonl`.
pub fn rejection_prefix(import: &str) -> String {
    format!("{REPORTS_PREFIX}{import}/rejected/")
}

/// The keys of an import's rejection files, in row order.
pub async fn rejection_files(
    blobs: &dyn BlobStore,
    import: &str,
) -> Result<Vec<String>, BlobError> {
    let prefix = rejection_prefix(import);
    let mut keys = Vec::new();
    let mut continuation = None;
    loop {
        let page = blobs.list(&prefix, continuation, 1000).await?;
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next {
            Some(next) => continuation = Some(next),
            None => return Ok(keys),
        }
    }
}

fn add_created(counts: &mut ImportCounts, created: Created) {
    counts.customers_created += created.customers;
    counts.customers_merged += created.customers_merged;
    counts.orders_created += created.orders;
    counts.interactions_created += created.interactions;
    counts.reviews_created += created.reviews;
    counts.products_upserted += created.products;
}

fn read_options(mapping: &Mapping) -> strata_rows::ReadOptions {
    let format = match mapping.format.kind {
        FormatKind::Auto => strata_rows::FormatHint::Auto,
        FormatKind::Delimited => strata_rows::FormatHint::Delimited {
            delimiter: mapping.format.delimiter.and_then(|c| u8::try_from(c).ok()),
        },
        FormatKind::Whitespace => strata_rows::FormatHint::Whitespace,
        FormatKind::JsonLines => strata_rows::FormatHint::JsonLines,
    };
    let encoding = mapping
        .format
        .encoding
        .as_deref()
        .and_then(strata_rows::Encoding::from_label)
        .unwrap_or_default();
    strata_rows::ReadOptions {
        format,
        encoding,
        ..strata_rows::ReadOptions::default()
    }
}

fn short_etag(etag: &str) -> String {
    etag.trim_matches('"')
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

enum ChunkEnd {
    Done { blank_lines: u64 },
    Failed(String),
}

/// A row on its way: ready to apply, or already rejected.
enum Entry {
    Pending {
        pending: Box<Pending>,
        line: u64,
        raw: String,
    },
    Rejected(Rejection),
}

impl Entry {
    fn row(&self) -> u64 {
        match self {
            Entry::Pending { pending, .. } => pending.row,
            Entry::Rejected(r) => r.row,
        }
    }

    fn order_id(&self) -> Option<&str> {
        match self {
            Entry::Pending { pending, .. } => match &pending.record {
                record::ImportRecord::OrderLine { order, .. } => Some(order.id.as_str()),
                _ => None,
            },
            Entry::Rejected(_) => None,
        }
    }
}

fn continues_order(last: Option<&Entry>, next: &Entry) -> bool {
    matches!((last.and_then(Entry::order_id), next.order_id()), (Some(a), Some(b)) if !a.is_empty() && a == b)
}

struct RowReader<'a> {
    mapping: &'a Mapping,
    header: Vec<String>,
    bound: std::collections::BTreeMap<&'static str, usize>,
    etag: String,
    origin: Origin,
}

const RAW_LIMIT: usize = 2048;

impl RowReader<'_> {
    fn entry(&self, row: Row) -> Entry {
        let (values, raw) = match &row.fields {
            Fields::Columns(cells) => (
                Values::from_cells(self.mapping, &self.header, &self.bound, cells),
                raw_of(&serde_json::json!(cells)),
            ),
            Fields::Object(object) => {
                let header: Vec<String> = object.keys().cloned().collect();
                let cells: Vec<String> = object.values().map(json_text).collect();
                let bound = match self.mapping.bind(&header) {
                    Ok(bound) => bound,
                    Err(error) => {
                        return Entry::Rejected(Rejection {
                            row: row.number,
                            line: row.line,
                            raw: raw_of(&serde_json::Value::Object(object.clone())),
                            errors: vec![FieldError::new("row", "unmapped", error.to_string())],
                        });
                    }
                };
                (
                    Values::from_cells(self.mapping, &header, &bound, &cells),
                    raw_of(&serde_json::Value::Object(object.clone())),
                )
            }
        };
        match record::to_record(self.mapping, &values) {
            Ok(mut record) => {
                if let record::ImportRecord::Order { order, .. } = &mut record
                    && order.id.is_empty()
                    && self.mapping.record == RecordType::Order
                {
                    // Sources without order numbers (CDNOW): the same upload gives the same numbers.
                    order.id = format!("{}-{}-{}", self.mapping.source, self.etag, row.number);
                }
                Entry::Pending {
                    pending: Box::new(Pending {
                        row: row.number,
                        record,
                        origin: self.origin.clone(),
                    }),
                    line: row.line,
                    raw,
                }
            }
            Err(error) => Entry::Rejected(Rejection {
                row: row.number,
                line: row.line,
                raw,
                errors: vec![error],
            }),
        }
    }
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn raw_of(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.len() <= RAW_LIMIT {
        return text;
    }
    let cut = (0..=RAW_LIMIT)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…[truncated, {} bytes]", &text[..cut], text.len())
}
