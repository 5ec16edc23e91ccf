//! The tiering run: finish what an earlier run left unfinished, then scan
//! the table in parallel segments, judge each customer by the policy, pack
//! cold records by period into objects and move them (see
//! `strata_store::TieringRepository` for the copy → verify → delete steps).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use strata_domain::ports::table::item_size;
use strata_domain::retention::RetentionPolicy;
use strata_domain::tiering::{CustomerVerdict, Exemption, TieringPolicy};
use strata_store::cold::{PackBuilder, Share};
use strata_store::{Expired, Moved, StoreError, TieringRepository};

#[derive(Debug, Clone)]
pub struct JobSettings {
    pub policy: TieringPolicy,
    /// How long content is kept, applied to every partition scanned.
    pub retention: RetentionPolicy,
    /// Parallel scan segments, each its own task.
    pub segments: u32,
    pub page_size: u32,
    /// A pack is written once its JSON Lines reach this many bytes
    /// (gzip makes objects of roughly a tenth).
    pub target_raw_bytes: usize,
    /// No object smaller than this (compressed) is written: its records wait
    /// in the table for a later run. Twice S3's 128 KB billing minimum for
    /// the infrequent-access classes.
    pub min_object_bytes: usize,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            policy: TieringPolicy::default(),
            retention: RetentionPolicy::default(),
            segments: 4,
            page_size: 500,
            target_raw_bytes: 16 * 1024 * 1024,
            min_object_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TieringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a scan segment task failed: {0}")]
    Task(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub as_of: Option<DateTime<Utc>>,
    /// Objects an earlier run left unfinished, completed first.
    pub recovered: Moved,
    pub moved: Moved,
    /// What the retention policy expired.
    pub expired: Expired,
    /// Retention keys destroyed (months of texts past their limit, in every
    /// copy); `None` when the run was given no key table.
    pub retention_keys_destroyed: Option<u64>,
    pub customers: u64,
    pub customers_inactive: u64,
    /// Customers inactive past the retention limit, marked for the
    /// scheduled erasure and not packed (they are about to be erased).
    pub marked_for_erasure: u64,
    pub exempt_early_warning: u64,
    pub exempt_open_complaint: u64,
    /// Cold records found by the policy.
    pub cold_found: u64,
    /// Cold records left hot because their period would have made an object
    /// under `min_object_bytes`.
    pub left_for_later: u64,
    /// DynamoDB's size of the records packed (before the 100-byte per-item overhead).
    pub hot_bytes_packed: u64,
    pub raw_bytes_packed: u64,
    pub seconds: f64,
}

/// One run as of `as_of` (the schedule's time).
pub async fn run(
    repo: TieringRepository,
    settings: JobSettings,
    as_of: DateTime<Utc>,
) -> Result<RunReport, TieringError> {
    let started = Instant::now();
    let run_id = format!(
        "{}-{:08x}",
        as_of.format("%Y%m%dT%H%M%S%3fZ"),
        rand::rng().random::<u32>()
    );
    let mut recovered = Moved::default();
    for object in repo.unfinished().await? {
        tracing::info!(%object, "finishing an object an earlier run left");
        recovered.add(repo.finish(&object).await?);
    }

    let mut tasks = tokio::task::JoinSet::new();
    for segment in 0..settings.segments.max(1) {
        let (repo, settings, run_id) = (repo.clone(), settings.clone(), run_id.clone());
        tasks.spawn(async move { scan_segment(repo, settings, as_of, run_id, segment).await });
    }
    let mut totals = SegmentOutcome::default();
    let mut leftovers: BTreeMap<String, PackBuilder> = BTreeMap::new();
    // Every segment is awaited even after one fails, so no write of this
    // run lands after it returned (the next run's recovery starts from
    // what is stored).
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = match joined.map_err(|e| TieringError::Task(e.to_string())) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) | Err(error) => {
                failure.get_or_insert(error);
                continue;
            }
        };
        for pack in outcome.leftovers.iter().cloned() {
            match leftovers.get_mut(pack.period()) {
                Some(open) => open.absorb(pack),
                None => {
                    leftovers.insert(pack.period().to_owned(), pack);
                }
            }
        }
        totals.absorb(outcome);
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let retention_keys_destroyed = match repo.retention_keys() {
        Some(keys) => Some(keys.expire(&settings.retention, as_of).await?),
        None => {
            tracing::warn!("no key table: texts past their limit stay readable outside the table");
            None
        }
    };
    // What no segment filled alone, packed together; too little waits.
    for (seq, pack) in leftovers.into_values().enumerate() {
        let (records, hot_bytes) = (pack.records() as u64, pack_hot_bytes(&pack));
        let sealed = pack.seal(&format!("{run_id}-rest-{seq:05}"))?;
        if sealed.body.len() < settings.min_object_bytes {
            totals.left_for_later += records;
            continue;
        }
        totals.hot_bytes += hot_bytes;
        totals.raw_bytes += sealed.raw_bytes;
        totals.moved.add(repo.ship(&sealed).await?);
    }
    Ok(RunReport {
        run_id,
        as_of: Some(as_of),
        recovered,
        moved: totals.moved,
        expired: totals.expired,
        retention_keys_destroyed,
        customers: totals.customers,
        customers_inactive: totals.inactive,
        marked_for_erasure: totals.marked_for_erasure,
        exempt_early_warning: totals.early_warning,
        exempt_open_complaint: totals.open_complaint,
        cold_found: totals.cold_found,
        left_for_later: totals.left_for_later,
        hot_bytes_packed: totals.hot_bytes,
        raw_bytes_packed: totals.raw_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Debug, Default)]
