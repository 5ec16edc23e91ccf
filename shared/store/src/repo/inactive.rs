//! Customers inactive past the retention limit
//! (`RetentionPolicy::inactive_customer_days`) and their erasure. Two steps,
//! because no single role may do both: the tiering job scans every
//! partition but holds no customer's key, so it only marks each customer
//! past the limit (`InactiveCustomers::mark_if_due`, an item in their
//! partition listed by `gsi1` by due time); the scheduled erasure runs where
//! customers' keys may be used (`CustomerEraser` opens the profile to find
//! its lookups), reads the markers that are due, checks again that the
//! customer is still inactive, and erases them as `DELETE /v1/customers/{id}`
//! does, with the reason in the erasure ledger and the audit log.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use strata_domain::access::Role;
use strata_domain::audit::{AuditAction, AuditEntry};
use strata_domain::customer::Customer;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Cursor, Index, Item, Query, Table};
use strata_domain::retention::RetentionPolicy;

use crate::codec::{self, RecordKind};
use crate::cold::ColdPointer;
use crate::error::StoreError;
use crate::keys;
use crate::repo::access::AuditLog;
use crate::repo::erasure::CustomerEraser;
use crate::repo::partitions::Partition;

/// Who the audit log names for these erasures.
pub const ERASURE_JOB_SUBJECT: &str = "job:inactive-erasure";

/// A customer found inactive past the limit, waiting to be erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueErasure {
    pub customer_id: CustomerId,
    /// The customer's last activity when they were marked.
    pub last_active_at: DateTime<Utc>,
    /// When the limit was passed.
    pub due_at: DateTime<Utc>,
    pub marked_at: DateTime<Utc>,
}

impl DueErasure {
    /// What the ledger and the audit log say.
    pub fn reason(last_active_at: DateTime<Utc>) -> String {
        format!("retention: inactive since {}", keys::time(last_active_at))
    }
}

impl Partition {
    /// The customer's last activity, from what the partition holds in the
    /// clear (no key needed, so the tiering job can judge it):
    /// - the profile's `created_at` and `updated_at` (every change merged
    ///   into it moves `updated_at`: identity, preferences, sources, network
    ///   traces, the consents in force), and the time of each decision in
    ///   the profile's `consents`;
    /// - each order's `placed_at`, interaction's and review's `at`, hot or
    ///   tiered (a cold pointer's sort keys carry their times: an inactive
    ///   customer's records are usually all cold by then);
    /// - each consent-ledger decision's and merge-log entry's `at` (a merge
    ///   is the person's data arriving again).
    ///
    /// Left out, because Strata or the shop's staff write them, not the
    /// customer, and counting them would keep every profile for ever: the
    /// `written_at` of items and the profile's `read_at` (rewritten by
    /// recounts, repairs, imports of old records, history reads and
    /// exports), churn scores, recommendation profiles and misses, the
    /// sales assignment, cold pointers' own writes and this job's marker.
    /// `None` when the partition holds none of these (no profile).
    pub fn last_activity(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut last: Option<DateTime<Utc>> = None;
        let mut touch = |at: Option<DateTime<Utc>>| last = last.max(at);
        for item in &self.items {
            match RecordKind::of(item) {
                Some(RecordKind::Customer) => {
                    let profile: Customer = codec::decode(RecordKind::Customer, item)?;
                    touch(Some(profile.created_at));
                    touch(Some(profile.updated_at));
                    for consent in &profile.consents {
                        touch(Some(consent.at));
                    }
                }
                Some(RecordKind::Order) => touch(time_attr(item, "placed_at")),
                Some(
                    RecordKind::Interaction
                    | RecordKind::Review
                    | RecordKind::Consent
                    | RecordKind::Merge,
                ) => touch(time_attr(item, "at")),
                Some(RecordKind::ColdPointer) => {
                    for sk in &ColdPointer::of(item)?.sort_keys {
                        touch(keys::activity_time_of_sort_key(sk));
                    }
                }
                _ => {}
            }
        }
        Ok(last)
    }

