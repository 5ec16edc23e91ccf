//! Segment membership kept true: the nightly run evaluates every customer
//! against the segment list (parallel scan segments; the profile, recent
//! interactions and churn score of each read in one pass), counts the
//! sizes, and writes only customers whose segment changes — the profile
//! item's segment updated under the version the scan saw (personal fields
//! untouched), the change recorded in the same transaction, several moves
//! to a transaction. A customer who has withdrawn consent to profiling
//! belongs to no segment.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use strata_domain::churn::ConversionCriteria;
use strata_domain::consent::{ConsentPolicy, Use, permits};
use strata_domain::customer::{Customer, Purpose};
use strata_domain::engage::facts::COMPLAINT_WINDOW_DAYS;
use strata_domain::engage::{Facts, SegmentCause, SegmentChange, SegmentId, SegmentList};
use strata_domain::money::Currency;
use strata_domain::ports::table::Table;
use strata_store::{
    ChurnRepository, CustomerRepository, SegmentChangeRecord, SegmentInputs, SegmentRepository,
    SegmentScan, SegmentSizes, StoreError,
};

/// Moves gathered before they are written, several to a transaction.
const MOVES_PER_FLUSH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSettings {
    /// Parallel scan segments, read in turn.
    pub scan_segments: u32,
    /// Items per scan page.
    pub page: u32,
    /// The shop's currency (`spend`).
    pub currency: Currency,
    /// Whether profiling needs an explicit grant.
    pub consent: ConsentPolicy,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        SegmentSettings {
            scan_segments: 4,
            page: 500,
            currency: Currency::CNY,
            consent: ConsentPolicy::default(),
        }
    }
}

/// What one nightly run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SegmentReport {
    /// The list revision evaluated (0: the built-in default).
    pub revision: u64,
    pub customers: u64,
    pub sizes: SegmentSizes,
    /// Customers whose segment changed, each written once.
    pub moved: u64,
    /// Customers changed by another writer between the scan and the save:
    /// left for their write or the next run.
    pub changed_meanwhile: u64,
    pub seconds: f64,
}

/// The rule inputs that are the same for every customer of a run.
#[derive(Clone)]
pub struct Judge {
    pub list: SegmentList,
    pub criteria: Option<ConversionCriteria>,
    pub currency: Currency,
    pub consent: ConsentPolicy,
}

impl Judge {
    /// The segment a customer belongs to as of `as_of`; `None` when no
    /// rule matches or profiling is not allowed.
    pub fn segment_of(&self, inputs: &SegmentInputs, as_of: DateTime<Utc>) -> Option<SegmentId> {
        let profile = &inputs.profile;
        permits(&profile.consents, Use::Profiling, self.consent).ok()?;
        let convertible = self.criteria.as_ref().is_some_and(|criteria| {
            profile.activity.purchases == 0
                && criteria
                    .evaluate(
                        &inputs.interactions,
                        profile.has_consent(Purpose::Marketing),
                        as_of,
                    )
                    .convertible
        });
        let facts = Facts::of(
            profile,
            &inputs.interactions,
            inputs.score.as_ref(),
            convertible,
            self.currency,
            as_of,
        );
        self.list.classify(&facts).map(|s| s.id.clone())
    }

    /// How far back interactions matter: complaints and conversion signals.
    pub fn window_start(&self, as_of: DateTime<Utc>) -> DateTime<Utc> {
        let days = self
            .criteria
            .as_ref()
            .map_or(0, |c| i64::from(c.window_days))
            .max(COMPLAINT_WINDOW_DAYS);
        as_of - Duration::days(days)
    }
}

#[derive(Clone)]
pub struct Segmenter {
    table: Arc<dyn Table>,
    customers: CustomerRepository,
    segments: SegmentRepository,
    churn: ChurnRepository,
}

