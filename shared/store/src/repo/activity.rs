//! What customers do: orders, interactions and reviews, each kept in the
//! customer's partition, ordered by time, so one query reads a history.
//! The free text of interactions and reviews (chats, complaints, reviews)
//! may hold anything a person wrote about themselves, so it is sealed with
//! the customer's data key like a profile's personal fields.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use strata_domain::activity::{ActivitySummary, RowMark};
use strata_domain::ids::{CustomerId, OrderId};
use strata_domain::interaction::Interaction;
use strata_domain::order::{Order, OrderStatus};
use strata_domain::ports::table::{
    Condition, Item, Key, Query, SortCondition, Table, TableError, TransactOp, Update, Value,
    WriteRequest,
};
use strata_domain::review::Review;

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::cold::{self, ColdPointer, ColdTier, Fetched, ObjectContent};
use crate::error::StoreError;
use crate::keys;
use crate::personal::{self, Privacy};
use strata_domain::ports::keys::DataKey;
use strata_domain::retention::{RetainedData, RetentionMonth};

/// A time window `[from, to]`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Everything a customer's partition holds, oldest first per kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub orders: Vec<Order>,
    pub interactions: Vec<Interaction>,
    pub reviews: Vec<Review>,
}

/// Whether a record is stored, and if an import wrote it, from which row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Absent,
    Present(Option<RowMark>),
}

/// A customer's summary recounted from the whole history, and how far each
/// import whose records are hot is counted in it (its highest row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recount {
    pub summary: ActivitySummary,
    pub marks: Vec<RowMark>,
}

/// Who holds an order number: the import row (or API request) that claimed
/// it (`None`: the API recorded it with its order), and how the order
/// stored under it compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub by: Option<RowMark>,
    pub order: Sameness,
    /// The import row that last changed the order's status, if one did:
    /// a retried chunk finishes what that row's change left undone.
    pub status_by: Option<RowMark>,
    /// A claim of this very order whose order is stored nowhere (hot or
    /// cold), and either older than `CLAIM_HANDOVER` or bearing no claim
    /// time yet: its claimant failed for good. Claiming the number again
    /// (`claim_orders`) takes it over, or stamps the time it was first seen.
    pub abandoned: bool,
}

/// How long a claim whose order was never written holds the number: longer
/// than any invocation runs (Lambda stops one at 15 minutes), so a claimant
/// this old is gone and its claim may be taken over.
pub const CLAIM_HANDOVER: chrono::Duration = chrono::Duration::minutes(30);

/// How the order holding a number compares with another of that number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sameness {
    /// The same customer and details: the same order.
    Same,
    OtherCustomer,
    /// The same customer and details but for the status: a later status
    /// of the same order (shipped, refunded, cancelled).
    OtherStatus,
    /// The same customer, another date, lines or total.
    OtherDetails,
}

/// What asking for an order's status to change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    /// Changed; the order as it was.
    Changed(Order),
    /// It had that status already.
    Unchanged(Order),
    /// Its status cannot become the one asked for.
    Refused(Order),
    /// The customer has no order of that number.
    NotFound,
}

/// Whether a record was new or had been stored before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    AlreadyStored,
}

#[derive(Clone)]
pub struct ActivityRepository {
    table: Arc<dyn Table>,
    cold: Option<ColdTier>,
    /// None: texts are read as absent and records with text cannot be written.
    privacy: Option<Arc<Privacy>>,
}

/// The attribute a record's free text is kept in, before sealing.
const TEXT: &str = "text";

/// Records whose free text is sealed.
trait WithText: Sync {
    fn customer(&self) -> CustomerId;
    /// The month whose retention key the text is sealed under too.
    fn month(&self) -> RetentionMonth;
    fn text(&self) -> Option<&str>;
    fn set_text(&mut self, text: Option<String>);
}

impl WithText for Interaction {
    fn customer(&self) -> CustomerId {
        self.customer_id
    }
    fn month(&self) -> RetentionMonth {
        RetentionMonth::of(RetainedData::InteractionText, self.at)
    }
    fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn set_text(&mut self, text: Option<String>) {
        self.text = text;
    }
}

impl WithText for Review {
    fn customer(&self) -> CustomerId {
        self.customer_id
    }
    fn month(&self) -> RetentionMonth {
        RetentionMonth::of(RetainedData::ReviewText, self.at)
    }
    fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    fn set_text(&mut self, text: Option<String>) {
        self.text = text;
    }
}

/// A customer's history is marked read at most this often, so reads stay
/// cheap and the tiering policy still sees customers whose history is looked at.
const READ_MARK_INTERVAL: chrono::Duration = chrono::Duration::hours(24);