struct SegmentOutcome {
    moved: Moved,
    expired: Expired,
    customers: u64,
    inactive: u64,
    marked_for_erasure: u64,
    early_warning: u64,
    open_complaint: u64,
    cold_found: u64,
    left_for_later: u64,
    hot_bytes: u64,
    raw_bytes: u64,
    leftovers: Vec<PackBuilder>,
}

impl SegmentOutcome {
    fn absorb(&mut self, other: SegmentOutcome) {
        self.moved.add(other.moved);
        self.expired.add(other.expired);
        self.customers += other.customers;
        self.inactive += other.inactive;
        self.marked_for_erasure += other.marked_for_erasure;
        self.early_warning += other.early_warning;
        self.open_complaint += other.open_complaint;
        self.cold_found += other.cold_found;
        self.left_for_later += other.left_for_later;
        self.hot_bytes += other.hot_bytes;
        self.raw_bytes += other.raw_bytes;
    }
}

async fn scan_segment(
    repo: TieringRepository,
    settings: JobSettings,
    as_of: DateTime<Utc>,
    run_id: String,
    segment: u32,
) -> Result<SegmentOutcome, TieringError> {
    let mut outcome = SegmentOutcome::default();
    let mut packs: BTreeMap<String, PackBuilder> = BTreeMap::new();
    let mut sequence = 0u32;
    let mut scan = repo.scan(segment, settings.segments.max(1), settings.page_size);
    let retention = repo.retention();
    let inactive = repo.inactive();
    while let Some(mut partition) = scan.next().await? {
        outcome.customers += 1;
        // Every customer, exempt from tiering or not; before packing, so
        // expired content is not copied into a cold object.
        outcome.expired.add(
            retention
                .apply(&mut partition, &settings.retention, as_of)
                .await?,
        );
        let verdict = settings.policy.judge(&partition.facts(), as_of);
        match verdict {
            CustomerVerdict::Exempt(Exemption::EarlyWarning) => outcome.early_warning += 1,
            CustomerVerdict::Exempt(Exemption::OpenComplaint) => outcome.open_complaint += 1,
            CustomerVerdict::Inactive => outcome.inactive += 1,
            CustomerVerdict::ByAge => {}
        }
        // This job holds no customer's key, so it cannot erase: it marks,
        // and the scheduled erasure (with the key role) erases.
        if inactive
            .mark_if_due(&partition, &settings.retention, as_of)
            .await?
        {
            outcome.marked_for_erasure += 1;
            continue;
        }
        if matches!(verdict, CustomerVerdict::Exempt(_)) {
            continue;
        }
        let lines: Vec<_> = partition
            .candidates()?
            .into_iter()
            .filter(|c| {
                settings
                    .policy
                    .is_cold(c.kind, c.last_touched, verdict, as_of)
            })
            .map(|c| c.line)
            .collect();
        outcome.cold_found += lines.len() as u64;
        if !lines.is_empty() {
            // Objects are grouped by the period they were tiered in: a
            // customer's share of a run is one object and one pointer per
            // 99 records, whatever months the records span (each line keeps
            // its own time for queries).
            let period = as_of.format("%Y-%m").to_string();
            let pack = packs
                .entry(period.clone())
                .or_insert_with(|| PackBuilder::new(period.clone()));
            pack.add(Share {
                customer: partition.customer,
                lines,
            });
            if pack.raw_bytes() >= settings.target_raw_bytes {
                let full = std::mem::replace(pack, PackBuilder::new(period));
                let object_id = format!("{run_id}-s{segment:03}-{sequence:05}");
                sequence += 1;
                outcome.hot_bytes += pack_hot_bytes(&full);
                let sealed = full.seal(&object_id)?;
                outcome.raw_bytes += sealed.raw_bytes;
                outcome.moved.add(repo.ship(&sealed).await?);
            }
        }
    }
    outcome.leftovers = packs.into_values().filter(|p| !p.is_empty()).collect();
    Ok(outcome)
}

fn pack_hot_bytes(pack: &PackBuilder) -> u64 {
    pack.shares()
        .iter()
        .flat_map(|s| &s.lines)
        .map(|l| item_size(&l.item) as u64)
        .sum()
}