    fn has_profile(&self) -> bool {
        self.items
            .iter()
            .any(|item| RecordKind::of(item) == Some(RecordKind::Customer))
    }

    /// The erasure marker in the partition, if any.
    pub fn erasure_marker(&self) -> Result<Option<DueErasure>, StoreError> {
        self.items
            .iter()
            .find(|item| RecordKind::of(item) == Some(RecordKind::ErasureDue))
            .map(|item| codec::decode(RecordKind::ErasureDue, item))
            .transpose()
    }
}

fn time_attr(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)?.as_str()?.parse().ok()
}

/// A page of due markers.
#[derive(Debug, Clone)]
pub struct DuePage {
    pub due: Vec<DueErasure>,
    pub next: Option<Cursor>,
}

/// The markers of customers due for erasure.
#[derive(Clone)]
pub struct InactiveCustomers {
    table: Arc<dyn Table>,
}

impl InactiveCustomers {
    pub fn new(table: Arc<dyn Table>) -> Self {
        InactiveCustomers { table }
    }

    /// Marks the customer of `partition` when they are inactive past the
    /// policy's limit on `as_of` (a marker already there is kept). Returns
    /// whether they are due. Never marks without a limit or a profile.
    pub async fn mark_if_due(
        &self,
        partition: &Partition,
        policy: &RetentionPolicy,
        as_of: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if policy.inactive_customer_days.is_none() || !partition.has_profile() {
            return Ok(false);
        }
        let Some(last_active_at) = partition.last_activity()? else {
            return Ok(false);
        };
        if !policy.inactive_past_limit(last_active_at, as_of) {
            return Ok(false);
        }
        let marked = partition.erasure_marker()?;
        if marked.is_some_and(|m| m.last_active_at == last_active_at) {
            return Ok(true);
        }
        let due_at = policy.inactive_erasure_due(last_active_at).unwrap_or(as_of);
        self.mark(&DueErasure {
            customer_id: partition.customer,
            last_active_at,
            due_at,
            marked_at: as_of,
        })
        .await?;
        Ok(true)
    }

    pub async fn mark(&self, due: &DueErasure) -> Result<(), StoreError> {
        let index = [
            ("gsi1pk", keys::ERASURE_DUE_PARTITION.to_owned()),
            (
                "gsi1sk",
                keys::erasure_due_sort(due.due_at, due.customer_id),
            ),
        ];
        let item = codec::encode(
            RecordKind::ErasureDue,
            &keys::erasure_due(due.customer_id),
            due,
            &index,
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// Markers due on `as_of`, earliest first.
    pub async fn due(
        &self,
        as_of: DateTime<Utc>,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<DuePage, StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::ERASURE_DUE_PARTITION)
            .sort(keys::erasure_due_until(as_of))
            .start(start)
            .limit(limit.max(1));
        let page = self.table.query(query).await?;
        let due = page
            .items
            .iter()
            .map(|item| codec::decode(RecordKind::ErasureDue, item))
            .collect::<Result<_, _>>()?;
        Ok(DuePage {
            due,
            next: page.next,
        })
    }

    /// Removes a marker (the customer is active again, or no limit is set).
    pub async fn unmark(&self, customer: CustomerId) -> Result<(), StoreError> {
        self.table
            .delete(&keys::erasure_due(customer), None)
            .await?;
        Ok(())
    }

    /// The customer's whole partition as stored now.
    pub async fn partition(&self, customer: CustomerId) -> Result<Partition, StoreError> {
        let mut query = Query::partition(keys::customer_partition(customer));
        let mut items = Vec::new();
        loop {
            let page = self.table.query(query.clone()).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => query.start = Some(next),
                None => return Ok(Partition { customer, items }),
            }
        }
    }
}

/// What one run of the scheduled erasure did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InactiveErasureReport {
    /// Markers due on the run's date that it looked at.
    pub due: u64,
    pub erased: u64,
    /// Active again since they were marked: marker removed, nothing erased.
    pub kept_active: u64,
    /// Marked while a limit was set, and no limit is set now: kept.
    pub kept_no_limit: u64,
    /// Audit entries that could not be written (the erasure stands; logged).
    pub audit_failed: u64,
    /// The run stopped at its deadline; the rest waits for the next run.
    pub stopped_at_deadline: bool,
}

