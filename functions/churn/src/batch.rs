//! The scheduled batch run: every customer partition is read by a parallel
//! scan; formal customers are scored in batches and their score items
//! replaced; every customer's purchases feed the monthly churn/conversion
//! counts; and the run says whether the customer base has grown enough to
//! retrain.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::churn::lifecycle::MonthlyTally;
use strata_domain::churn::{ChurnScore, FeatureVector, RiskBand, retraining_due};
use strata_domain::consent::{ConsentPolicy, Use, permits};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::Table;
use strata_store::cold::ColdTier;
use strata_store::{BatchPolicy, ChurnRepository, CustomerScan, StoreError};

use crate::model::{ChurnModel, ModelError};
use crate::scoring;

#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    pub segments: u32,
    /// Customers per model run (and per score write).
    pub batch_size: usize,
    /// Items per scan request.
    pub page_size: u32,
    /// Retrain once formal customers exceed the model's by this fraction.
    pub retrain_growth: f64,
    /// Whether scoring and counting need a grant or only no withdrawal.
    pub consent: ConsentPolicy,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            segments: 4,
            batch_size: 256,
            page_size: 1_000,
            retrain_growth: 0.2,
            consent: ConsentPolicy::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("a scan segment's task failed: {0}")]
    Task(String),
}

impl BatchError {
    /// Whether running the job again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            BatchError::Store(e) => e.is_retryable(),
            BatchError::Model(_) | BatchError::Task(_) => false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchReport {
    pub customers: u64,
    pub formal: u64,
    pub scored: u64,
    /// Customers not scored (and any stored score removed): profiling withdrawn.
    pub no_profiling_consent: u64,
    /// Customers left out of the monthly counts: analytics withdrawn.
    pub no_analytics_consent: u64,
    /// Scored customers marked not to be contacted: marketing withdrawn.
    pub not_contactable: u64,
    pub bands: BTreeMap<&'static str, u64>,
    pub months: usize,
    pub model_version: String,
    /// Formal customers the serving model was trained on.
    pub model_customers: u64,
    pub retraining_due: bool,
    pub seconds: f64,
}

/// Scores every formal customer as of `as_of` and rewrites the monthly counts.
/// Histories include the records tiering moved to the cold tier, so
/// tiering changes no score and no month's counts.
pub async fn run(
    table: Arc<dyn Table>,
    cold: ColdTier,
    model: Arc<ChurnModel>,
    settings: BatchSettings,
    as_of: DateTime<Utc>,
) -> Result<BatchReport, BatchError> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..settings.segments)
        .map(|segment| {
            tokio::spawn(score_segment(
                table.clone(),
                cold.clone(),
                model.clone(),
                settings,
                segment,
                as_of,
            ))
        })
        .collect();
    let mut report = BatchReport {
        model_version: model.version().to_owned(),
        model_customers: model.card().data.customers,
        ..BatchReport::default()
    };
    let mut tally = MonthlyTally::default();
    for task in tasks {
        let segment = task.await.map_err(|e| BatchError::Task(e.to_string()))??;
        report.customers += segment.customers;
        report.formal += segment.formal;
        report.scored += segment.scored;
        report.no_profiling_consent += segment.no_profiling_consent;
        report.no_analytics_consent += segment.no_analytics_consent;
        report.not_contactable += segment.not_contactable;
        for (band, n) in segment.bands {
            *report.bands.entry(band.name()).or_default() += n;
        }
        tally.merge(segment.tally);
    }
    let months = tally.counts();
    ChurnRepository::new(table)
        .put_monthly(&months, BatchPolicy::default())
        .await?;
    report.months = months.len();
    report.retraining_due = retraining_due(
        report.formal,
        report.model_customers,
        settings.retrain_growth,
    );
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[derive(Default)]
struct SegmentResult {
    customers: u64,
    formal: u64,
    scored: u64,
    no_profiling_consent: u64,
    no_analytics_consent: u64,
    not_contactable: u64,
    bands: BTreeMap<RiskBand, u64>,
    tally: MonthlyTally,
}

async fn score_segment(
    table: Arc<dyn Table>,
    cold: ColdTier,
    model: Arc<ChurnModel>,
    settings: BatchSettings,
    segment: u32,
    as_of: DateTime<Utc>,
) -> Result<SegmentResult, BatchError> {
    let repository = ChurnRepository::new(table.clone());
    let mut scan = CustomerScan::new(table, cold, segment, settings.segments, settings.page_size);
    let mut result = SegmentResult::default();
    let mut pending = Pending::with_capacity(settings.batch_size);
    let horizon = model.card().label.horizon_days;
    let mut withdrawn: Vec<CustomerId> = Vec::new();
    while let Some(customer) = scan.next().await? {
        result.customers += 1;
        // A partition without a profile has no consent to read: the use is
        // judged as for a profile with no decision.
        let consents = customer
            .profile
            .as_ref()
            .map(|p| p.consents.as_slice())
            .unwrap_or_default();
        let permitted = |use_| permits(consents, use_, settings.consent).is_ok();
        if permitted(Use::Analytics) {
            result
                .tally
                .add_customer(&customer.history.orders, horizon, as_of);
        } else {
            result.no_analytics_consent += 1;
        }
        if !permitted(Use::Profiling) {
            result.no_profiling_consent += 1;
            withdrawn.push(customer.id);
            continue;
        }
        if let Some(features) = scoring::view(&customer.history).features(as_of) {
            result.formal += 1;
            if !permitted(Use::Marketing) {
                result.not_contactable += 1;
                pending.not_contactable.insert(customer.id);
            }
            pending.customers.push((customer.id, features));
        }
        if pending.customers.len() >= settings.batch_size {
            flush(&model, &repository, &mut pending, as_of, &mut result).await?;
        }
    }
    flush(&model, &repository, &mut pending, as_of, &mut result).await?;
    repository
        .remove_scores(&withdrawn, BatchPolicy::default())
        .await?;
    Ok(result)
}

/// Customers waiting to be scored together, and which of them may not be
/// contacted (marketing withdrawn).
struct Pending {
    customers: Vec<(CustomerId, FeatureVector)>,
    not_contactable: HashSet<CustomerId>,
}

impl Pending {
    fn with_capacity(n: usize) -> Self {
        Pending {
            customers: Vec::with_capacity(n),
            not_contactable: HashSet::new(),
        }
    }
}

async fn flush(
    model: &ChurnModel,
    repository: &ChurnRepository,
    pending: &mut Pending,
    as_of: DateTime<Utc>,
    result: &mut SegmentResult,
) -> Result<(), BatchError> {
    if pending.customers.is_empty() {
        return Ok(());
    }
    let mut scores: Vec<ChurnScore> = scoring::score(model, &pending.customers, as_of)?;
    for score in &mut scores {
        score.contactable = !pending.not_contactable.contains(&score.customer_id);
    }
    repository
        .put_scores(&scores, BatchPolicy::default())
        .await?;
    for score in &scores {
        *result.bands.entry(score.band).or_default() += 1;
    }
    result.scored += scores.len() as u64;
    pending.customers.clear();
    pending.not_contactable.clear();
    Ok(())
}
