//! Erasure of a customer (the right to be forgotten). Erasing deletes the
//! customer's partition and the lookup items that point at them, and first
//! records the erasure in a ledger kept outside the table: an append-only set
//! of objects next to the backups. A snapshot taken before the erasure still
//! holds the customer; restoring it consults the ledger and withholds them.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ids::CustomerId;
use strata_domain::order::Order;
use strata_domain::ports::blob::{BlobStore, PutOptions, Retention, body_from, collect};
use strata_domain::ports::table::{
    Condition, Cursor, Item, Key, Query, Table, TableError, Value, WriteRequest,
};

use crate::batch::{self, BatchPolicy};
use crate::codec::{self, RecordKind};
use crate::cold::ColdPointer;
use crate::error::StoreError;
use crate::keys;
use crate::personal::Privacy;
use crate::repo::customers::CustomerRepository;

/// Where ledger entries live in their object store: one object per customer,
/// named by the customer id, so a listing alone yields every erased id.
pub const LEDGER_PREFIX: &str = "erasure-ledger/";

/// The lookup attribute naming the customer a lookup points at.
const OWNER: &str = "customer_id";

/// One erasure on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub customer_id: String,
    pub erased_at: DateTime<Utc>,
    /// Why, when not the data subject's request: `retention: inactive since
    /// <time>` for the scheduled erasure of inactive customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The record of erased customers. It holds customer ids only (random
/// UUIDs), never what identified the person.
#[derive(Clone)]
pub struct ErasureLedger {
    blobs: Arc<dyn BlobStore>,
}

impl ErasureLedger {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        ErasureLedger { blobs }
    }

    /// Records an erasure; recording one twice keeps the first.
    pub async fn record(&self, customer: CustomerId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.record_with(customer, at, None, None).await
    }

    async fn record_with(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
        reason: Option<&str>,
        retention: Option<Retention>,
    ) -> Result<(), StoreError> {
        let key = entry_key(customer);
        if self.blobs.head(&key).await?.is_some() {
            return Ok(());
        }
        let entry = LedgerEntry {
            customer_id: customer.to_string(),
            erased_at: at,
            reason: reason.map(str::to_owned),
        };
        let body = serde_json::to_vec(&entry).map_err(|e| StoreError::Encode(e.to_string()))?;
        let options = PutOptions {
            content_type: Some("application/json".into()),
            retention,
            ..PutOptions::default()
        };
        self.blobs.put(&key, body_from(body), options).await?;
        Ok(())
    }

    /// The erasure of `customer` on record, if any.
    pub async fn entry(&self, customer: CustomerId) -> Result<Option<LedgerEntry>, StoreError> {
        if !self.recorded(customer).await? {
            return Ok(None);
        }
        let stored = self.blobs.get(&entry_key(customer)).await?;
        let entry = serde_json::from_slice(&collect(stored.body).await?).map_err(|e| {
            StoreError::Corrupt {
                key: None,
                reason: format!("ledger entry of {customer}: {e}"),
            }
        })?;
        Ok(Some(entry))
    }

    /// Whether an erasure of `customer` is on record.
    pub async fn recorded(&self, customer: CustomerId) -> Result<bool, StoreError> {
        Ok(self.blobs.head(&entry_key(customer)).await?.is_some())
    }

    /// Every customer erased so far.
    pub async fn erased(&self) -> Result<ErasedCustomers, StoreError> {
        let mut erased = HashSet::new();
        let mut continuation = None;
        loop {
            let page = self.blobs.list(LEDGER_PREFIX, continuation, 1000).await?;
            for object in &page.objects {
                let raw = object.key.trim_start_matches(LEDGER_PREFIX);
                // An entry that cannot be read cannot be honoured: fail loudly.
                let id =
                    CustomerId::parse("erasure ledger", raw).map_err(|e| StoreError::Corrupt {
                        key: None,
                        reason: format!("ledger entry `{}`: {e}", object.key),
                    })?;
                erased.insert(id);
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => return Ok(ErasedCustomers(erased)),
            }
        }
    }

    /// Copies the entries `other` lacks into it, locked if asked (the backup
    /// job mirrors the ledger into the archive this way). Returns how many.
    pub async fn copy_missing_to(
        &self,
        other: &ErasureLedger,
        retention: Option<Retention>,
    ) -> Result<usize, StoreError> {
        let have = other.erased().await?;
        let mut copied = 0;
        for customer in self.erased().await?.0 {
            if have.contains(customer) {
                continue;
            }
            let stored = self.blobs.get(&entry_key(customer)).await?;
            let entry: LedgerEntry =
                serde_json::from_slice(&collect(stored.body).await?).map_err(|e| {
                    StoreError::Corrupt {
                        key: None,
                        reason: format!("ledger entry of {customer}: {e}"),
                    }
                })?;
            other
                .record_with(
                    customer,
                    entry.erased_at,
                    entry.reason.as_deref(),
                    retention,
                )
                .await?;
            copied += 1;
        }
        Ok(copied)
    }
}

