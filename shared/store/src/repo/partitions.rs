//! Whole customers out of one segment of a parallel scan: the profile and
//! the history of each customer partition, without a query per customer.
//!
//! DynamoDB (and the embedded table) return a partition's items together,
//! in sort-key order, so a partition is complete when the next one starts.
//! The scan checks this and fails rather than hand out half a history.

use std::collections::HashSet;
use std::sync::Arc;

use strata_domain::customer::Customer;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Cursor, Item, Key, PK, Table};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::activity::History;

/// One customer partition as stored.
#[derive(Debug, Clone)]
pub struct CustomerRecords {
    pub id: CustomerId,
    pub profile: Option<Customer>,
    pub history: History,
}

/// Reads one scan segment customer by customer.
pub struct CustomerScan {
    table: Arc<dyn Table>,
    segment: u32,
    total_segments: u32,
    page_size: u32,
    start: Option<Cursor>,
    done: bool,
    page: std::vec::IntoIter<Item>,
    open: Option<CustomerRecords>,
    finished: HashSet<CustomerId>,
}

impl CustomerScan {
    pub fn new(table: Arc<dyn Table>, segment: u32, total_segments: u32, page_size: u32) -> Self {
        CustomerScan {
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

    /// The next whole customer of the segment, or `None` at its end.
    pub async fn next(&mut self) -> Result<Option<CustomerRecords>, StoreError> {
        loop {
            let Some(item) = self.next_item().await? else {
                return Ok(self.close_open());
            };
            let Some(id) = item
                .get(PK)
                .and_then(|v| v.as_str())
                .and_then(keys::customer_of_partition)
            else {
                continue; // not a customer partition (lookups, products, stats…)
            };
            let completed = match &self.open {
                Some(open) if open.id != id => self.close_open(),
                _ => None,
            };
            if self.finished.contains(&id) {
                return Err(StoreError::Corrupt {
                    key: Key::of(&item),
                    reason: "the scan returned a customer partition in two pieces".into(),
                });
            }
            let open = self.open.get_or_insert_with(|| CustomerRecords {
                id,
                profile: None,
                history: History::default(),
            });
            add(open, &item)?;
            if completed.is_some() {
                return Ok(completed);
            }
        }
    }

    fn close_open(&mut self) -> Option<CustomerRecords> {
        let closed = self.open.take()?;
        self.finished.insert(closed.id);
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
        _ => {}
    }
    Ok(())
}
