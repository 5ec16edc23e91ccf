//! The ingest service: takes records about customers (from the API or a
//! file), resolves who they are about, stores what is new, folds profile data
//! into existing customers, and keeps each profile's activity summary true.
//!
//! Records are applied in chunks so that reads and writes are batched; a
//! chunk of one serves the API.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use strata_domain::activity::{self, ActivitySummary, RowMark};
use strata_domain::consent::{self, ConsentRecord};
use strata_domain::customer::{Customer, Identifier, MergedField, Origin, Tier, ValidCustomer};
use strata_domain::error::FieldError;
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::interaction::Interaction;
use strata_domain::interaction::InteractionInput;
use strata_domain::order::Order;
use strata_domain::order::OrderInput;
use strata_domain::ports::table::Table;
use strata_domain::product::Product;
use strata_domain::review::Review;
use strata_domain::review::ReviewInput;
use strata_domain::value::{AssessmentCause, TierChange};
use strata_domain::{Invalid, ReadOptions};
use strata_store::Privacy;
use strata_store::cold::ColdTier;
use strata_store::{
    ActivityRepository, BatchPolicy, ConsentLedger, CustomerRepository, Holder, MergeEntry,
    MergeLog, ProductRepository, Recorded, Recount, Rewards, Sameness, StoreError, Stored,
    TierChangeRecord, ValueRepository,
};

use crate::import::record::ImportRecord;
use crate::order_coupons;

/// One record to apply, with where it came from.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row number in its file, or position in an API batch.
    pub row: u64,
    pub record: ImportRecord,
    pub origin: Origin,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored something new.
    Accepted {
        customer: CustomerId,
    },
    /// Folded into a customer already known.
    Merged {
        customer: CustomerId,
    },
    /// Added nothing: already stored.
    Duplicate {
        customer: CustomerId,
    },
    Rejected(Invalid),
}

impl Outcome {
    pub fn customer(&self) -> Option<CustomerId> {
        match self {
            Outcome::Accepted { customer }
            | Outcome::Merged { customer }
            | Outcome::Duplicate { customer } => Some(*customer),
            Outcome::Rejected(_) => None,
        }
    }
}

/// Activity posted for a customer known by id.
#[derive(Debug, Clone)]
pub enum Activity {
    Order(OrderInput),
    Interaction(InteractionInput),
    Review(ReviewInput),
}

/// How a chunk brings the summaries of the customers it touches up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summaries {
    /// Recount each touched customer's whole history: one query or more per
    /// customer, growing with the history. For API requests and repairs.
    Recount,
    /// Add the chunk's own records to each stored summary. Every record is
    /// stamped with this import and its row, and each profile keeps how far
    /// the import is counted (`Customer::summary_marks`), so a chunk applied
    /// again after a crash counts each record once. Rows must reach `apply`
    /// in increasing chunks, as a checkpointed import delivers them.
    Incremental { import: String },
}

/// Totals of what a chunk created, for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    pub customers: u64,
    pub customers_merged: u64,
    pub orders: u64,
    pub interactions: u64,
    pub reviews: u64,
    pub products: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("customer {0} kept changing while it was being updated; try again")]
    Contended(CustomerId),
}

/// Remembers who owns an identifier across chunks of one import; cleared
/// when full so memory stays flat whatever the file size.
#[derive(Debug, Default)]
pub struct OwnerCache {
    owners: HashMap<Identifier, CustomerId>,
}

const OWNER_CACHE_LIMIT: usize = 200_000;

impl OwnerCache {
    fn remember(&mut self, identifier: Identifier, owner: CustomerId) {
        if self.owners.len() >= OWNER_CACHE_LIMIT {
            self.owners.clear();
        }
        self.owners.insert(identifier, owner);
    }
}

#[derive(Clone)]
pub struct Ingestor {
    privacy: Arc<Privacy>,
    customers: CustomerRepository,
    activity: ActivityRepository,
    products: ProductRepository,
    merges: MergeLog,
    consents: ConsentLedger,
    values: ValueRepository,
    rewards: Rewards,
    pub options: ReadOptions,
    policy: BatchPolicy,
}

const SAVE_ATTEMPTS: usize = 6;
/// Customers whose partitions are queried at once when a chunk's profiles
/// are refreshed (recounts, cold-pointer checks): in flight together rather
/// than in turn.
const ACTIVITY_READS_IN_FLIGHT: usize = 16;
/// Order numbers an import chunk claims at once (conditional puts).
const CLAIMS_IN_FLIGHT: usize = 16;
/// Rows whose consent decisions are appended to the ledger at once.
const CONSENT_WRITES_IN_FLIGHT: usize = 16;

/// A chunk's activity, sorted out against what is stored.
struct Sorted<T> {
    /// Stored by this chunk (now, or by a failed attempt at it), with their rows.
    accepted: Vec<(T, Option<RowMark>)>,
    /// Of those, the ones not stored yet.
    to_write: Vec<(T, Option<RowMark>)>,
    /// Seen again, stored by an earlier chunk of this import: that row.
    earlier: Vec<(T, u64)>,
}

/// What a chunk adds to each touched customer's summary.
#[derive(Default)]
struct Added {
    orders: Vec<(Order, Option<RowMark>)>,
    interactions: Vec<(Interaction, Option<RowMark>)>,
    reviews: Vec<(Review, Option<RowMark>)>,
    /// Customer and row of records an earlier chunk stored: a summary whose
    /// mark is short of that row is stale and gets recounted.
    earlier: Vec<(CustomerId, u64)>,
    /// The chunk's first and last rows.
    first_row: u64,
    last_row: u64,
}

/// What bringing a chunk's profiles up to date found.
struct Refreshed {
    /// Per touched customer, the positions whose data changed the profile.
    merged: HashMap<CustomerId, Vec<(usize, Vec<MergedField>)>>,
    /// Profiles an import row of this chunk created (`created_by_import`).
    created_by_chunk: HashSet<CustomerId>,
    /// Each touched customer's tier as saved.
    tiers: HashMap<CustomerId, Option<Tier>>,
    /// The tier changes saved.
    tier_changes: Vec<TierChangeRecord>,
}