fn entry_key(customer: CustomerId) -> String {
    format!("{LEDGER_PREFIX}{customer}")
}

/// The set of erased customers, and which stored items belong to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasedCustomers(HashSet<CustomerId>);

impl ErasedCustomers {
    pub fn contains(&self, customer: CustomerId) -> bool {
        self.0.contains(&customer)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn ids(&self) -> impl Iterator<Item = CustomerId> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an item is an erased customer's: anything in their partition,
    /// and lookups (e-mail, phone, source id, order number) pointing at them.
    pub fn withholds(&self, item: &Item) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let in_partition = Key::of(item).is_some_and(|key| {
            key.pk
                .strip_prefix(keys::CUSTOMER_PREFIX)
                .and_then(|raw| CustomerId::parse("pk", raw).ok())
                .is_some_and(|id| self.0.contains(&id))
        });
        let points_at_erased = RecordKind::of(item) == Some(RecordKind::Lookup)
            && item
                .get(OWNER)
                .and_then(Value::as_str)
                .and_then(|raw| CustomerId::parse(OWNER, raw).ok())
                .is_some_and(|id| self.0.contains(&id));
        in_partition || points_at_erased
    }
}

impl FromIterator<CustomerId> for ErasedCustomers {
    fn from_iter<I: IntoIterator<Item = CustomerId>>(ids: I) -> Self {
        ErasedCustomers(ids.into_iter().collect())
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    pub customer_id: CustomerId,
    /// Profile, orders, interactions, reviews.
    pub partition_items: usize,
    /// E-mail, phone, source-id and order-number lookups.
    pub lookups: usize,
    /// Whether this erasure destroyed the customer's data key (false when an
    /// earlier, interrupted erasure already had).
    pub key_destroyed: bool,
}

/// Erases customers from the table, destroys their data keys, and records
/// them in the ledger.
#[derive(Clone)]
pub struct CustomerEraser {
    table: Arc<dyn Table>,
    customers: CustomerRepository,
    privacy: Arc<Privacy>,
    ledger: ErasureLedger,
    policy: BatchPolicy,
}

impl CustomerEraser {
    pub fn new(table: Arc<dyn Table>, privacy: Arc<Privacy>, ledger: ErasureLedger) -> Self {
        CustomerEraser {
            customers: CustomerRepository::new(table.clone(), privacy.clone()),
            table,
            privacy,
            ledger,
            policy: BatchPolicy::default(),
        }
    }