/// Customers settled at once: each erasure is about ten requests in a row.
const IN_FLIGHT: usize = 8;

/// What became of one marked customer.
enum Settled {
    Erased {
        audited: bool,
    },
    KeptActive,
    KeptNoLimit,
    /// Not looked at: the run reached its deadline.
    Postponed,
}

/// The scheduled erasure of customers inactive past the limit.
#[derive(Clone)]
pub struct InactiveErasure {
    inactive: InactiveCustomers,
    eraser: CustomerEraser,
    audit: AuditLog,
    policy: RetentionPolicy,
}

impl InactiveErasure {
    pub fn new(
        table: Arc<dyn Table>,
        eraser: CustomerEraser,
        audit: AuditLog,
        policy: RetentionPolicy,
    ) -> Self {
        InactiveErasure {
            inactive: InactiveCustomers::new(table),
            eraser,
            audit,
            policy,
        }
    }

    /// Erases every marked customer due on `as_of` who is still inactive
    /// past the limit (judged again from the partition as it is now, so
    /// any activity since the marking cancels it), until `deadline`.
    pub async fn run(
        &self,
        as_of: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<InactiveErasureReport, StoreError> {
        let mut report = InactiveErasureReport::default();
        let mut start = None;
        loop {
            let page = self.inactive.due(as_of, start, 100).await?;
            // Every customer of the page is awaited, even after a failure,
            // so no erasure is left half-done by this run returning.
            let outcomes: Vec<Result<Settled, StoreError>> = stream::iter(&page.due)
                .map(|due| async move {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Settled::Postponed);
                    }
                    self.settle(due, as_of).await
                })
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
            for outcome in outcomes {
                match outcome? {
                    Settled::Erased { audited } => {
                        report.erased += 1;
                        report.audit_failed += u64::from(!audited);
                    }
                    Settled::KeptActive => report.kept_active += 1,
                    Settled::KeptNoLimit => report.kept_no_limit += 1,
                    Settled::Postponed => {
                        report.stopped_at_deadline = true;
                        continue;
                    }
                }
                report.due += 1;
            }
            match page.next {
                Some(next) if !report.stopped_at_deadline => start = Some(next),
                _ => return Ok(report),
            }
        }
    }

    async fn settle(&self, due: &DueErasure, as_of: DateTime<Utc>) -> Result<Settled, StoreError> {
        let customer = due.customer_id;
        if self.policy.inactive_customer_days.is_none() {
            self.inactive.unmark(customer).await?;
            return Ok(Settled::KeptNoLimit);
        }
        let partition = self.inactive.partition(customer).await?;
        let last_active_at = partition.last_activity()?;
        // A partition left with no activity at all (an interrupted erasure)
        // is erased again, which finishes it.
        let still_inactive =
            last_active_at.is_none_or(|at| self.policy.inactive_past_limit(at, as_of));
        if !still_inactive {
            self.inactive.unmark(customer).await?;
            tracing::info!(%customer, "active again since marked: kept");
            return Ok(Settled::KeptActive);
        }
        let reason = DueErasure::reason(last_active_at.unwrap_or(due.last_active_at));
        let erased_at = Utc::now();
        self.eraser
            .erase_because(customer, erased_at, Some(&reason))
            .await?;
        let entry = AuditEntry {
            customer_id: customer,
            at: erased_at,
            subject: ERASURE_JOB_SUBJECT.into(),
            role: Role::Admin,
            action: AuditAction::Erase,
            route: reason,
            request_id: format!("inactive-erasure-{}", as_of.timestamp_millis()),
            status: 200,
        };
        let audited = match self.audit.append(&entry).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%customer, %error, "the erasure stands; its audit entry was not written");
                false
            }
        };
        Ok(Settled::Erased { audited })
    }
}