/// A record that passed validation, waiting for its customer id.
enum Valid {
    Customer,
    Order(Order),
    Interaction(Interaction),
    Review(Review),
}

impl Ingestor {
    pub fn new(table: Arc<dyn Table>, privacy: Arc<Privacy>, options: ReadOptions) -> Self {
        Ingestor {
            customers: CustomerRepository::new(table.clone(), privacy.clone()),
            activity: ActivityRepository::new(table.clone()).with_privacy(privacy.clone()),
            privacy,
            products: ProductRepository::new(table.clone()),
            merges: MergeLog::new(table.clone()),
            values: ValueRepository::new(table.clone()),
            rewards: Rewards::new(table.clone(), options.currency),
            consents: ConsentLedger::new(table),
            options,
            policy: BatchPolicy::default(),
        }
    }

    /// Reads and re-warms the cold tier too (see `ActivityRepository::with_cold_tier`).
    pub fn with_cold_tier(mut self, cold: ColdTier) -> Self {
        self.activity = self.activity.with_cold_tier(cold);
        self
    }

    /// Customers' data keys and the blind index this ingestor writes with.
    /// How raw input is read (phone region, date order, currency).
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    pub fn privacy(&self) -> &Arc<Privacy> {
        &self.privacy
    }

    pub fn customers(&self) -> &CustomerRepository {
        &self.customers
    }

    pub fn activity(&self) -> &ActivityRepository {
        &self.activity
    }

    pub fn merge_log(&self) -> &MergeLog {
        &self.merges
    }

    /// Points, coupons and referrals, as the writes keep them.
    pub fn rewards(&self) -> &Rewards {
        &self.rewards
    }

    /// Applies a chunk of records; one outcome per record, in order. Outside
    /// imports, order numbers are claimed in the name of a request of its
    /// own (see `apply_request`).
    pub async fn apply(
        &self,
        chunk: Vec<Pending>,
        cache: &mut OwnerCache,
        summaries: &Summaries,
    ) -> Result<(Vec<Outcome>, Created), IngestError> {
        self.apply_as(chunk, cache, summaries, None).await
    }

    /// `apply` for one API request (`Summaries::Recount`): its order numbers
    /// are claimed like an import row's, in the request's name (`request`,
    /// each record's `row` its position), so the same request run again
    /// (its idempotency key after a failure) finds its own claims and
    /// writes their orders, and a batch racing an import or another batch
    /// stores each order once.
    pub async fn apply_request(
        &self,
        chunk: Vec<Pending>,
        cache: &mut OwnerCache,
        request: &str,
    ) -> Result<(Vec<Outcome>, Created), IngestError> {
        self.apply_as(chunk, cache, &Summaries::Recount, Some(request))
            .await
    }