    /// Records the erasure, deletes the customer's lookups and partition,
    /// then destroys their data key, which makes every copy of their
    /// personal data elsewhere (cold objects, backups) unreadable. The record
    /// comes first: if deleting fails halfway, the erasure is still on
    /// record (restores honour it) and erasing again finishes the job. The
    /// key goes last, because the profile's identifiers (and so its lookups)
    /// can only be read with it.
    pub async fn erase(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Erasure, StoreError> {
        self.erase_because(customer, at, None).await
    }

    /// `erase`, with the reason recorded in the ledger (an erasure Strata
    /// decided itself, such as retention's, says why).
    pub async fn erase_because(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<Erasure, StoreError> {
        self.ledger.record_with(customer, at, reason, None).await?;
        let items = self.partition(customer).await?;
        let mut lookups = Vec::new();
        for item in &items {
            match RecordKind::of(item) {
                Some(RecordKind::Customer) => match self.customers.get(customer).await {
                    Ok(Some(profile)) => lookups.extend(
                        profile
                            .identifiers()
                            .iter()
                            .map(|id| keys::lookup(&self.privacy.blind(id))),
                    ),
                    // Key already gone: its lookups went with it, or a
                    // restore withholds them by the ledger.
                    Ok(None) | Err(StoreError::Erased { .. }) => {}
                    Err(other) => return Err(other),
                },
                Some(RecordKind::Order) => {
                    let order: Order = codec::decode(RecordKind::Order, item)?;
                    lookups.push(keys::order_lookup(&order.id));
                }
                // Tiered orders keep their number lookups hot: the pointer
                // lists their sort keys, which hold the numbers.
                Some(RecordKind::ColdPointer) => lookups.extend(
                    ColdPointer::of(item)?
                        .sort_keys
                        .iter()
                        .filter_map(|sk| keys::order_id_of_sort_key(sk))
                        .map(|id| keys::order_lookup(&id)),
                ),
                _ => {}
            }
        }
        let mut deleted_lookups = 0;
        for key in lookups {
            // Only lookups still pointing at this customer: an identifier may
            // have moved to someone else since.
            let theirs = Condition::Equals(OWNER.into(), Value::S(customer.to_string()));
            match self.table.delete(&key, Some(theirs)).await {
                Ok(()) => deleted_lookups += 1,
                Err(TableError::ConditionFailed) => {}
                Err(other) => return Err(other.into()),
            }
        }
        // Their referral code stays registered without them, so it is
        // refused as an erased customer's rather than as unknown.
        super::rewards::ReferralRepository::new(self.table.clone())
            .forget(customer)
            .await?;
        let deletes: Vec<WriteRequest> = items
            .iter()
            .filter_map(Key::of)
            .map(WriteRequest::Delete)
            .collect();
        let partition_items = deletes.len();
        if !deletes.is_empty() {
            batch::write_all(self.table.as_ref(), deletes, self.policy).await?;
        }
        let key_destroyed = self.privacy.destroy_key(customer).await?;
        tracing::info!(%customer, partition_items, lookups = deleted_lookups, key_destroyed, "erased a customer");
        Ok(Erasure {
            customer_id: customer,
            partition_items,
            lookups: deleted_lookups,
            key_destroyed,
        })
    }

    async fn partition(&self, customer: CustomerId) -> Result<Vec<Item>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer));
        let mut items = Vec::new();
        let mut start: Option<Cursor> = None;
        loop {
            let page = self.table.query(query.clone().start(start)).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use strata_domain::ReadOptions;
    use strata_domain::customer::{Customer, CustomerInput, Identifier, Origin, SourceInput};
    use strata_domain::ids::OrderId;
    use strata_domain::money::{Currency, Money};
    use strata_domain::order::OrderStatus;
    use strata_embedded::EmbeddedBackend;

    use super::*;
    use crate::{ActivityRepository, CustomerRepository};

    fn customer(email: &str, source_id: &str) -> Customer {
        let input = CustomerInput {
            email: Some(email.into()),
            source: Some(SourceInput {
                source: "shop".into(),
                external_id: source_id.into(),
            }),
            ..CustomerInput::default()
        };
        let valid = input.validate(&ReadOptions::default(), Utc::now()).unwrap();
        let origin = Origin {
            source: "test".into(),
            at: Utc::now(),
        };
        Customer::create(CustomerId::generate(), valid, &origin)
    }

    fn order(customer: CustomerId, number: &str) -> Order {
        Order {
            id: OrderId::parse("id", number).unwrap(),
            customer_id: customer,
            placed_at: "2026-01-02T10:00:00Z".parse().unwrap(),
            status: OrderStatus::Paid,
            lines: Vec::new(),
            item_count: 1,
            total: Money {
                minor: 1999,
                currency: Currency::USD,
            },
            coupon: None,
        }
    }

    #[tokio::test]
    async fn erasing_removes_the_partition_and_lookups_and_records_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(dir.path()).unwrap();
        let table: Arc<dyn Table> = Arc::new(backend.table);
        let ledger = ErasureLedger::new(Arc::new(backend.blobs));
        let privacy = Privacy::open(Arc::new(backend.personal_keys), Arc::new(backend.key_table))
            .await
            .unwrap();
        let customers = CustomerRepository::new(table.clone(), privacy.clone());
        let activity = ActivityRepository::new(table.clone());

        let gone = customer("gone@example.com", "g-1");
        let kept = customer("kept@example.com", "k-1");
        for c in [&gone, &kept] {
            customers.create(c).await.unwrap();
        }
        activity.record_order(&order(gone.id, "A-1")).await.unwrap();
        activity.record_order(&order(gone.id, "A-2")).await.unwrap();
        activity.record_order(&order(kept.id, "B-1")).await.unwrap();

        let eraser = CustomerEraser::new(table.clone(), privacy.clone(), ledger.clone());
        let erasure = eraser.erase(gone.id, Utc::now()).await.unwrap();
        assert_eq!(erasure.partition_items, 3, "profile and two orders");
        assert_eq!(erasure.lookups, 4, "e-mail, source id, two order numbers");
        assert!(erasure.key_destroyed);
        assert!(!privacy.has_key(gone.id).await.unwrap());
        assert!(privacy.has_key(kept.id).await.unwrap());

        assert_eq!(customers.get(gone.id).await.unwrap(), None);
        for identifier in gone.identifiers() {
            assert_eq!(customers.find(&identifier).await.unwrap(), None);
        }
        assert!(activity.history(gone.id).await.unwrap().orders.is_empty());
        let email = Identifier::Email(kept.identity.email.clone().unwrap());
        assert_eq!(customers.find(&email).await.unwrap(), Some(kept.id));
        assert_eq!(activity.history(kept.id).await.unwrap().orders.len(), 1);

        let erased = ledger.erased().await.unwrap();
        assert!(erased.contains(gone.id) && !erased.contains(kept.id));
        // Erasing again finds nothing more and keeps one ledger entry.
        let again = eraser.erase(gone.id, Utc::now()).await.unwrap();
        assert_eq!(
            (again.partition_items, again.lookups, again.key_destroyed),
            (0, 0, false)
        );
        assert_eq!(ledger.erased().await.unwrap().len(), 1);
    }

