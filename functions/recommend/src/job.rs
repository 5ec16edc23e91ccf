//! The scheduled precompute. A parallel scan reads the catalogue, then
//! another reads every customer partition; the model (co-purchase
//! similarity, popularity, grey relational normalisation) is built in
//! memory, and the run writes a candidate list per node of the category
//! tree, a similar-products list per product, and a profile per customer
//! with history. Everything is rewritten on each run, so a failed run is
//! simply run again. A customer who withdrew personalisation gets no
//! profile, and one an earlier run wrote is dropped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::consent::{ConsentPolicy, Use};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::Table;
use strata_domain::recommend::signals::Activity;
use strata_domain::recommend::{
    Catalogue, CoPurchase, CustomerSignals, Model, ModelSettings, Profile,
};
use strata_store::cold::ColdTier;
use strata_store::{BatchPolicy, CustomerScan, RecommendRepository, StoreError};

#[derive(Debug, Clone)]
pub struct JobSettings {
    pub segments: u32,
    /// Items per scan request.
    pub page_size: u32,
    /// Records per batch write call.
    pub write_chunk: usize,
    pub model: ModelSettings,
    /// Whether a profile needs a grant of personalisation or only no withdrawal.
    pub consent: ConsentPolicy,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            segments: 4,
            page_size: 1_000,
            write_chunk: 500,
            model: ModelSettings::default(),
            consent: ConsentPolicy::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a scan segment's task failed: {0}")]
    Task(String),
}

impl JobError {
    /// Whether running the job again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            JobError::Store(e) => e.is_retryable(),
            JobError::Task(_) => false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JobReport {
    pub as_of: Option<DateTime<Utc>>,
    pub products: usize,
    pub customers: u64,
    /// Customers with a profile written (the others have no history yet).
    pub profiles: u64,
    pub without_history: u64,
    /// Customers whose consent does not permit personalisation: no profile kept.
    pub not_personalised: u64,
    pub grey_levels: BTreeMap<&'static str, u64>,
    pub lists: usize,
    pub similar_lists: usize,
    pub seconds: f64,
}

/// Runs the precompute as of `as_of`. Histories include the records
/// tiering moved to the cold tier, so tiering changes no recommendation.
pub async fn run(
    table: Arc<dyn Table>,
    cold: ColdTier,
    settings: JobSettings,
    as_of: DateTime<Utc>,
) -> Result<JobReport, JobError> {
    let started = Instant::now();
    let repository = RecommendRepository::new(table.clone());
    let catalogue = Arc::new(read_catalogue(&repository, &settings).await?);
    let (counts, signals, customers, withdrawn) =
        read_customers(table, cold, catalogue.clone(), &settings, as_of).await?;
    let catalogue = Arc::try_unwrap(catalogue).unwrap_or_else(|shared| (*shared).clone());
    let products = catalogue.len();
    let mut model = Model::build(catalogue, counts, settings.model.clone(), as_of);
    let features: Vec<_> = signals.iter().map(|s| s.features).collect();
    model.grade_customers(&features);
    drop(features);

    let mut report = JobReport {
        as_of: Some(as_of),
        products,
        customers,
        without_history: customers - signals.len() as u64,
        not_personalised: withdrawn.len() as u64,
        ..JobReport::default()
    };
    let policy = BatchPolicy::default();
    let lists: Vec<_> = model
        .scopes()
        .filter_map(|scope| model.candidate_list(scope))
        .collect();
    report.lists = lists.len();
    for chunk in lists.chunks(settings.write_chunk) {
        repository.put_lists(chunk, policy).await?;
    }
    let similar: Vec<_> = model.similar_lists().collect();
    report.similar_lists = similar.len();
    for chunk in similar.chunks(settings.write_chunk) {
        repository.put_similar(chunk, policy).await?;
    }
    repository.withhold_profiles(&withdrawn).await?;
    let withheld: HashSet<CustomerId> = withdrawn.into_iter().collect();
    let mut pending: Vec<Profile> = Vec::with_capacity(settings.write_chunk);
    for customer in signals
        .iter()
        .filter(|s| !withheld.contains(&s.customer_id))
    {
        let Some(profile) = model.profile(customer) else {
            continue; // only customers with history were kept
        };
        report.profiles += 1;
        *report
            .grey_levels
            .entry(profile.grey.level.name())
            .or_default() += 1;
        pending.push(profile);
        if pending.len() >= settings.write_chunk {
            repository.put_profiles(&pending).await?;
            pending.clear();
        }
    }
    repository.put_profiles(&pending).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn read_catalogue(
    repository: &RecommendRepository,
    settings: &JobSettings,
) -> Result<Catalogue, JobError> {
    let segments = (0..settings.segments).map(|segment| {
        let repository = repository.clone();
        let (total, page) = (settings.segments, settings.page_size);
        tokio::spawn(async move { repository.products_in_segment(segment, total, page).await })
    });
    let mut products = Vec::new();
    for task in segments.collect::<Vec<_>>() {
        products.extend(task.await.map_err(|e| JobError::Task(e.to_string()))??);
    }
    Ok(Catalogue::new(products))
}

/// Co-purchase counts, the signals of every customer with history, how
/// many customer partitions were read, and who withdrew personalisation.
async fn read_customers(
    table: Arc<dyn Table>,
    cold: ColdTier,
    catalogue: Arc<Catalogue>,
    settings: &JobSettings,
    as_of: DateTime<Utc>,
) -> Result<Read, JobError> {
    let tasks: Vec<_> = (0..settings.segments)
        .map(|segment| {
            let (table, catalogue, settings) = (table.clone(), catalogue.clone(), settings.clone());
            let cold = cold.clone();
            tokio::spawn(async move {
                let mut scan =
                    CustomerScan::new(table, cold, segment, settings.segments, settings.page_size);
                let mut counts = CoPurchase::default();
                let mut signals = Vec::new();
                let mut customers = 0u64;
                let mut withdrawn = Vec::new();
                while let Some(records) = scan.next().await? {
                    customers += 1;
                    if records
                        .profile
                        .as_ref()
                        .is_some_and(|c| c.permits(Use::Recommendations, settings.consent).is_err())
                    {
                        withdrawn.push(records.id);
                    }
                    let activity = Activity {
                        customer: records.profile.as_ref(),
                        orders: &records.history.orders,
                        interactions: &records.history.interactions,
                        reviews: &records.history.reviews,
                    };
                    let read = CustomerSignals::read(
                        records.id,
                        activity,
                        &catalogue,
                        &settings.model,
                        as_of,
                    );
                    if read.has_history() {
                        counts.add(&read, &settings.model, as_of);
                        signals.push(read);
                    }
                }
                Ok::<_, StoreError>((counts, signals, customers, withdrawn))
            })
        })
        .collect();
    let mut counts = CoPurchase::default();
    let mut signals = Vec::new();
    let mut customers = 0;
    let mut withdrawn = Vec::new();
    for task in tasks {
        let (c, s, n, w) = task.await.map_err(|e| JobError::Task(e.to_string()))??;
        counts.merge(c);
        signals.extend(s);
        customers += n;
        withdrawn.extend(w);
    }
    Ok((counts, signals, customers, withdrawn))
}

type Read = (CoPurchase, Vec<CustomerSignals>, u64, Vec<CustomerId>);