impl Segmenter {
    /// Profiles are read and moved without their personal fields: the
    /// segmenter holds no customer keys.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Segmenter {
            customers: CustomerRepository::pseudonymous(table.clone()),
            segments: SegmentRepository::new(table.clone()),
            churn: ChurnRepository::new(table.clone()),
            table,
        }
    }

    /// Every customer, with the interactions since `since`.
    fn scan(&self, settings: SegmentSettings, since: DateTime<Utc>) -> SegmentScan {
        SegmentScan::new(
            self.table.clone(),
            settings.scan_segments,
            settings.page,
            since,
        )
    }

    /// The list in force and the conversion criteria, read once per run or
    /// request.
    pub async fn judge(&self, settings: SegmentSettings) -> Result<(Judge, u64), SegmentError> {
        let stored = self.segments.definition().await?;
        let criteria = self.churn.conversion_criteria().await?.map(|s| s.criteria);
        Ok((
            Judge {
                list: stored.list,
                criteria,
                currency: settings.currency,
                consent: settings.consent,
            },
            stored.revision,
        ))
    }

    /// Evaluates every customer as of `as_of` and writes those who move.
    pub async fn run(
        &self,
        settings: SegmentSettings,
        as_of: DateTime<Utc>,
    ) -> Result<SegmentReport, SegmentError> {
        let started = Instant::now();
        let taken_at = Utc::now();
        let (judge, revision) = self.judge(settings).await?;
        let mut report = SegmentReport {
            revision,
            ..SegmentReport::default()
        };
        report.sizes.revision = revision;
        report.sizes.taken_at = Some(taken_at);
        for segment in &judge.list.segments {
            report.sizes.sizes.insert(segment.id.clone(), 0);
        }
        let mut scan = self.scan(settings, judge.window_start(as_of));
        let mut pending: Vec<(Customer, Option<SegmentId>)> = Vec::new();
        while let Some(inputs) = scan.next().await? {
            report.customers += 1;
            let target = judge.segment_of(&inputs, as_of);
            match &target {
                Some(id) => *report.sizes.sizes.entry(id.clone()).or_default() += 1,
                None => report.sizes.unsegmented += 1,
            }
            if inputs.profile.segment.as_deref() != target.as_ref().map(SegmentId::as_str) {
                pending.push((inputs.profile, target));
                if pending.len() >= MOVES_PER_FLUSH {
                    self.flush(&mut pending, as_of, &mut report).await?;
                }
            }
        }
        self.flush(&mut pending, as_of, &mut report).await?;
        self.segments.save_sizes(&report.sizes).await?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Saves customers' new segments with their change records, each only
    /// if the profile is still the version the scan read (an update of the
    /// profile item's segment alone: personal fields are neither read nor
    /// sealed again); several to a transaction.
    async fn flush(
        &self,
        pending: &mut Vec<(Customer, Option<SegmentId>)>,
        at: DateTime<Utc>,
        report: &mut SegmentReport,
    ) -> Result<(), SegmentError> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut with = Vec::with_capacity(pending.len());
        for (seen, target) in pending.iter() {
            let record = SegmentChangeRecord {
                customer_id: seen.id,
                change: SegmentChange {
                    from: seen
                        .segment
                        .as_deref()
                        .and_then(|s| SegmentId::parse("segment", s).ok()),
                    to: target.clone(),
                    at,
                    cause: SegmentCause::Nightly,
                },
            };
            with.push(vec![SegmentRepository::record_op(&record)?]);
        }
        let moves: Vec<(&Customer, Option<&str>)> = pending
            .iter()
            .map(|(seen, target)| (seen, target.as_ref().map(SegmentId::as_str)))
            .collect();
        for moved in self
            .customers
            .set_segments(&moves, with, Utc::now())
            .await?
        {
            if moved {
                report.moved += 1;
            } else {
                report.changed_meanwhile += 1;
            }
        }
        pending.clear();
        Ok(())
    }

    /// The sizes a draft list would have on the current data as of
    /// `as_of`, customers read until `budget` runs out: `complete` says
    /// whether every customer was read (else the sizes are of those read).
    pub async fn preview(
        &self,
        list: SegmentList,
        settings: SegmentSettings,
        as_of: DateTime<Utc>,
        budget: std::time::Duration,
    ) -> Result<Preview, SegmentError> {
        let started = Instant::now();
        let (mut judge, _) = self.judge(settings).await?;
        judge.list = list;
        let mut preview = Preview {
            sizes: judge
                .list
                .segments
                .iter()
                .map(|s| (s.id.clone(), 0))
                .collect(),
            unsegmented: 0,
            customers_read: 0,
            complete: true,
        };
        let mut scan = self.scan(settings, judge.window_start(as_of));
        loop {
            if started.elapsed() >= budget {
                preview.complete = false;
                break;
            }
            let Some(inputs) = scan.next().await? else {
                break;
            };
            preview.customers_read += 1;
            match judge.segment_of(&inputs, as_of) {
                Some(id) => *preview.sizes.entry(id).or_default() += 1,
                None => preview.unsegmented += 1,
            }
        }
        Ok(preview)
    }
}

/// A draft list's sizes on the current data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Preview {
    pub sizes: std::collections::BTreeMap<SegmentId, u64>,
    pub unsegmented: u64,
    pub customers_read: u64,
    /// Whether every customer was read within the time allowed.
    pub complete: bool,
}