impl ActivityRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ActivityRepository {
            table,
            cold: None,
            privacy: None,
        }
    }

    /// Seals texts on writing and opens them on reading with customers'
    /// data keys. Without it, texts read as absent (jobs need none).
    pub fn with_privacy(mut self, privacy: Arc<Privacy>) -> Self {
        self.privacy = Some(privacy);
        self
    }

    /// The keys that seal the texts of these records: their customers'
    /// and their months'.
    async fn text_keys<'a>(
        &self,
        records: impl Iterator<Item = &'a dyn WithText>,
    ) -> Result<TextKeys, StoreError> {
        let (mut customers, mut months): (Vec<CustomerId>, Vec<RetentionMonth>) = records
            .filter(|r| r.text().is_some())
            .map(|r| (r.customer(), r.month()))
            .unzip();
        if customers.is_empty() {
            return Ok(TextKeys::default());
        }
        customers.sort();
        customers.dedup();
        months.sort();
        months.dedup();
        let privacy = self.privacy.as_deref().ok_or(StoreError::Pseudonymous)?;
        Ok(TextKeys {
            customers: privacy.keys_for_writing(&customers).await?,
            months: privacy.month_keys(&months, true).await?,
        })
    }

    /// Opens the texts of decoded records from their items (same order).
    async fn open_texts<T: WithText>(
        &self,
        customer: CustomerId,
        records: &mut [T],
        items: &[&Item],
    ) -> Result<(), StoreError> {
        let sealed: Vec<(usize, &str)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((i, item.get(codec::SEALED)?.as_str()?)))
            .collect();
        if sealed.is_empty() {
            return Ok(());
        }
        let Some(privacy) = self.privacy.as_deref() else {
            return Ok(()); // pseudonymous: texts stay absent
        };
        let keys = privacy.keys_for_reading(&[customer]).await?;
        let key = keys.get(&customer).ok_or(StoreError::Erased { customer })?;
        let corrupt = |index: usize| {
            move |reason: String| StoreError::Corrupt {
                key: Key::of(items[index]),
                reason,
            }
        };
        let mut months = Vec::new();
        for (index, value) in &sealed {
            if let Some(month) = personal::sealed_month(value).map_err(corrupt(*index))? {
                months.push(month);
            }
        }
        months.sort();
        months.dedup();
        let month_keys = privacy.month_keys(&months, false).await?;
        for (index, value) in sealed {
            let month = personal::sealed_month(value).map_err(corrupt(index))?;
            let month_key = month.and_then(|m| month_keys.get(&m));
            // A month past its limit: the text is gone, the record stays.
            let text = personal::open_by_month(key, month_key, customer, value)
                .and_then(|bytes| {
                    bytes
                        .map(|b| String::from_utf8(b).map_err(|e| e.to_string()))
                        .transpose()
                })
                .map_err(corrupt(index))?;
            records[index].set_text(text);
        }
        Ok(())
    }

    /// Reads the cold tier too: histories come back whole, summaries count
    /// cold records, and `returning` brings them back into the table.
    pub fn with_cold_tier(mut self, cold: ColdTier) -> Self {
        self.cold = Some(cold);
        self
    }

    /// Stores an order once: an order number seen before is not stored again,
    /// whichever customer or time it came with. A number held by an
    /// abandoned claim of this very order (`Holder::abandoned`) is taken
    /// over, in the order's transaction, conditional on the claim unchanged.
    pub async fn record_order(&self, order: &Order) -> Result<Recorded, StoreError> {
        let ops = |lookup: Condition| -> Result<Vec<TransactOp>, StoreError> {
            Ok(vec![
                TransactOp::Put {
                    item: order_lookup_item(order),
                    condition: Some(lookup),
                },
                TransactOp::Put {
                    item: order_item(order)?,
                    condition: None,
                },
            ])
        };
        let taken = |result: Result<(), TableError>| match result {
            Ok(()) => Ok(Recorded::New),
            Err(TableError::TransactionCanceled(_)) | Err(TableError::ConditionFailed) => {
                Ok(Recorded::AlreadyStored)
            }
            Err(other) => Err(other.into()),
        };
        let first = taken(self.table.transact_write(ops(Condition::NotExists)?).await)?;
        if first == Recorded::New {
            return Ok(first);
        }
        let key = keys::order_lookup(&order.id);
        let Some(held) = self.table.get(&key).await? else {
            return Ok(Recorded::AlreadyStored);
        };
        match self.takeover(order, &key, &held, Utc::now()).await? {
            Some(unchanged) => taken(self.table.transact_write(ops(unchanged)?).await),
            None => Ok(Recorded::AlreadyStored),
        }
    }

    /// Writes many orders with batch writes; for bulk loads whose order
    /// numbers were de-duplicated beforehand. Re-writing an order is harmless.
    pub async fn put_orders(
        &self,
        orders: &[Order],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let mut writes = Vec::with_capacity(orders.len() * 2);
        for order in orders {
            writes.push(WriteRequest::Put(order_item(order)?));
            writes.push(WriteRequest::Put(order_lookup_item(order)));
        }
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Writes orders whose numbers their API request holds (`claim_orders`):
    /// the orders alone, unstamped like the API's own (an import's carry
    /// their rows: `put_imported`). Rewriting one is harmless.
    pub async fn put_claimed_orders(
        &self,
        orders: &[Order],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = orders
            .iter()
            .map(|order| order_item(order).map(WriteRequest::Put))
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Moves a stored order to another status (a refund, a cancellation, a
    /// shipment): the order and its number's digest change together,
    /// conditional on the status read, so two changes at once cannot both
    /// apply; only the moves `OrderStatus::can_become` allows. An order in
    /// the cold tier is not changed (`StoreError::Archived`): it is read
    /// back before it can be.
    ///
    /// `by`: the import row asking, recorded on the number's lookup
    /// (`Holder::status_by`).
    pub async fn set_order_status(
        &self,
        customer: CustomerId,
        id: &OrderId,
        status: OrderStatus,
        by: Option<&RowMark>,
    ) -> Result<StatusChange, StoreError> {
        let lookup_key = keys::order_lookup(id);
        let Some(lookup) = self.table.get(&lookup_key).await? else {
            return Ok(StatusChange::NotFound);
        };
        let text = |name: &str| lookup.get(name).and_then(Value::as_str);
        if text("customer_id") != Some(customer.to_string().as_str()) {
            return Ok(StatusChange::NotFound);
        }
        let Some(sk) = text("order_sk").map(str::to_owned) else {
            return Ok(StatusChange::NotFound);
        };
        let key = Key::new(keys::customer_partition(customer), sk);
        let Some(item) = self.table.get(&key).await? else {
            return Err(StoreError::Archived {
                what: format!("order {id}"),
            });
        };
        let before: Order = codec::decode(RecordKind::Order, &item)?;
        if before.status == status {
            return Ok(StatusChange::Unchanged(before));
        }
        if !before.status.can_become(status) {
            return Ok(StatusChange::Refused(before));
        }
        let after = Order {
            status,
            ..before.clone()
        };
        let status_value = |s: OrderStatus| -> Result<Value, StoreError> {
            match serde_json::to_value(s) {
                Ok(serde_json::Value::String(name)) => Ok(Value::S(name)),
                _ => Err(StoreError::Encode("an order status".into())),
            }
        };
        let mut lookup_update = Update::default();
        if lookup.contains_key(ORDER_DIGEST) {
            lookup_update = lookup_update.set(ORDER_DIGEST, Value::S(order_digest(&after)?));
        } else {
            lookup_update = lookup_update.set("customer_id", Value::S(customer.to_string()));
        }
        if let Some(by) = by {
            lookup_update = lookup_update.set(STATUS_BY, codec::import_row(by));
        }
        let ops = vec![
            TransactOp::Update {
                key,
                update: Update::default().set("status", status_value(status)?),
                condition: Some(Condition::Equals(
                    "status".into(),
                    status_value(before.status)?,
                )),
            },
            TransactOp::Update {
                key: lookup_key,
                update: lookup_update,
                condition: Some(Condition::Equals(
                    "customer_id".into(),
                    Value::S(customer.to_string()),
                )),
            },
        ];
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(StatusChange::Changed(before)),
            Err(TableError::TransactionCanceled(_)) => Err(StoreError::Conflict {
                what: format!("order {id}"),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// For each order number, whether it is stored already (and by which import row).
    pub async fn stored_orders(&self, ids: &[OrderId]) -> Result<Vec<Stored>, StoreError> {
        self.stored(ids.iter().map(keys::order_lookup).collect())
            .await
    }

    /// For each order, who holds its number already, if anyone: one batch
    /// read per 100 numbers, and the stored order read back only where its
    /// lookup cannot tell whether it is this order.
    pub async fn order_holders(&self, orders: &[Order]) -> Result<Vec<Option<Holder>>, StoreError> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Key> = orders.iter().map(|o| keys::order_lookup(&o.id)).collect();
        let found =
            batch::get_many(self.table.as_ref(), keys.clone(), BatchPolicy::default()).await?;
        let held: Vec<(usize, &Item)> = keys
            .iter()
            .enumerate()
            .filter_map(|(index, key)| Some((index, found.get(key)?)))
            .collect();
        let compared = self
            .compare_holders(held.iter().map(|(index, item)| (&orders[*index], *item)))
            .await?;
        let mut holders = vec![None; orders.len()];
        for ((index, _), holder) in held.iter().zip(compared) {
            holders[*index] = Some(holder);
        }
        let now = Utc::now();
        let mut maybe_abandoned = Vec::new();
        for (index, lookup) in &held {
            let holder = holders[*index].as_ref();
            if holder.is_some_and(|h| h.by.is_some() && h.order == Sameness::Same)
                && claim_may_be_stale(&orders[*index], lookup, now)?
            {
                maybe_abandoned.push(*index);
            }
        }
        let candidates: Vec<&Order> = maybe_abandoned.iter().map(|&i| &orders[i]).collect();
        for (index, stored) in maybe_abandoned
            .iter()
            .zip(self.orders_kept(&candidates).await?)
        {
            if let Some(holder) = holders[*index].as_mut() {
                holder.abandoned = !stored;
            }
        }
        Ok(holders)
    }

    /// Whether each order is stored, hot or in the cold tier (a pointer of
    /// its customer lists it): one batch read per 100 orders, and one query
    /// of a customer's pointers where its order is not hot.
    async fn orders_kept(&self, orders: &[&Order]) -> Result<Vec<bool>, StoreError> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let at: Vec<Key> = orders
            .iter()
            .map(|o| keys::order(o.customer_id, o.placed_at, &o.id))
            .collect();
        let hot = batch::get_many(self.table.as_ref(), at.clone(), BatchPolicy::default()).await?;
        let mut cold: HashMap<CustomerId, Vec<String>> = HashMap::new();
        let mut kept = Vec::with_capacity(orders.len());
        for (order, key) in orders.iter().zip(&at) {
            if hot.contains_key(key) {
                kept.push(true);
                continue;
            }
            if let Entry::Vacant(slot) = cold.entry(order.customer_id) {
                let pointers = Query::partition(keys::customer_partition(order.customer_id))
                    .sort(SortCondition::BeginsWith(keys::COLD_PREFIX.to_owned()));
                let mut listed = Vec::new();
                for item in self.query_all(pointers).await? {
                    listed.extend(ColdPointer::of(&item)?.sort_keys);
                }
                slot.insert(listed);
            }
            kept.push(cold[&order.customer_id].contains(&key.sk));
        }
        Ok(kept)
    }

    /// Claims each order's number for its import row (or API request and
    /// record) before the order is written: a conditional put of the
    /// number's lookup, stamped with the row and the time, that holds only
    /// while no lookup exists; `in_flight` at once. Two imports (or batches)
    /// running at once cannot both store an order number this way. A claim
    /// the row holds already (a failed attempt at the same row) is put again
    /// on the condition that it is still the row's, which renews its time,
    /// so it cannot be taken over while the row writes its order. An
    /// abandoned claim of the same order (`Holder::abandoned`) is taken over
    /// on the condition that it is unchanged. Returns who holds each number
    /// afterwards: the row itself, or whoever had it first (another row,
    /// or the API).
    pub async fn claim_orders(
        &self,
        orders: &[(Order, RowMark)],
        in_flight: usize,
    ) -> Result<Vec<Holder>, StoreError> {
        // Built before they run, so the stream holds no borrowing closure.
        let claims: Vec<_> = orders
            .iter()
            .map(|(order, mark)| self.claim(order, mark))
            .collect();
        let attempts: Vec<Option<Item>> = futures::stream::iter(claims)
            .buffered(in_flight.max(1))
            .try_collect()
            .await?;
        let taken: Vec<(usize, Item)> = attempts
            .into_iter()
            .enumerate()
            .filter_map(|(index, held)| Some((index, held?)))
            .collect();
        let compared = self
            .compare_holders(taken.iter().map(|(index, item)| (&orders[*index].0, item)))
            .await?;
        let mut holders: Vec<Holder> = orders
            .iter()
            .map(|(_, mark)| Holder {
                by: Some(mark.clone()),
                order: Sameness::Same,
                status_by: None,
                abandoned: false,
            })
            .collect();
        for ((index, _), holder) in taken.iter().zip(compared) {
            holders[*index] = holder;
        }
        Ok(holders)
    }

    /// One claim: `None` once the row holds the number, else the lookup of
    /// whoever does. Throttling is retried like a batch's.
    async fn claim(&self, order: &Order, mark: &RowMark) -> Result<Option<Item>, StoreError> {
        let mut item = order_lookup_item(order);
        let own = codec::import_row(mark);
        item.insert(codec::IMPORT_ROW.to_owned(), own.clone());
        item.insert(ORDER_DIGEST.to_owned(), Value::S(order_digest(order)?));
        let key = keys::order_lookup(&order.id);
        let policy = BatchPolicy::default();
        // What the next put requires of the stored lookup.
        let mut condition = Condition::NotExists;
        let mut throttled: u32 = 0;
        for _ in 0..policy.max_attempts * 2 {
            if throttled > 0 {
                tokio::time::sleep(batch::backoff(policy, throttled)).await;
            }
            let now = Utc::now();
            item.insert(CLAIMED_AT.to_owned(), Value::S(keys::time(now)));
            match self.table.put(item.clone(), Some(condition.clone())).await {
                Ok(()) => return Ok(None),
                Err(TableError::ConditionFailed) => throttled = 0,
                Err(error) if error.is_retryable() && throttled + 1 < policy.max_attempts => {
                    throttled += 1;
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
            // A lookup deleted meanwhile (an erasure) is claimed anew.
            let Some(held) = self.table.get(&key).await? else {
                condition = Condition::NotExists;
                continue;
            };
            if held.get(codec::IMPORT_ROW) == Some(&own) {
                condition = Condition::Equals(codec::IMPORT_ROW.to_owned(), own.clone());
                continue;
            }
            match self.takeover(order, &key, &held, now).await? {
                Some(unchanged) => condition = unchanged,
                None => return Ok(Some(held)),
            }
        }
        Err(StoreError::Conflict {
            what: format!("the claim of order number {}", order.id),
        })
    }

    /// If `held`, another's lookup of this order's number, is an abandoned
    /// claim of this very order that may be taken over now: the condition
    /// a write taking it over needs (the claim unchanged). A claim without
    /// a time is stamped instead: its age counts from now.
    async fn takeover(
        &self,
        order: &Order,
        key: &Key,
        held: &Item,
        now: DateTime<Utc>,
    ) -> Result<Option<Condition>, StoreError> {
        let Some(by) = held.get(codec::IMPORT_ROW).cloned() else {
            return Ok(None);
        };
        if !claim_may_be_stale(order, held, now)? || self.orders_kept(&[order]).await?[0] {
            return Ok(None);
        }
        let claimed_by = |time: Condition| {
            Condition::All(vec![
                Condition::Equals(codec::IMPORT_ROW.to_owned(), by.clone()),
                time,
            ])
        };
        if let Some(at) = held.get(CLAIMED_AT) {
            return Ok(Some(claimed_by(Condition::Equals(
                CLAIMED_AT.to_owned(),
                at.clone(),
            ))));
        }
        let stamp = Update::default().set(CLAIMED_AT, Value::S(keys::time(now)));
        let unstamped = claimed_by(Condition::AttributeAbsent(CLAIMED_AT.to_owned()));
        match self.table.update(key, stamp, Some(unstamped)).await {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(None),
            // Stamped by the next one to find it.
            Err(error) if error.is_retryable() => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Who holds each order's number, from its lookup: the same customer
    /// with the same digest is the same order; the same customer with
    /// another digest (or none: a lookup the API or an earlier version
    /// wrote) has its order read back and compared. An order not readable
    /// in the table (claimed and not written yet, or tiered) is judged by
    /// the lookup alone.
    async fn compare_holders<'a>(
        &self,
        held: impl Iterator<Item = (&'a Order, &'a Item)>,
    ) -> Result<Vec<Holder>, StoreError> {
        let mut holders = Vec::new();
        let mut unsure = Vec::new();
        for (order, lookup) in held {
            let by = codec::import_row_of(lookup);
            let text = |name: &str| lookup.get(name).and_then(Value::as_str);
            let judged = if text("customer_id") != Some(order.customer_id.to_string().as_str()) {
                Some(Sameness::OtherCustomer)
            } else if text(ORDER_DIGEST) == Some(order_digest(order)?.as_str()) {
                Some(Sameness::Same)
            } else {
                let stored_at = text("order_sk").unwrap_or_default().to_owned();
                unsure.push((
                    holders.len(),
                    order,
                    stored_at,
                    text(ORDER_DIGEST).is_some(),
                ));
                None
            };
            holders.push(Holder {
                by,
                order: judged.unwrap_or(Sameness::OtherDetails),
                status_by: codec::row_mark_in(lookup, STATUS_BY),
                abandoned: false,
            });
        }
        if unsure.is_empty() {
            return Ok(holders);
        }
        let at = |order: &Order, sk: &str| {
            Key::new(keys::customer_partition(order.customer_id), sk.to_owned())
        };
        let keys = unsure
            .iter()
            .map(|(_, order, sk, _)| at(order, sk))
            .collect();
        let found = batch::get_many(self.table.as_ref(), keys, BatchPolicy::default()).await?;
        for (index, order, sk, digested) in unsure {
            let sameness = match found.get(&at(order, &sk)) {
                Some(item) => {
                    let stored = codec::decode::<Order>(RecordKind::Order, item)?;
                    if stored == *order {
                        Sameness::Same
                    } else if stored.status != order.status
                        && (Order {
                            status: stored.status,
                            ..order.clone()
                        }) == stored
                    {
                        Sameness::OtherStatus
                    } else {
                        Sameness::OtherDetails
                    }
                }
                None if !digested
                    && keys::order(order.customer_id, order.placed_at, &order.id).sk == sk =>
                {
                    Sameness::Same
                }
                None => Sameness::OtherDetails,
            };
            holders[index].order = sameness;
        }
        Ok(holders)
    }

    /// For each interaction, whether it is stored already (same customer, time and id).
    pub async fn stored_interactions(
        &self,
        interactions: &[Interaction],
    ) -> Result<Vec<Stored>, StoreError> {
        self.stored(interactions.iter().map(interaction_key).collect())
            .await
    }

    /// For each review, whether it is stored already (same customer, time and id).
    pub async fn stored_reviews(&self, reviews: &[Review]) -> Result<Vec<Stored>, StoreError> {
        self.stored(reviews.iter().map(review_key).collect()).await
    }

    async fn stored(&self, keys: Vec<Key>) -> Result<Vec<Stored>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found =
            batch::get_many(self.table.as_ref(), keys.clone(), BatchPolicy::default()).await?;
        Ok(keys
            .iter()
            .map(|key| match found.get(key) {
                Some(item) => Stored::Present(codec::import_row_of(item)),
                None => Stored::Absent,
            })
            .collect())
    }

    /// Writes imported records with batch writes, each stamped with the row it
    /// came from, so a retried chunk can tell its own earlier writes from
    /// records stored before. An order's number lookup is not written here:
    /// its row claimed it first (`claim_orders`). Rewriting is harmless.
    pub async fn put_imported(
        &self,
        orders: &[(Order, RowMark)],
        interactions: &[(Interaction, RowMark)],
        reviews: &[(Review, RowMark)],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let stamp = |mut item: Item, mark: &RowMark| {
            item.insert(codec::IMPORT_ROW.to_owned(), codec::import_row(mark));
            WriteRequest::Put(item)
        };
        let keys = self
            .text_keys(
                (interactions.iter().map(|(i, _)| i as &dyn WithText))
                    .chain(reviews.iter().map(|(r, _)| r as &dyn WithText)),
            )
            .await?;
        let mut writes = Vec::with_capacity(orders.len() + interactions.len() + reviews.len());
        for (order, mark) in orders {
            writes.push(stamp(order_item(order)?, mark));
        }
        for (interaction, mark) in interactions {
            writes.push(stamp(interaction_item(interaction, &keys)?, mark));
        }
        for (review, mark) in reviews {
            writes.push(stamp(review_item(review, &keys)?, mark));
        }
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Writes many interactions and reviews with batch writes; rewriting one is harmless.
    pub async fn put_many(
        &self,
        interactions: &[Interaction],
        reviews: &[Review],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let keys = self
            .text_keys(
                (interactions.iter().map(|i| i as &dyn WithText))
                    .chain(reviews.iter().map(|r| r as &dyn WithText)),
            )
            .await?;
        let mut writes = Vec::with_capacity(interactions.len() + reviews.len());
        for interaction in interactions {
            writes.push(WriteRequest::Put(interaction_item(interaction, &keys)?));
        }
        for review in reviews {
            writes.push(WriteRequest::Put(review_item(review, &keys)?));
        }
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    pub async fn record_interaction(
        &self,
        interaction: &Interaction,
    ) -> Result<Recorded, StoreError> {
        let keys = self
            .text_keys(std::iter::once(interaction as &dyn WithText))
            .await?;
        self.put_once(interaction_item(interaction, &keys)?).await
    }

    pub async fn record_review(&self, review: &Review) -> Result<Recorded, StoreError> {
        let keys = self
            .text_keys(std::iter::once(review as &dyn WithText))
            .await?;
        self.put_once(review_item(review, &keys)?).await
    }

    pub async fn orders(
        &self,
        customer: CustomerId,
        period: Period,
    ) -> Result<Vec<Order>, StoreError> {
        self.read_all(customer, keys::ORDER_PREFIX, period)
            .await?
            .iter()
            .map(|item| codec::decode(RecordKind::Order, item))
            .collect()
    }

    pub async fn interactions(
        &self,
        customer: CustomerId,
        period: Period,
    ) -> Result<Vec<Interaction>, StoreError> {
        let items = self
            .read_all(customer, keys::INTERACTION_PREFIX, period)
            .await?;
        self.decode_with_text(
            customer,
            RecordKind::Interaction,
            &items.iter().collect::<Vec<_>>(),
        )
        .await
    }

    pub async fn reviews(
        &self,
        customer: CustomerId,
        period: Period,
    ) -> Result<Vec<Review>, StoreError> {
        let items = self.read_all(customer, keys::REVIEW_PREFIX, period).await?;
        self.decode_with_text(
            customer,
            RecordKind::Review,
            &items.iter().collect::<Vec<_>>(),
        )
        .await
    }

    async fn decode_with_text<T: WithText + DeserializeOwned>(
        &self,
        customer: CustomerId,
        kind: RecordKind,
        items: &[&Item],
    ) -> Result<Vec<T>, StoreError> {
        let mut records = items
            .iter()
            .map(|item| codec::decode(kind, item))
            .collect::<Result<Vec<T>, _>>()?;
        self.open_texts(customer, &mut records, items).await?;
        Ok(records)
    }

    /// The customer's whole history: the partition in one paged query, and
    /// the records its pointers list from the cold tier, each record once
    /// (a record both hot and cold is read hot). When part of it is in an
    /// archive class a restore is asked for and `StoreError::Restoring`
    /// says when to come back. Marks the history read (see `READ_AT`).
    pub async fn history(&self, customer: CustomerId) -> Result<History, StoreError> {
        let stored = self.partition(customer).await?;
        self.mark_read(customer, &stored).await?;
        let mut records = stored.records;
        if !stored.pointers.is_empty() {
            let cold = self.cold_records(customer, &stored.pointers).await?;
            for item in cold {
                if let Some(key) = Key::of(&item) {
                    records.entry(key.sk).or_insert(item);
                }
            }
        }
        let mut history = History::default();
        let (mut interactions, mut reviews) = (Vec::new(), Vec::new());
        for item in records.values() {
            match RecordKind::of(item) {
                Some(RecordKind::Order) => {
                    history.orders.push(codec::decode(RecordKind::Order, item)?)
                }
                Some(RecordKind::Interaction) => interactions.push(item),
                Some(RecordKind::Review) => reviews.push(item),
                _ => {}
            }
        }
        history.interactions = self
            .decode_with_text(customer, RecordKind::Interaction, &interactions)
            .await?;
        history.reviews = self
            .decode_with_text(customer, RecordKind::Review, &reviews)
            .await?;
        Ok(history)
    }

    /// The totals of the whole history, hot and cold, from the table alone:
    /// cold records count through their pointers' totals. Only if a record
    /// is both hot and cold (stored again after it was tiered) is the cold
    /// tier read, so that it counts once.
    pub async fn summary(&self, customer: CustomerId) -> Result<ActivitySummary, StoreError> {
        let stored = self.partition(customer).await?;
        let overlap = stored
            .pointers
            .iter()
            .flat_map(|p| &p.sort_keys)
            .any(|sk| stored.records.contains_key(sk));
        if overlap {
            let history = self.history(customer).await?;
            return Ok(ActivitySummary::of(
                &history.orders,
                &history.interactions,
                &history.reviews,
            ));
        }
        let mut summary = cold::summarise(stored.records.values())?;
        for pointer in &stored.pointers {
            summary.merge(&pointer.summary);
        }
        Ok(summary)
    }

    /// A customer with new activity: cold records come back into the table
    /// (stamped as written now, so the policy keeps them hot a while), then
    /// the summary. Records in an archive class get a restore asked for and
    /// come back on a later call; the summary counts them meanwhile.
    pub async fn returning(&self, customer: CustomerId) -> Result<ActivitySummary, StoreError> {
        Ok(self.recount(customer).await?.summary)
    }

    /// `returning`, with the marks of the imports whose records are hot. One
    /// query when the partition holds no cold pointers.
    pub async fn recount(&self, customer: CustomerId) -> Result<Recount, StoreError> {
        let stored = self.partition(customer).await?;
        let mut marks: Vec<RowMark> = Vec::new();
        for mark in stored.records.values().filter_map(codec::import_row_of) {
            match marks.iter_mut().find(|m| m.import == mark.import) {
                Some(held) => held.row = held.row.max(mark.row),
                None => marks.push(mark),
            }
        }
        if stored.pointers.is_empty() {
            let summary = cold::summarise(stored.records.values())?;
            return Ok(Recount { summary, marks });
        }
        if let Some(cold) = &self.cold {
            for (object, pointers) in by_object(&stored.pointers) {
                match cold.fetch(&object).await? {
                    Fetched::Content(content) => {
                        for pointer in pointers {
                            self.rewarm(&content, pointer, &stored.records).await?;
                        }
                    }
                    Fetched::Restoring { ready_by } => {
                        tracing::info!(%customer, %object, %ready_by, "re-warm waits for a restore");
                    }
                }
            }
        }
        let summary = self.summary(customer).await?;
        Ok(Recount { summary, marks })
    }

    /// Whether new data for this customer should bring cold records back:
    /// only with a cold tier, and only if the partition holds a cold pointer
    /// (one query reading at most one item, whatever the history's size).
    pub async fn rewarm_due(&self, customer: CustomerId) -> Result<bool, StoreError> {
        if self.cold.is_none() {
            return Ok(false);
        }
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::COLD_PREFIX.to_owned()))
            .limit(1);
        Ok(!self.table.query(query).await?.items.is_empty())
    }

    /// Puts a pointer's records back (those not hot already) and deletes the
    /// pointer, in one transaction.
    async fn rewarm(
        &self,
        content: &ObjectContent,
        pointer: &ColdPointer,
        hot: &BTreeMap<String, Item>,
    ) -> Result<(), StoreError> {
        let now = Value::S(keys::time(chrono::Utc::now()));
        let mut ops = Vec::new();
        for mut item in content.records_of(pointer)? {
            let sk = Key::of(&item).map(|k| k.sk).unwrap_or_default();
            if hot.contains_key(&sk) {
                continue;
            }
            item.insert(codec::WRITTEN_AT.to_owned(), now.clone());
            ops.push(TransactOp::Put {
                item,
                condition: Some(Condition::NotExists),
            });
        }
        ops.push(TransactOp::Delete {
            key: pointer.key(),
            condition: Some(Condition::Exists),
        });
        match self.table.transact_write(ops).await {
            // Someone else re-warmed or wrote meanwhile; the next read sorts it out.
            Ok(()) | Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn cold_records(
        &self,
        customer: CustomerId,
        pointers: &[ColdPointer],
    ) -> Result<Vec<Item>, StoreError> {
        let cold = self
            .cold
            .as_ref()
            .ok_or(StoreError::ColdTierUnavailable { customer })?;
        let mut records = Vec::new();
        let mut restoring: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut objects = 0;
        for (object, pointers) in by_object(pointers) {
            match cold.fetch(&object).await? {
                Fetched::Content(content) => {
                    for pointer in pointers {
                        records.extend(content.records_of(pointer)?);
                    }
                }
                Fetched::Restoring { ready_by } => {
                    objects += 1;
                    restoring = restoring.max(Some(ready_by));
                }
            }
        }
        match restoring {
            Some(ready_by) => Err(StoreError::Restoring { ready_by, objects }),
            None => Ok(records),
        }
    }

    /// The partition's activity records by sort key, its pointers, and the
    /// profile's last-read mark.
    async fn partition(&self, customer: CustomerId) -> Result<StoredPartition, StoreError> {
        let mut stored = StoredPartition::default();
        for item in self
            .query_all(Query::partition(keys::customer_partition(customer)))
            .await?
        {
            match RecordKind::of(&item) {
                Some(RecordKind::Order | RecordKind::Interaction | RecordKind::Review) => {
                    if let Some(key) = Key::of(&item) {
                        stored.records.insert(key.sk, item);
                    }
                }
                Some(RecordKind::ColdPointer) => stored.pointers.push(ColdPointer::of(&item)?),
                Some(RecordKind::Customer) => {
                    stored.profile = true;
                    stored.read_at = item
                        .get(codec::READ_AT)
                        .and_then(Value::as_str)
                        .and_then(|t| t.parse().ok());
                }
                _ => {}
            }
        }
        Ok(stored)
    }

    async fn mark_read(
        &self,
        customer: CustomerId,
        stored: &StoredPartition,
    ) -> Result<(), StoreError> {
        let now = chrono::Utc::now();
        let fresh = stored
            .read_at
            .is_some_and(|at| now - at < READ_MARK_INTERVAL);
        if !stored.profile || fresh {
            return Ok(());
        }
        let update = Update::default().set(codec::READ_AT, Value::S(keys::time(now)));
        match self
            .table
            .update(&keys::customer(customer), update, Some(Condition::Exists))
            .await
        {
            // Erased meanwhile: nothing to mark.
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    async fn put_once(&self, item: Item) -> Result<Recorded, StoreError> {
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(Recorded::New),
            Err(TableError::ConditionFailed) => Ok(Recorded::AlreadyStored),
            Err(other) => Err(other.into()),
        }
    }

    /// The items of one kind (by sort-key prefix) in a period, in sort-key
    /// order: hot ones from a range query, cold ones from the objects of
    /// the pointers that list a record in the range (hot wins where a record
    /// is both). Pointers of the customer cost one more query.
    async fn read_all(
        &self,
        customer: CustomerId,
        prefix: &str,
        period: Period,
    ) -> Result<Vec<Item>, StoreError> {
        // `~` sorts after every character used in the times and ids' escapes.
        let from = period.from.map_or_else(
            || prefix.to_owned(),
            |at| format!("{prefix}{}", keys::time(at)),
        );
        let to = period.to.map_or_else(
            || format!("{prefix}~"),
            |at| format!("{prefix}{}#~", keys::time(at)),
        );
        let in_range = |sk: &str| sk >= from.as_str() && sk <= to.as_str();
        let partition = keys::customer_partition(customer);
        let hot = Query::partition(partition.clone())
            .sort(SortCondition::Between(from.clone(), to.clone()));
        let mut records: BTreeMap<String, Item> = self
            .query_all(hot)
            .await?
            .into_iter()
            .filter_map(|item| Key::of(&item).map(|key| (key.sk, item)))
            .collect();
        let pointers = Query::partition(partition)
            .sort(SortCondition::BeginsWith(keys::COLD_PREFIX.to_owned()));
        let wanted = self
            .query_all(pointers)
            .await?
            .iter()
            .map(ColdPointer::of)
            .filter(|p| {
                p.as_ref()
                    .map_or(true, |p| p.sort_keys.iter().any(|sk| in_range(sk)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !wanted.is_empty() {
            for item in self.cold_records(customer, &wanted).await? {
                if let Some(key) = Key::of(&item).filter(|key| in_range(&key.sk)) {
                    records.entry(key.sk).or_insert(item);
                }
            }
        }
        Ok(records.into_values().collect())
    }

    async fn query_all(&self, query: Query) -> Result<Vec<Item>, StoreError> {
        batch::query_all(self.table.as_ref(), query).await
    }
}

#[derive(Default)]
struct StoredPartition {
    records: BTreeMap<String, Item>,
    pointers: Vec<ColdPointer>,
    profile: bool,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Pointers grouped by the object they point into, so each object is read once.
fn by_object(pointers: &[ColdPointer]) -> BTreeMap<String, Vec<&ColdPointer>> {
    let mut objects: BTreeMap<String, Vec<&ColdPointer>> = BTreeMap::new();
    for pointer in pointers {
        objects
            .entry(pointer.object.clone())
            .or_default()
            .push(pointer);
    }
    objects
}

fn interaction_key(interaction: &Interaction) -> Key {
    keys::interaction(
        interaction.customer_id,
        interaction.at,
        interaction.id.as_str(),
    )
}

/// The keys texts are sealed with; a month past its limit has none.
#[derive(Default)]
struct TextKeys {
    customers: HashMap<CustomerId, DataKey>,
    months: HashMap<RetentionMonth, DataKey>,
}

fn interaction_item(interaction: &Interaction, keys: &TextKeys) -> Result<Item, StoreError> {
    let item = codec::encode(
        RecordKind::Interaction,
        &interaction_key(interaction),
        interaction,
        &[],
    )?;
    seal_text(item, interaction, keys)
}

/// Moves a record's text into the sealed attribute; a text whose month is
/// already past its retention limit is not kept.
fn seal_text(mut item: Item, record: &dyn WithText, keys: &TextKeys) -> Result<Item, StoreError> {
    let Some(text) = record.text() else {
        return Ok(item);
    };
    item.remove(TEXT);
    let customer = record.customer();
    let key = keys
        .customers
        .get(&customer)
        .ok_or(StoreError::Erased { customer })?;
    let month = record.month();
    let Some(month_key) = keys.months.get(&month) else {
        return Ok(item);
    };
    let sealed = personal::seal_by_month(key, month_key, customer, month, text.as_bytes())?;
    item.insert(codec::SEALED.to_owned(), Value::S(sealed));
    Ok(item)
}

fn review_key(review: &Review) -> Key {
    keys::review(review.customer_id, review.at, review.id.as_str())
}

fn review_item(review: &Review, keys: &TextKeys) -> Result<Item, StoreError> {
    let index = [
        (
            "gsi1pk",
            keys::product_reviews_partition(&review.product_id),
        ),
        ("gsi1sk", keys::time(review.at)),
    ];
    let item = codec::encode(RecordKind::Review, &review_key(review), review, &index)?;
    seal_text(item, review, keys)
}

fn order_item(order: &Order) -> Result<Item, StoreError> {
    codec::encode(
        RecordKind::Order,
        &keys::order(order.customer_id, order.placed_at, &order.id),
        order,
        &[],
    )
}

/// On an order number's lookup claimed by an import: a digest of the order
/// (SHA-256 of its JSON), so another import can tell the same order from
/// another one before the order itself is written.
const ORDER_DIGEST: &str = "order_digest";

/// On an order number's lookup claimed by an import row or API request:
/// when it was claimed (or first found without a time), so a claim whose
/// claimant failed for good can be told from one still being written.
const CLAIMED_AT: &str = "claimed_at";

/// On an order number's lookup: the import row that last changed the
/// order's status (`<import id>#<row>`).
const STATUS_BY: &str = "status_by";

/// Whether a lookup is a claim of this very order (same digest, by an
/// import row or request) that is old enough to be abandoned if its order
/// is stored nowhere: older than `CLAIM_HANDOVER`, or without a claim time.
/// A lookup the API wrote with its order in one transaction has neither
/// digest nor row, so it never is.
fn claim_may_be_stale(
    order: &Order,
    lookup: &Item,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let text = |name: &str| lookup.get(name).and_then(Value::as_str);
    if codec::import_row_of(lookup).is_none()
        || text(ORDER_DIGEST) != Some(order_digest(order)?.as_str())
    {
        return Ok(false);
    }
    Ok(match text(CLAIMED_AT) {
        None => true,
        Some(at) => at
            .parse::<DateTime<Utc>>()
            .map_or(true, |at| now - at > CLAIM_HANDOVER),
    })
}

fn order_digest(order: &Order) -> Result<String, StoreError> {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(order).map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(json)))
}

/// Marks an order number as taken, and says where the order is.
fn order_lookup_item(order: &Order) -> Item {
    let key: Key = keys::order_lookup(&order.id);
    let at: Key = keys::order(order.customer_id, order.placed_at, &order.id);
    Item::from([
        (strata_domain::ports::table::PK.to_owned(), Value::S(key.pk)),
        (strata_domain::ports::table::SK.to_owned(), Value::S(key.sk)),
        (
            codec::KIND.to_owned(),
            Value::S(RecordKind::Lookup.name().to_owned()),
        ),
        (
            "customer_id".to_owned(),
            Value::S(order.customer_id.to_string()),
        ),
        ("order_sk".to_owned(), Value::S(at.sk)),
    ])
}