    async fn apply_as(
        &self,
        chunk: Vec<Pending>,
        cache: &mut OwnerCache,
        summaries: &Summaries,
        request: Option<&str>,
    ) -> Result<(Vec<Outcome>, Created), IngestError> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; chunk.len()];
        let mut created = Created::default();

        // 1. Validate. Order lines sharing an order number become one order.
        let mut valid: Vec<(Vec<usize>, ValidCustomer, Valid)> = Vec::new();
        let mut products: BTreeMap<String, Product> = BTreeMap::new();
        let groups = group_order_lines(&chunk);
        for group in groups {
            match self.validate(&chunk, &group) {
                Ok((customer, record, group_products)) => {
                    for product in group_products {
                        products.insert(product.id.to_string(), product);
                    }
                    // The group's rows share one record and one outcome.
                    valid.push((group, customer, record));
                }
                Err(rejections) => {
                    for (index, invalid) in rejections {
                        outcomes[index] = Some(Outcome::Rejected(invalid));
                    }
                }
            }
        }

        let import = match summaries {
            Summaries::Incremental { import } => Some(import.as_str()),
            Summaries::Recount => None,
        };
        let own_mark = |position: usize| {
            import.map(|import| RowMark {
                import: import.to_owned(),
                row: chunk[valid[position].0[0]].row,
            })
        };

        // 2. Resolve who each record is about.
        let identifiers: Vec<Identifier> = valid
            .iter()
            .flat_map(|(_, c, _)| identifiers_of(c))
            .collect();
        let unknown: Vec<Identifier> = identifiers
            .iter()
            .filter(|i| !cache.owners.contains_key(*i))
            .cloned()
            .collect();
        for (identifier, owner) in self.customers.find_many(&unknown).await? {
            cache.remember(identifier, owner);
        }
        let mut owner_of: Vec<Option<CustomerId>> = Vec::with_capacity(valid.len());
        let mut fresh: BTreeMap<CustomerId, Customer> = BTreeMap::new();
        let mut merges: BTreeMap<CustomerId, Vec<(usize, ValidCustomer)>> = BTreeMap::new();
        for (position, (rows, customer, _)) in valid.iter().enumerate() {
            let known = identifiers_of(customer)
                .iter()
                .find_map(|i| cache.owners.get(i).copied());
            let owner = match known {
                Some(owner) => owner,
                None => {
                    let mut new = Customer::create(
                        CustomerId::generate(),
                        customer.clone(),
                        &chunk[rows[0]].origin,
                    );
                    new.created_by_import = own_mark(position);
                    for identifier in new.identifiers() {
                        cache.remember(identifier, new.id);
                    }
                    let id = new.id;
                    fresh.insert(id, new);
                    owner_of.push(Some(id));
                    continue;
                }
            };
            owner_of.push(Some(owner));
            merges
                .entry(owner)
                .or_default()
                .push((position, customer.clone()));
        }

        // 3. Create the new customers; one who appeared meanwhile becomes a merge.
        let news: Vec<Customer> = fresh.values().cloned().collect();
        let results = self.customers.create_many(&news).await;
        let mut created_ids = HashSet::new();
        for (customer, result) in news.iter().zip(results) {
            match result {
                Ok(()) => {
                    created.customers += 1;
                    created_ids.insert(customer.id);
                }
                Err(StoreError::IdentifierTaken { owner, .. }) => {
                    for identifier in customer.identifiers() {
                        cache.remember(identifier, owner);
                    }
                    for (position, slot) in owner_of.iter_mut().enumerate() {
                        if *slot == Some(customer.id) {
                            *slot = Some(owner);
                            merges
                                .entry(owner)
                                .or_default()
                                .push((position, valid[position].1.clone()));
                        }
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }

        // 4. Activity: keep what is new, count what was seen before.
        let first_row = chunk.iter().map(|p| p.row).min().unwrap_or(0);
        let mut activity_of: HashMap<usize, bool> = HashMap::new();
        let mut orders = Vec::new();
        let mut interactions = Vec::new();
        let mut reviews = Vec::new();
        for (position, (_, _, record)) in valid.iter().enumerate() {
            let Some(owner) = owner_of[position] else {
                continue;
            };
            match record {
                Valid::Customer => {}
                Valid::Order(order) => orders.push((
                    position,
                    Order {
                        customer_id: owner,
                        ..order.clone()
                    },
                )),
                Valid::Interaction(i) => interactions.push((
                    position,
                    Interaction {
                        customer_id: owner,
                        ..i.clone()
                    },
                )),
                Valid::Review(r) => reviews.push((
                    position,
                    Review {
                        customer_id: owner,
                        ..r.clone()
                    },
                )),
            }
        }
        // Rows whose order number holds another order: reported, not stored.
        let mut refused: HashMap<usize, Invalid> = HashMap::new();
        let claimant = match (import, request) {
            (Some(import), _) => import.to_owned(),
            (None, Some(request)) => request.to_owned(),
            (None, None) => format!("request-{}", uuid::Uuid::now_v7()),
        };
        let mark_at = |position: usize| RowMark {
            import: claimant.clone(),
            row: chunk[valid[position].0[0]].row,
        };
        // Coupons first: an order whose coupon is refused is rejected whole.
        let coupon_refusals = order_coupons::redeem(&self.rewards, &orders).await?;
        orders.retain(|(position, _)| !coupon_refusals.contains_key(position));
        refused.extend(coupon_refusals);
        let with_coupons: Vec<(usize, Order)> = orders
            .iter()
            .filter(|(_, o)| o.coupon.is_some())
            .cloned()
            .collect();
        let mut taken_by_others = HashSet::new();
        let Claimed {
            sorted: orders,
            new_status,
        } = self
            .claim_orders(
                orders,
                mark_at,
                first_row,
                &mut activity_of,
                &mut refused,
                &mut taken_by_others,
            )
            .await?;
        let unstored: Vec<&Order> = with_coupons
            .iter()
            .filter(|(position, _)| taken_by_others.contains(position))
            .map(|(_, order)| order)
            .collect();
        order_coupons::give_back(&self.rewards, &unstored).await?;
        let bare: Vec<Interaction> = interactions.iter().map(|(_, i)| i.clone()).collect();
        let stored = self.activity.stored_interactions(&bare).await?;
        let interactions = sort_out(
            interactions,
            &stored,
            own_mark,
            first_row,
            &mut activity_of,
            |i| (i.customer_id, i.at, i.id.to_string()),
        );
        let bare: Vec<Review> = reviews.iter().map(|(_, r)| r.clone()).collect();
        let stored = self.activity.stored_reviews(&bare).await?;
        let reviews = sort_out(
            reviews,
            &stored,
            own_mark,
            first_row,
            &mut activity_of,
            |r| (r.customer_id, r.at, r.id.to_string()),
        );
        if import.is_some() {
            self.activity
                .put_imported(
                    &marked(&orders.to_write),
                    &marked(&interactions.to_write),
                    &marked(&reviews.to_write),
                    self.policy,
                )
                .await?;
        } else {
            // The request's claims hold the numbers; its orders carry no
            // row, so its pseudo-import never enters a summary's marks.
            self.activity
                .put_claimed_orders(&unmarked(&orders.to_write), self.policy)
                .await?;
            self.activity
                .put_many(
                    &unmarked(&interactions.to_write),
                    &unmarked(&reviews.to_write),
                    self.policy,
                )
                .await?;
        }
        let product_list: Vec<Product> = products.into_values().collect();
        self.products.put_many(&product_list, self.policy).await?;
        created.orders += orders.accepted.len() as u64;
        created.interactions += interactions.accepted.len() as u64;
        created.reviews += reviews.accepted.len() as u64;
        created.products += product_list.len() as u64;
        let mut earlier: Vec<(CustomerId, u64)> = Vec::new();
        earlier.extend(orders.earlier.iter().map(|(o, row)| (o.customer_id, *row)));
        earlier.extend(
            interactions
                .earlier
                .iter()
                .map(|(i, row)| (i.customer_id, *row)),
        );
        earlier.extend(reviews.earlier.iter().map(|(r, row)| (r.customer_id, *row)));
        let added = Added {
            orders: orders.accepted,
            interactions: interactions.accepted,
            reviews: reviews.accepted,
            earlier,
            first_row,
            last_row: chunk.iter().map(|p| p.row).max().unwrap_or(0),
        };

        // 5. Fold profile data in and bring each touched profile's summary up to date.
        let mut touched: BTreeMap<CustomerId, Vec<(usize, ValidCustomer)>> = merges;
        let customers = added
            .orders
            .iter()
            .map(|(o, _)| o.customer_id)
            .chain(added.interactions.iter().map(|(i, _)| i.customer_id))
            .chain(added.reviews.iter().map(|(r, _)| r.customer_id))
            .chain(added.earlier.iter().map(|(id, _)| *id))
            .chain(created_ids.iter().copied());
        for id in customers {
            touched.entry(id).or_default();
        }
        let Refreshed {
            merged: changed,
            created_by_chunk,
            tiers,
            tier_changes,
        } = self
            .refresh(&touched, &valid, &chunk, import, &added)
            .await?;
        let stored_orders: Vec<Order> = added.orders.iter().map(|(o, _)| o.clone()).collect();
        let stored_reviews: Vec<Review> = added.reviews.iter().map(|(r, _)| r.clone()).collect();
        self.reward(&tiers, &tier_changes, &stored_orders, &stored_reviews)
            .await?;
        // Later statuses of stored orders, once this chunk's orders are in.
        for (position, order) in new_status {
            match self.import_status(&order, &mark_at(position)).await? {
                Ok(()) => {
                    activity_of.insert(position, true);
                }
                Err(invalid) => {
                    refused.insert(position, invalid);
                }
            }
        }
        // Customers a failed attempt at this chunk created are found stored
        // now; they are still this chunk's creations.
        for id in created_by_chunk {
            if created_ids.insert(id) {
                created.customers += 1;
            }
        }
        created.customers_merged += changed
            .iter()
            .filter(|(id, fields)| !fields.is_empty() && !created_ids.contains(id))
            .count() as u64;

        // 6. Every consent decision that came goes to the ledger, after the
        //    profile holding its current state; a chunk applied again
        //    appends nothing twice.
        self.record_consents(&valid, &owner_of, &chunk, import)
            .await?;

        // 7. Outcomes.
        for (position, (rows, _, record)) in valid.iter().enumerate() {
            let Some(customer) = owner_of[position] else {
                continue;
            };
            let outcome = match record {
                Valid::Customer
                    if created_ids.contains(&customer) && first_of(&owner_of, position) =>
                {
                    Outcome::Accepted { customer }
                }
                Valid::Customer
                    if changed
                        .get(&customer)
                        .is_some_and(|f| f.iter().any(|(p, _)| *p == position)) =>
                {
                    Outcome::Merged { customer }
                }
                Valid::Customer => Outcome::Duplicate { customer },
                _ if let Some(invalid) = refused.remove(&position) => Outcome::Rejected(invalid),
                _ if activity_of.get(&position).copied().unwrap_or(false) => {
                    Outcome::Accepted { customer }
                }
                _ => Outcome::Duplicate { customer },
            };
            for &row in rows {
                outcomes[row] = Some(outcome.clone());
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Outcome::Rejected(
                        FieldError::new("row", "internal", "was not processed").into(),
                    )
                })
            })
            .collect();
        Ok((outcomes, created))
    }

    /// A chunk's orders (an import's, or an API request's) against the
    /// numbers stored. Each number new to the table is claimed for the
    /// first row that has it before its order is written
    /// (`ActivityRepository::claim_orders`), so imports and batches running
    /// at once store and count an order once. A row whose number another
    /// row holds (another import or request, the API, an earlier row of
    /// this file) adds nothing: a duplicate when it is the same order,
    /// otherwise rejected (`refused`) naming `order.id`. A row that holds
    /// its number (claimed now, or by a failed attempt at this chunk, whose
    /// claim is renewed) is accepted and its order written, again if need
    /// be: a crash may have come between the claim and the order's write.
    /// A claim of the same order whose claimant failed for good
    /// (`Holder::abandoned`) is taken over, and the order written.
    async fn claim_orders(
        &self,
        orders: Vec<(usize, Order)>,
        mark_at: impl Fn(usize) -> RowMark,
        first_row: u64,
        accepted_at: &mut HashMap<usize, bool>,
        refused: &mut HashMap<usize, Invalid>,
        taken_by_others: &mut HashSet<usize>,
    ) -> Result<Claimed, StoreError> {
        // Each number's first row in the chunk, the one that claims it.
        let mut first_of: HashMap<OrderId, usize> = HashMap::new();
        let mut firsts: Vec<usize> = Vec::new();
        for (index, (_, order)) in orders.iter().enumerate() {
            if let Entry::Vacant(slot) = first_of.entry(order.id.clone()) {
                slot.insert(index);
                firsts.push(index);
            }
        }
        let bare: Vec<Order> = firsts.iter().map(|&i| orders[i].1.clone()).collect();
        let stored = self.activity.order_holders(&bare).await?;
        let free: Vec<(usize, (Order, RowMark))> = firsts
            .iter()
            .zip(&stored)
            .map(|(&i, holder)| (i, holder, mark_at(orders[i].0)))
            .filter(|(_, holder, mark)| {
                holder
                    .as_ref()
                    .is_none_or(|h| h.abandoned || h.by.as_ref() == Some(mark))
            })
            .map(|(i, _, mark)| (i, (orders[i].1.clone(), mark)))
            .collect();
        let claims: Vec<(Order, RowMark)> = free.iter().map(|(_, claim)| claim.clone()).collect();
        let claimed = self
            .activity
            .claim_orders(&claims, CLAIMS_IN_FLIGHT)
            .await?;
        let mut holder_of: HashMap<usize, Holder> = firsts
            .iter()
            .zip(stored)
            .filter_map(|(&i, holder)| Some((i, holder?)))
            .collect();
        // The claims' outcome replaces what was read before them.
        holder_of.extend(free.iter().map(|(i, _)| *i).zip(claimed));
        let judge = |holder: Holder, mark: &RowMark| match holder {
            Holder { by: Some(by), .. } if by == *mark => Verdict::Accepted,
            // This row changed the status before (a failed attempt at this
            // chunk): changed again, it finishes the recount and claw-back.
            Holder {
                order: Sameness::Same,
                status_by: Some(by),
                ..
            } if by == *mark => Verdict::NewStatus,
            // A later row of this import changed it since (this chunk
            // applied again): this row's change was made and overtaken.
            Holder {
                order: Sameness::Same | Sameness::OtherStatus,
                status_by: Some(by),
                ..
            } if by.import == mark.import && by.row > mark.row => Verdict::Superseded,
            Holder {
                order: Sameness::OtherStatus,
                ..
            } => Verdict::NewStatus,
            Holder {
                by: Some(by),
                order: Sameness::Same,
                ..
            } if by.import == mark.import && by.row < first_row => Verdict::Earlier(by.row),
            Holder {
                order: Sameness::Same,
                ..
            } => Verdict::Duplicate,
            Holder { order, .. } => Verdict::Refused(order),
        };
        let mut verdicts: Vec<Option<Verdict>> = vec![None; orders.len()];
        for &index in &firsts {
            verdicts[index] = holder_of
                .remove(&index)
                .map(|holder| judge(holder, &mark_at(orders[index].0)));
        }
        // A later row of a number its first row holds is judged against that
        // row; the others against whoever holds the number, read again now
        // (another import may have claimed it since the first read).
        let mut unheld = Vec::new();
        for (index, (_, order)) in orders.iter().enumerate() {
            let first = first_of[&order.id];
            if first == index {
                continue;
            }
            // Judged against the first row when that row's order is the one
            // the number will hold once this chunk is applied.
            if matches!(
                verdicts[first],
                Some(Verdict::Accepted | Verdict::NewStatus)
            ) {
                let held = &orders[first].1;
                verdicts[index] = Some(if held == order {
                    Verdict::Duplicate
                } else if held.customer_id != order.customer_id {
                    Verdict::Refused(Sameness::OtherCustomer)
                } else if *held
                    == (Order {
                        status: held.status,
                        ..order.clone()
                    })
                {
                    Verdict::NewStatus
                } else {
                    Verdict::Refused(Sameness::OtherDetails)
                });
            } else {
                unheld.push(index);
            }
        }
        let bare: Vec<Order> = unheld.iter().map(|&i| orders[i].1.clone()).collect();
        for (&index, holder) in unheld.iter().zip(self.activity.order_holders(&bare).await?) {
            verdicts[index] = holder.map(|holder| judge(holder, &mark_at(orders[index].0)));
        }

        let mut sorted = Sorted {
            accepted: Vec::new(),
            to_write: Vec::new(),
            earlier: Vec::new(),
        };
        let mut new_status = Vec::new();
        for ((position, order), verdict) in orders.into_iter().zip(verdicts) {
            let mark = mark_at(position);
            // No holder found for a number it could not claim: its lookup
            // went (an erasure) meanwhile. Reported, not silently dropped.
            let verdict = verdict.unwrap_or(Verdict::Refused(Sameness::OtherDetails));
            accepted_at.insert(position, verdict == Verdict::Accepted);
            match verdict {
                Verdict::Accepted => {
                    sorted.to_write.push((order.clone(), Some(mark.clone())));
                    sorted.accepted.push((order, Some(mark)));
                }
                Verdict::Earlier(row) => sorted.earlier.push((order, row)),
                Verdict::NewStatus => new_status.push((position, order)),
                Verdict::Superseded => {
                    accepted_at.insert(position, true);
                }
                Verdict::Duplicate => {}
                Verdict::Refused(how) => {
                    if how == Sameness::OtherCustomer {
                        taken_by_others.insert(position);
                    }
                    refused.insert(position, number_taken(how));
                }
            }
        }
        Ok(Claimed { sorted, new_status })
    }

    async fn record_consents(
        &self,
        valid: &[(Vec<usize>, ValidCustomer, Valid)],
        owner_of: &[Option<CustomerId>],
        chunk: &[Pending],
        import: Option<&str>,
    ) -> Result<(), IngestError> {
        let now = Utc::now();
        let mut appends = Vec::new();
        for (position, (rows, customer, _)) in valid.iter().enumerate() {
            let Some(owner) = owner_of[position].filter(|_| !customer.consents.is_empty()) else {
                continue;
            };
            let pending = &chunk[rows[0]];
            let recorded_by = match import {
                Some(import) => consent::recorded_by_import(import, pending.row),
                None => pending.origin.source.clone(),
            };
            let records: Vec<ConsentRecord> = customer
                .consents
                .iter()
                .map(|decision| ConsentRecord::new(decision.clone(), recorded_by.clone(), now))
                .collect();
            appends.push((owner, records));
        }
        // Conditional puts (a batch write cannot be conditional), several
        // rows' decisions in flight at once.
        futures::stream::iter(appends)
            .map(|(owner, records)| async move { self.consents.append_all(owner, &records).await })
            .buffer_unordered(CONSENT_WRITES_IN_FLIGHT)
            .try_collect::<Vec<usize>>()
            .await?;
        Ok(())
    }

    /// The consent ledger this ingestor appends to.
    pub fn consent_ledger(&self) -> &ConsentLedger {
        &self.consents
    }

    /// Records one order, interaction or review for a customer known by id,
    /// and brings the profile's summary up to date. `None`: no such customer.
    pub async fn record_for(
        &self,
        customer: CustomerId,
        activity: Activity,
    ) -> Result<Option<Outcome>, IngestError> {
        let Some(profile) = self.customers.get(customer).await? else {
            return Ok(None);
        };
        let mut orders = Vec::new();
        let mut reviews = Vec::new();
        let recorded = match activity {
            Activity::Order(input) => match input.validate(customer, &self.options) {
                Ok(order) => {
                    if let Some(invalid) = order_coupons::redeem_one(&self.rewards, &order).await? {
                        return Ok(Some(Outcome::Rejected(invalid)));
                    }
                    let recorded = self.activity.record_order(&order).await?;
                    orders.push(order);
                    recorded
                }
                Err(invalid) => return Ok(Some(Outcome::Rejected(invalid))),
            },
            Activity::Interaction(input) => match input.validate(customer, &self.options) {
                Ok(interaction) => self.activity.record_interaction(&interaction).await?,
                Err(invalid) => return Ok(Some(Outcome::Rejected(invalid))),
            },
            Activity::Review(input) => match input.validate(customer, &self.options) {
                Ok(review) => {
                    let recorded = self.activity.record_review(&review).await?;
                    reviews.push(review);
                    recorded
                }
                Err(invalid) => return Ok(Some(Outcome::Rejected(invalid))),
            },
        };
        if recorded == Recorded::AlreadyStored {
            // Sent again, perhaps after a failure between storing it and
            // rewarding it: the same order (or review) of this customer
            // earns now if it did not then (earning is idempotent).
            let holder = match orders.first() {
                Some(order) => self
                    .activity
                    .order_holders(std::slice::from_ref(order))
                    .await?
                    .pop()
                    .flatten()
                    .map(|h| h.order),
                None => Some(Sameness::Same),
            };
            if holder == Some(Sameness::OtherCustomer) {
                order_coupons::give_back(&self.rewards, &orders.iter().collect::<Vec<_>>()).await?;
            }
            let same = holder == Some(Sameness::Same);
            if same && !(orders.is_empty() && reviews.is_empty()) {
                let tiers = HashMap::from([(customer, profile.tier)]);
                self.reward(&tiers, &[], &orders, &reviews).await?;
            }
            return Ok(Some(Outcome::Duplicate { customer }));
        }
        self.recount_and_reward(&[customer], &orders, &reviews)
            .await?;
        Ok(Some(Outcome::Accepted { customer }))
    }

    /// Recounts these customers' summaries from their whole histories (the
    /// repair for a summary that cannot be trusted; `Summaries::Recount`).
    pub async fn recount_summaries(&self, customers: &[CustomerId]) -> Result<(), IngestError> {
        self.recount_and_reward(customers, &[], &[]).await
    }

    /// Recounts the customers' summaries, then rewards what `orders` and
    /// `reviews` (theirs, stored) earn.
    async fn recount_and_reward(
        &self,
        customers: &[CustomerId],
        orders: &[Order],
        reviews: &[Review],
    ) -> Result<(), IngestError> {
        let touched = customers.iter().map(|id| (*id, Vec::new())).collect();
        let refreshed = self
            .refresh(&touched, &[], &[], None, &Added::default())
            .await?;
        self.reward(&refreshed.tiers, &refreshed.tier_changes, orders, reviews)
            .await
    }

    /// Rewards follow the saved profiles: what stored purchases, reviews
    /// and first purchases of referred customers earn (at the tier each
    /// customer is in now), and the coupons a move up grants. Both are
    /// idempotent, so records applied again earn nothing twice.
    async fn reward(
        &self,
        tiers: &HashMap<CustomerId, Option<Tier>>,
        tier_changes: &[TierChangeRecord],
        orders: &[Order],
        reviews: &[Review],
    ) -> Result<(), IngestError> {
        let policy = self.rewards.policies.policy().await?.policy;
        self.rewards
            .grant_tier_benefits(&policy, tier_changes)
            .await?;
        self.rewards.earn(&policy, orders, reviews, tiers).await?;
        Ok(())
    }

    /// Validates a group of rows (one record, or an order's lines).
    #[allow(clippy::type_complexity)]
    fn validate(
        &self,
        chunk: &[Pending],
        group: &[usize],
    ) -> Result<(ValidCustomer, Valid, Vec<Product>), Vec<(usize, Invalid)>> {
        let first = &chunk[group[0]];
        let reject_all = |invalid: Invalid| {
            group
                .iter()
                .map(|i| (*i, invalid.clone()))
                .collect::<Vec<_>>()
        };
        let customer = first
            .record
            .customer()
            .validate(&self.options, first.origin.at)
            .map_err(|e| reject_all(under("customer", e)))?;
        let placeholder = CustomerId::generate();
        let record = match &first.record {
            ImportRecord::Customer(_) => (Valid::Customer, Vec::new()),
            ImportRecord::Order { order, .. } => (
                Valid::Order(
                    order
                        .validate(placeholder, &self.options)
                        .map_err(reject_all)?,
                ),
                Vec::new(),
            ),
            ImportRecord::OrderLine { order, .. } => {
                let mut whole = order.clone();
                whole.lines = group
                    .iter()
                    .filter_map(|i| match &chunk[*i].record {
                        ImportRecord::OrderLine { order, .. } => order.lines.first().cloned(),
                        _ => None,
                    })
                    .collect();
                let order = whole
                    .validate(placeholder, &self.options)
                    .map_err(|invalid| line_rejections(group, invalid))?;
                let products = group
                    .iter()
                    .filter_map(|i| match &chunk[*i].record {
                        ImportRecord::OrderLine { product, .. } => product.as_ref(),
                        _ => None,
                    })
                    .map(|p| p.validate(self.options.currency))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| reject_all(under("product", e)))?;
                (Valid::Order(order), products)
            }
            ImportRecord::Interaction { interaction, .. } => (
                Valid::Interaction(
                    interaction
                        .validate(placeholder, &self.options)
                        .map_err(reject_all)?,
                ),
                Vec::new(),
            ),
            ImportRecord::Review { review, .. } => (
                Valid::Review(
                    review
                        .validate(placeholder, &self.options)
                        .map_err(reject_all)?,
                ),
                Vec::new(),
            ),
        };
        Ok((customer, record.0, record.1))
    }

    /// The customers' summaries recounted, re-warming their cold records.
    async fn recounts_of(
        &self,
        customers: Vec<CustomerId>,
    ) -> Result<HashMap<CustomerId, Recount>, StoreError> {
        let activity = self.activity.clone();
        futures::stream::iter(customers)
            .map(move |id| {
                let activity = activity.clone();
                async move { Ok::<_, StoreError>((id, activity.recount(id).await?)) }
            })
            .buffer_unordered(ACTIVITY_READS_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Which of these customers need a recount rather than the chunk's
    /// additions: one with cold records to bring back, or whose summary
    /// lacks rows an earlier chunk of this import stored for them.
    async fn needing_recount(
        &self,
        profiles: &HashMap<CustomerId, Customer>,
        import: &str,
        added: &Added,
    ) -> Result<HashSet<CustomerId>, StoreError> {
        let mut stale: HashSet<CustomerId> = added
            .earlier
            .iter()
            .filter(|(id, row)| {
                profiles.get(id).is_some_and(|profile| {
                    activity::counted_up_to(&profile.summary_marks, import)
                        .is_none_or(|counted| counted < *row)
                })
            })
            .map(|(id, _)| *id)
            .collect();
        let activity = self.activity.clone();
        let cold: Vec<(CustomerId, bool)> = futures::stream::iter(profiles.keys().copied())
            .map(move |id| {
                let activity = activity.clone();
                async move { Ok::<_, StoreError>((id, activity.rewarm_due(id).await?)) }
            })
            .buffer_unordered(ACTIVITY_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        stale.extend(cold.into_iter().filter(|(_, due)| *due).map(|(id, _)| id));
        Ok(stale)
    }

    /// Applies pending merges and brings summaries up to date (recounted, or
    /// with `added` for an import), saving each changed profile; re-reads
    /// and retries a profile that changed meanwhile.
    async fn refresh(
        &self,
        touched: &BTreeMap<CustomerId, Vec<(usize, ValidCustomer)>>,
        valid: &[(Vec<usize>, ValidCustomer, Valid)],
        chunk: &[Pending],
        import: Option<&str>,
        added: &Added,
    ) -> Result<Refreshed, IngestError> {
        let mut pending: Vec<CustomerId> = touched.keys().copied().collect();
        let mut merged: HashMap<CustomerId, Vec<(usize, Vec<MergedField>)>> = HashMap::new();
        let mut created_by_chunk = HashSet::new();
        let mut tiers = HashMap::new();
        let mut all_tier_changes = Vec::new();
        // Read once per chunk or request, with the bounds the last refresh
        // calibrated: a policy change reaches the other customers through
        // the daily refresh.
        let policy = self.values.in_force().await?.policy;
        for _ in 0..SAVE_ATTEMPTS {
            if pending.is_empty() {
                return Ok(Refreshed {
                    merged,
                    created_by_chunk,
                    tiers,
                    tier_changes: all_tier_changes,
                });
            }
            let profiles = self.customers.get_many(&pending).await?;
            if let Some(import) = import {
                created_by_chunk.extend(
                    profiles
                        .values()
                        .filter(|profile| created_by(profile, import, added))
                        .map(|profile| profile.id),
                );
            }
            // New data for a customer brings their cold records back.
            let recount: Vec<CustomerId> = match import {
                Some(import) => {
                    let due = self.needing_recount(&profiles, import, added).await?;
                    pending
                        .iter()
                        .copied()
                        .filter(|id| due.contains(id))
                        .collect()
                }
                None => pending
                    .iter()
                    .copied()
                    .filter(|id| profiles.contains_key(id))
                    .collect(),
            };
            let recounts = self.recounts_of(recount).await?;
            let mut changes = Vec::new();
            let mut entries = Vec::new();
            let mut tier_changes = Vec::new();
            for id in &pending {
                let Some(before) = profiles.get(id) else {
                    continue;
                };
                let mut after = before.clone();
                let mut fields = Vec::new();
                for (position, input) in touched.get(id).into_iter().flatten() {
                    let pending = &chunk[valid[*position].0[0]];
                    let origin = &pending.origin;
                    let changed = after.merge(input.clone(), origin);
                    if !changed.is_empty() {
                        entries.push(MergeEntry {
                            id: uuid::Uuid::now_v7().to_string(),
                            customer_id: *id,
                            at: origin.at,
                            cause: format!("{} row {}", origin.source, pending.row),
                            fields: changed.clone(),
                            conflicts: Vec::new(),
                        });
                        fields.push((*position, changed));
                    }
                }
                if let Some(recount) = recounts.get(id) {
                    after.activity = recount.summary.clone();
                    for mark in &recount.marks {
                        activity::mark_counted(&mut after.summary_marks, &mark.import, mark.row);
                    }
                }
                if let Some(import) = import {
                    add_chunk(&mut after, import, added, recounts.contains_key(id));
                }
                // The tier follows the purchases; a profile stored before
                // value tiers existed gets one on its next write.
                if after.activity != before.activity
                    || (after.value.is_none() && after.activity.purchases > 0)
                {
                    let now = Utc::now();
                    let value = policy.assess(&after.activity, self.options.currency, now);
                    if let Some(change) = TierChange::between(
                        before.value.as_ref(),
                        value.as_ref(),
                        now,
                        AssessmentCause::Purchases,
                    ) {
                        tier_changes.push(TierChangeRecord {
                            customer_id: *id,
                            change,
                        });
                    }
                    after.set_value(value);
                }
                merged.insert(*id, fields);
                tiers.insert(*id, after.tier);
                if after != *before {
                    changes.push((before.clone(), after));
                }
            }
            // A move's record goes in its profile's transaction.
            let with = changes
                .iter()
                .map(|(before, _)| {
                    tier_changes
                        .iter()
                        .filter(|c| c.customer_id == before.id)
                        .map(ValueRepository::record_op)
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let results = self.customers.save_many_with(&changes, with).await;
            let mut retry = Vec::new();
            let mut saved_entries = Vec::new();
            let mut saved_tier_changes = Vec::new();
            for ((before, _), result) in changes.iter().zip(results) {
                match result {
                    Ok(_) => {
                        saved_entries.extend(
                            entries
                                .iter()
                                .filter(|e| e.customer_id == before.id)
                                .cloned(),
                        );
                        saved_tier_changes.extend(
                            tier_changes
                                .iter()
                                .filter(|c| c.customer_id == before.id)
                                .cloned(),
                        );
                    }
                    Err(StoreError::Conflict { .. } | StoreError::IdentifierTaken { .. }) => {
                        retry.push(before.id)
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            self.merges.append(&saved_entries).await?;
            all_tier_changes.extend(saved_tier_changes);
            for id in &retry {
                merged.remove(id);
                tiers.remove(id);
            }
            pending = retry;
        }
        match pending.first() {
            Some(id) => Err(IngestError::Contended(*id)),
            None => Ok(Refreshed {
                merged,
                created_by_chunk,
                tiers,
                tier_changes: all_tier_changes,
            }),
        }
    }
}

/// What an import row's order number brought it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// The row holds the number: its order is stored.
    Accepted,
    /// The same order, stored by another row.
    Duplicate,
    /// The same order, stored by that earlier chunk's row of this import.
    Earlier(u64),
    /// Another order holds the number.
    Refused(Sameness),
    /// The same order of the same customer with another status: a later
    /// status (a refund, a cancellation, a shipment) to apply.
    NewStatus,
    /// A status this row set, since changed by a later row of its import.
    Superseded,
}

/// A chunk's orders sorted against the numbers stored, and the rows that
/// change a stored order's status (in row order).
struct Claimed {
    sorted: Sorted<Order>,
    new_status: Vec<(usize, Order)>,
}

/// The rejection of a row whose order number holds another order.
fn number_taken(how: Sameness) -> Invalid {
    let reason = match how {
        Sameness::OtherCustomer => "order number already stored for another customer",
        _ => "order number already stored with a different date, lines or total",
    };
    FieldError::new("order.id", "order_number_taken", reason).into()
}

/// Whether a row of this chunk of `import` created the profile.
fn created_by(profile: &Customer, import: &str, added: &Added) -> bool {
    profile.created_by_import.as_ref().is_some_and(|mark| {
        mark.import == import && (added.first_row..=added.last_row).contains(&mark.row)
    })
}

fn identifiers_of(customer: &ValidCustomer) -> Vec<Identifier> {
    // Priority: the source's own id, then e-mail, then phone.
    let mut ids = Vec::new();
    ids.extend(customer.source.clone().map(Identifier::External));
    ids.extend(customer.identity.email.clone().map(Identifier::Email));
    ids.extend(customer.identity.phone.clone().map(Identifier::Phone));
    ids
}

fn under(part: &str, invalid: Invalid) -> Invalid {
    Invalid {
        errors: invalid.errors.into_iter().map(|e| e.under(part)).collect(),
    }
}

/// An order's errors, each on the row of the line it names; the other rows
/// are rejected as part of a rejected order.
fn line_rejections(group: &[usize], invalid: Invalid) -> Vec<(usize, Invalid)> {
    let mut by_row: BTreeMap<usize, Vec<FieldError>> = BTreeMap::new();
    let mut order_level = Vec::new();
    for error in invalid.errors {
        let line = error
            .field
            .strip_prefix("lines[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(n, rest)| {
                n.parse::<usize>()
                    .ok()
                    .map(|n| (n, rest.trim_start_matches('.').to_owned()))
            });
        match line.and_then(|(n, field)| group.get(n).map(|row| (*row, field))) {
            Some((row, field)) => by_row.entry(row).or_default().push(FieldError {
                field: format!("line.{field}"),
                ..error
            }),
            None => order_level.push(error),
        }
    }
    group
        .iter()
        .map(|row| {
            let mut errors = by_row.remove(row).unwrap_or_default();
            errors.extend(order_level.iter().cloned());
            if errors.is_empty() {
                errors.push(FieldError::new(
                    "order.id",
                    "order_rejected",
                    "another line of this order was rejected",
                ));
            }
            (*row, Invalid { errors })
        })
        .collect()
}

/// Groups consecutive order-line rows with the same order number; every
/// other record is a group of one.
fn group_order_lines(chunk: &[Pending]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, pending) in chunk.iter().enumerate() {
        if let ImportRecord::OrderLine { order, .. } = &pending.record
            && let Some(last) = groups.last_mut()
            && let ImportRecord::OrderLine {
                order: previous, ..
            } = &chunk[last[0]].record
            && !order.id.is_empty()
            && previous.id == order.id
        {
            last.push(index);
            continue;
        }
        groups.push(vec![index]);
    }
    groups
}

fn first_of(owner_of: &[Option<CustomerId>], position: usize) -> bool {
    owner_of[..position]
        .iter()
        .all(|o| *o != owner_of[position])
}

/// Brings a profile's summary forward with what a chunk of `import` added
/// for the customer: the records of rows the summary does not count yet
/// (none if `recounted`, whose history already holds them); then marks the
/// chunk counted.
fn add_chunk(profile: &mut Customer, import: &str, added: &Added, recounted: bool) {
    let id = profile.id;
    let counted = activity::counted_up_to(&profile.summary_marks, import);
    let missing = |mark: &Option<RowMark>| {
        mark.as_ref()
            .is_some_and(|m| counted.is_none_or(|counted| m.row > counted))
    };
    let orders: Vec<Order> = added
        .orders
        .iter()
        .filter(|(o, m)| o.customer_id == id && missing(m))
        .map(|(o, _)| o.clone())
        .collect();
    let interactions: Vec<Interaction> = added
        .interactions
        .iter()
        .filter(|(i, m)| i.customer_id == id && missing(m))
        .map(|(i, _)| i.clone())
        .collect();
    let reviews: Vec<Review> = added
        .reviews
        .iter()
        .filter(|(r, m)| r.customer_id == id && missing(m))
        .map(|(r, _)| r.clone())
        .collect();
    let adds = !orders.is_empty() || !interactions.is_empty() || !reviews.is_empty();
    if adds && !recounted {
        profile
            .activity
            .merge(&ActivitySummary::of(&orders, &interactions, &reviews));
    }
    if adds || recounted {
        activity::mark_counted(&mut profile.summary_marks, import, added.last_row);
    }
}

/// Sorts a chunk's records of one kind out against what is stored: new
/// ones, ones this row stored in a failed attempt at the chunk (`own`
/// gives a position's row mark; none outside imports), and repeats. Notes
/// for each position whether it is accepted.
fn sort_out<T: Clone, K: Hash + Eq>(
    records: Vec<(usize, T)>,
    stored: &[Stored],
    own: impl Fn(usize) -> Option<RowMark>,
    first_row: u64,
    accepted_at: &mut HashMap<usize, bool>,
    identity: impl Fn(&T) -> K,
) -> Sorted<T> {
    let mut seen = HashSet::new();
    let mut sorted = Sorted {
        accepted: Vec::new(),
        to_write: Vec::new(),
        earlier: Vec::new(),
    };
    for ((position, record), stored) in records.into_iter().zip(stored) {
        let mark = own(position);
        let (accepted, write) = match stored {
            Stored::Absent => (seen.insert(identity(&record)), true),
            Stored::Present(Some(by)) if mark.as_ref() == Some(by) => {
                (seen.insert(identity(&record)), false)
            }
            Stored::Present(Some(by))
                if mark.as_ref().is_some_and(|m| m.import == by.import) && by.row < first_row =>
            {
                sorted.earlier.push((record.clone(), by.row));
                (false, false)
            }
            Stored::Present(_) => (false, false),
        };
        accepted_at.insert(position, accepted);
        if accepted {
            if write {
                sorted.to_write.push((record.clone(), mark.clone()));
            }
            sorted.accepted.push((record, mark));
        }
    }
    sorted
}

fn marked<T: Clone>(records: &[(T, Option<RowMark>)]) -> Vec<(T, RowMark)> {
    records
        .iter()
        .filter_map(|(record, mark)| mark.clone().map(|mark| (record.clone(), mark)))
        .collect()
}

fn unmarked<T: Clone>(records: &[(T, Option<RowMark>)]) -> Vec<T> {
    records.iter().map(|(record, _)| record.clone()).collect()
}