    #[test]
    fn withholds_the_partition_and_lookups_of_erased_customers_only() {
        let gone = CustomerId::generate();
        let other = CustomerId::generate();
        let erased: ErasedCustomers = [gone].into_iter().collect();
        let item = |pk: String, kind: RecordKind, owner: Option<CustomerId>| {
            let mut item = Item::from([
                ("pk".to_owned(), Value::S(pk)),
                ("sk".to_owned(), Value::S("X".into())),
                (codec::KIND.to_owned(), Value::S(kind.name().into())),
            ]);
            if let Some(owner) = owner {
                item.insert(OWNER.into(), Value::S(owner.to_string()));
            }
            item
        };
        assert!(erased.withholds(&item(
            keys::customer_partition(gone),
            RecordKind::Order,
            None
        )));
        assert!(erased.withholds(&item("EMAIL#a@b.c".into(), RecordKind::Lookup, Some(gone))));
        assert!(!erased.withholds(&item("EMAIL#x@b.c".into(), RecordKind::Lookup, Some(other))));
        assert!(!erased.withholds(&item(
            keys::customer_partition(other),
            RecordKind::Customer,
            None
        )));
        // A product carrying a `customer_id` is not a lookup.
        assert!(!erased.withholds(&item("PRODUCT#1".into(), RecordKind::Product, Some(gone))));
    }

    #[tokio::test]
    async fn the_ledger_mirrors_into_another_store_with_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let primary = ErasureLedger::new(Arc::new(
            strata_embedded::EmbeddedBlobStore::open(&dir.path().join("a")).unwrap(),
        ));
        let archive_store =
            Arc::new(strata_embedded::EmbeddedBlobStore::open(&dir.path().join("b")).unwrap());
        let archive = ErasureLedger::new(archive_store.clone());
        let (one, two) = (CustomerId::generate(), CustomerId::generate());
        primary.record(one, Utc::now()).await.unwrap();
        let reason = "retention: inactive since 2023-01-01T00:00:00.000Z";
        primary
            .record_with(two, Utc::now(), Some(reason), None)
            .await
            .unwrap();
        archive.record(one, Utc::now()).await.unwrap();
        let lock = Retention {
            mode: strata_domain::ports::blob::RetentionMode::Compliance,
            retain_until: Utc::now() + chrono::Duration::days(1),
        };
        assert_eq!(
            primary.copy_missing_to(&archive, Some(lock)).await.unwrap(),
            1
        );
        assert_eq!(
            archive.erased().await.unwrap(),
            primary.erased().await.unwrap()
        );
        let mirrored = archive.entry(two).await.unwrap().unwrap();
        assert_eq!(
            mirrored.reason.as_deref(),
            Some(reason),
            "the reason goes along"
        );
        assert_eq!(archive.entry(one).await.unwrap().unwrap().reason, None);
        let copied = archive_store.head(&entry_key(two)).await.unwrap().unwrap();
        assert_eq!(copied.retention, Some(lock));
        assert!(archive_store.delete(&entry_key(two)).await.is_err());
    }
}
