//! Whole customer partitions out of one segment of a parallel scan, without
//! a query per customer: `PartitionScan` hands out each partition's items
//! (the tiering job packs them as they are), `CustomerScan` decodes them
//! into the profile and the history (the churn batch, the recommendation
//! job, exports).
//!
//! DynamoDB (and the embedded table) return a partition's items together,
//! so a partition is complete when the next one starts. The scan checks
//! this and fails rather than hand out half a history.
//!
//! Given the cold tier, `CustomerScan` completes each history with the
//! records tiering moved out (read through the tier's object cache, so an
//! object shared by many customers is fetched once); records in an archive
//! class are not thawed, only counted in `cold_unread`.

use std::collections::HashSet;
use std::sync::Arc;

use strata_domain::customer::Customer;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Cursor, Item, Key, PK, SK, Table, Value};

use crate::codec::{self, RecordKind};
use crate::cold::{ColdPointer, ColdTier};
use crate::error::StoreError;
use crate::keys;
use crate::repo::activity::History;

/// One customer partition as stored, its items in sort-key order.
#[derive(Debug, Clone)]
pub struct Partition {
    pub customer: CustomerId,
    pub items: Vec<Item>,
}

/// Reads one scan segment partition by partition (customer partitions only).
pub struct PartitionScan {
    table: Arc<dyn Table>,
    segment: u32,
    total_segments: u32,
    page_size: u32,
    start: Option<Cursor>,
    done: bool,
    page: std::vec::IntoIter<Item>,
    open: Option<Partition>,
    finished: HashSet<CustomerId>,
}

impl PartitionScan {
    pub fn new(table: Arc<dyn Table>, segment: u32, total_segments: u32, page_size: u32) -> Self {
        PartitionScan {
            table,
            segment,
            total_segments,
            page_size,
            start: None,
            done: false,
            page: Vec::new().into_iter(),
            open: None,
            finished: HashSet::new(),
        }
    }

    /// The next whole customer partition, or `None` at the segment's end.
    pub async fn next(&mut self) -> Result<Option<Partition>, StoreError> {
        loop {
            let Some(item) = self.next_item().await? else {
                return Ok(self.close_open());
            };
            let Some(id) = item
                .get(PK)
                .and_then(Value::as_str)
                .and_then(keys::customer_of_partition)
            else {
                continue; // not a customer partition (lookups, products, stats…)
            };
            let completed = match &self.open {
                Some(open) if open.customer != id => self.close_open(),
                _ => None,
            };
            if self.finished.contains(&id) {
                return Err(StoreError::Corrupt {
                    key: Key::of(&item),
                    reason: "the scan returned a customer partition in two pieces".into(),
                });
            }
            self.open
                .get_or_insert_with(|| Partition {
                    customer: id,
                    items: Vec::new(),
                })
                .items
                .push(item);
            if completed.is_some() {
                return Ok(completed);
            }
        }
    }

    fn close_open(&mut self) -> Option<Partition> {
        let mut closed = self.open.take()?;
        self.finished.insert(closed.customer);
        closed.items.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        Some(closed)
    }

    async fn next_item(&mut self) -> Result<Option<Item>, StoreError> {
        loop {
            if let Some(item) = self.page.next() {
                return Ok(Some(item));
            }
            if self.done {
                return Ok(None);
            }
            let page = self
                .table
                .scan(
                    self.segment,
                    self.total_segments,
                    self.start.take(),
                    Some(self.page_size),
                )
                .await?;
            self.done = page.next.is_none();
            self.start = page.next;
            self.page = page.items.into_iter();
        }
    }
}

fn sort_key(item: &Item) -> Option<&str> {
    item.get(SK).and_then(Value::as_str)
}

/// One customer, decoded.
#[derive(Debug, Clone)]
pub struct CustomerRecords {
    pub id: CustomerId,
    pub profile: Option<Customer>,
    /// Hot records and cold ones.
    pub history: History,
    /// Pointers to the customer's records in the cold tier.
    pub cold_pointers: Vec<ColdPointer>,
    /// Cold records the history lacks: their object is in an archive class
    /// (a scan never thaws the archive).
    pub cold_unread: u64,
}

/// Reads one scan segment customer by customer, each history whole: the
/// cold tier is part of the scan, so a reader sees the same history before
/// and after the tiering job moved part of it.
pub struct CustomerScan {
    partitions: PartitionScan,
    cold: ColdTier,
}

impl CustomerScan {
    pub fn new(
        table: Arc<dyn Table>,
        cold: ColdTier,
        segment: u32,
        total_segments: u32,
        page_size: u32,
    ) -> Self {
        CustomerScan {
            partitions: PartitionScan::new(table, segment, total_segments, page_size),
            cold,
        }
    }

    /// The next whole customer of the segment, or `None` at its end.
    pub async fn next(&mut self) -> Result<Option<CustomerRecords>, StoreError> {
        let Some(partition) = self.partitions.next().await? else {
            return Ok(None);
        };
        let mut records = CustomerRecords {
            id: partition.customer,
            profile: None,
            history: History::default(),
            cold_pointers: Vec::new(),
            cold_unread: 0,
        };
        for item in &partition.items {
            add(&mut records, item)?;
        }
        self.complete(&mut records, &partition).await?;
        Ok(Some(records))
    }

    /// Adds the cold records the pointers list, except those also hot (a
    /// record stored again after tiering is taken hot, once).
    async fn complete(
        &self,
        records: &mut CustomerRecords,
        partition: &Partition,
    ) -> Result<(), StoreError> {
        if records.cold_pointers.is_empty() {
            return Ok(());
        }
        let cold = &self.cold;
        let hot: HashSet<&str> = partition.items.iter().filter_map(sort_key).collect();
        let mut cold_items = Vec::new();
        for pointer in &records.cold_pointers {
            match cold.read_if_online(&pointer.object).await? {
                Some(content) => cold_items.extend(content.records_of(pointer)?),
                None => records.cold_unread += pointer.sort_keys.len() as u64,
            }
        }
        for item in &cold_items {
            if !sort_key(item).is_some_and(|sk| hot.contains(sk)) {
                add(records, item)?;
            }
        }
        Ok(())
    }
}

fn add(records: &mut CustomerRecords, item: &Item) -> Result<(), StoreError> {
    match RecordKind::of(item) {
        Some(RecordKind::Customer) => {
            records.profile = Some(codec::decode(RecordKind::Customer, item)?);
        }
        Some(RecordKind::Order) => records
            .history
            .orders
            .push(codec::decode(RecordKind::Order, item)?),
        Some(RecordKind::Interaction) => records
            .history
            .interactions
            .push(codec::decode(RecordKind::Interaction, item)?),
        Some(RecordKind::Review) => records
            .history
            .reviews
            .push(codec::decode(RecordKind::Review, item)?),
        Some(RecordKind::ColdPointer) => records.cold_pointers.push(ColdPointer::of(item)?),
        _ => {}
    }
    Ok(())
}
