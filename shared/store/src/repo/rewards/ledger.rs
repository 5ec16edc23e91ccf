//! Each customer's points ledger: append-only entries, one guard per kind
//! and source (so an order imported twice earns once and a retried request
//! posts once) and a balance item. Every post is one transaction of the
//! guard, the entry and the balance; a debit's transaction holds only while
//! the balance covers it, so concurrent redemptions cannot overspend.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{
    Condition, Cursor, Index, Item, MAX_TRANSACT_ITEMS, Query, SortCondition, Table, TableError,
    TransactOp, Update, Value,
};
use strata_domain::rewards::ledger::{self, LedgerEntry};

use super::EARLIEST;
use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

const BALANCE: &str = "balance";
const EARNED: &str = "earned";
const DEBITED: &str = "debited";
/// Entries per transaction when many are credited at once: a guard and an
/// entry each, and the balance.
const CREDITS_PER_TRANSACTION: usize = 49;
/// Attempts at a debit whose transaction lost a race it may still win.
const DEBIT_ATTEMPTS: u32 = 8;

/// A customer's balance and what made it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub balance: i64,
    /// Every credit ever.
    pub earned: i64,
    /// Every debit ever (redeemed, clawed back, expired), as a positive number.
    pub debited: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Recorded,
    /// The kind and source had their entry already.
    AlreadyRecorded,
}

/// One page of a ledger, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct PointsLedger {
    table: Arc<dyn Table>,
}

fn guard_item(customer: CustomerId, entry: &LedgerEntry) -> Item {
    let key = keys::points_guard(customer, &entry.source_key());
    let mut item = Item::from([
        (strata_domain::ports::table::PK.to_owned(), Value::S(key.pk)),
        (strata_domain::ports::table::SK.to_owned(), Value::S(key.sk)),
        (
            codec::KIND.to_owned(),
            Value::S(RecordKind::PointsGuard.name().to_owned()),
        ),
    ]);
    item.insert("entry".into(), Value::S(entry.id.clone()));
    item.insert("points".into(), Value::number(entry.points));
    item
}

fn entry_item(customer: CustomerId, entry: &LedgerEntry) -> Result<Item, StoreError> {
    let mut extra = Vec::new();
    // A lot is indexed by the month it expires in until the expiry run has
    // dealt with it.
    if entry.points > 0
        && let Some(expires_at) = entry.expires_at
    {
        extra.push(("gsi2pk", keys::points_expiry_shard(customer)));
        extra.push((
            "gsi2sk",
            keys::points_expiry_sort(customer, expires_at, &entry.id),
        ));
    }
    codec::encode(
        RecordKind::PointsEntry,
        &keys::points_entry(customer, entry.at, &entry.id),
        entry,
        &extra,
    )
}

fn balance_update(points: i64) -> Update {
    let update = Update::default().add(BALANCE, points).set(
        codec::KIND,
        Value::S(RecordKind::PointsBalance.name().into()),
    );
    if points >= 0 {
        update.add(EARNED, points)
    } else {
        update.add(DEBITED, -points)
    }
}

impl PointsLedger {
    pub fn new(table: Arc<dyn Table>) -> Self {
        PointsLedger { table }
    }

    pub async fn balance(&self, customer: CustomerId) -> Result<Balance, StoreError> {
        let Some(item) = self.table.get(&keys::points_balance(customer)).await? else {
            return Ok(Balance::default());
        };
        let number = |name: &str| item.get(name).and_then(Value::as_i64).unwrap_or(0);
        Ok(Balance {
            balance: number(BALANCE),
            earned: number(EARNED),
            debited: number(DEBITED),
        })
    }

    /// Whether the kind and source of `entry` have their entry already.
    pub async fn posted(
        &self,
        customer: CustomerId,
        entry: &LedgerEntry,
    ) -> Result<bool, StoreError> {
        Ok(self
            .table
            .get(&keys::points_guard(customer, &entry.source_key()))
            .await?
            .is_some())
    }

    /// Posts a credit (`points > 0`), once per kind and source.
    pub async fn credit(
        &self,
        customer: CustomerId,
        entry: &LedgerEntry,
    ) -> Result<Posted, StoreError> {
        debug_assert!(entry.points > 0);
        let ops = vec![
            TransactOp::Put {
                item: guard_item(customer, entry),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Put {
                item: entry_item(customer, entry)?,
                condition: Some(Condition::NotExists),
            },
            TransactOp::Update {
                key: keys::points_balance(customer),
                update: balance_update(entry.points),
                condition: None,
            },
        ];
        self.post(customer, entry, ops).await
    }

    /// Posts many credits of one customer: a transaction per 49, and one by
    /// one where a transaction finds some posted already.
    pub async fn credit_many(
        &self,
        customer: CustomerId,
        entries: &[LedgerEntry],
    ) -> Result<u64, StoreError> {
        let mut recorded = 0;
        for chunk in entries.chunks(CREDITS_PER_TRANSACTION) {
            let mut ops = Vec::with_capacity(chunk.len() * 2 + 1);
            for entry in chunk {
                ops.push(TransactOp::Put {
                    item: guard_item(customer, entry),
                    condition: Some(Condition::NotExists),
                });
                ops.push(TransactOp::Put {
                    item: entry_item(customer, entry)?,
                    condition: Some(Condition::NotExists),
                });
            }
            let total = chunk.iter().map(|e| e.points).sum();
            ops.push(TransactOp::Update {
                key: keys::points_balance(customer),
                update: balance_update(total),
                condition: None,
            });
            match self.table.transact_write(ops).await {
                Ok(()) => recorded += chunk.len() as u64,
                Err(TableError::TransactionCanceled(_)) => {
                    for entry in chunk {
                        if self.credit(customer, entry).await? == Posted::Recorded {
                            recorded += 1;
                        }
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(recorded)
    }

    /// Posts the credits of many customers (an import chunk's), packing
    /// several customers into each transaction (up to DynamoDB's 100
    /// items: a guard and an entry per credit, a balance per customer); a
    /// pack that finds some posted already is posted customer by customer.
    /// Returns, per customer, how many credits were posted now.
    pub async fn credit_customers(
        &self,
        credits: &[(CustomerId, Vec<LedgerEntry>)],
    ) -> Result<Vec<u64>, StoreError> {
        let mut recorded = vec![0; credits.len()];
        let mut pack: Vec<usize> = Vec::new();
        let mut ops: Vec<TransactOp> = Vec::new();
        for (index, (customer, entries)) in credits.iter().enumerate() {
            let needed = entries.len() * 2 + 1;
            if entries.is_empty() {
                continue;
            }
            if needed > MAX_TRANSACT_ITEMS {
                recorded[index] = self.credit_many(*customer, entries).await?;
                continue;
            }
            if ops.len() + needed > MAX_TRANSACT_ITEMS {
                self.post_pack(credits, &pack, std::mem::take(&mut ops), &mut recorded)
                    .await?;
                pack.clear();
            }
            for entry in entries {
                ops.push(TransactOp::Put {
                    item: guard_item(*customer, entry),
                    condition: Some(Condition::NotExists),
                });
                ops.push(TransactOp::Put {
                    item: entry_item(*customer, entry)?,
                    condition: Some(Condition::NotExists),
                });
            }
            ops.push(TransactOp::Update {
                key: keys::points_balance(*customer),
                update: balance_update(entries.iter().map(|e| e.points).sum()),
                condition: None,
            });
            pack.push(index);
        }
        if !pack.is_empty() {
            self.post_pack(credits, &pack, ops, &mut recorded).await?;
        }
        Ok(recorded)
    }

    async fn post_pack(
        &self,
        credits: &[(CustomerId, Vec<LedgerEntry>)],
        pack: &[usize],
        ops: Vec<TransactOp>,
        recorded: &mut [u64],
    ) -> Result<(), StoreError> {
        match self.table.transact_write(ops).await {
            Ok(()) => {
                for &index in pack {
                    recorded[index] = credits[index].1.len() as u64;
                }
                Ok(())
            }
            Err(TableError::TransactionCanceled(_)) => {
                for &index in pack {
                    let (customer, entries) = &credits[index];
                    recorded[index] = self.credit_many(*customer, entries).await?;
                }
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Posts a debit (`points < 0`) if the balance covers it, once per kind
    /// and source. `Err(InsufficientPoints)` names what the balance holds.
    pub async fn debit(
        &self,
        customer: CustomerId,
        entry: &LedgerEntry,
    ) -> Result<Posted, StoreError> {
        debug_assert!(entry.points < 0);
        let ops = || -> Result<Vec<TransactOp>, StoreError> {
            Ok(vec![
                TransactOp::Put {
                    item: guard_item(customer, entry),
                    condition: Some(Condition::NotExists),
                },
                TransactOp::Put {
                    item: entry_item(customer, entry)?,
                    condition: Some(Condition::NotExists),
                },
                TransactOp::Update {
                    key: keys::points_balance(customer),
                    update: balance_update(entry.points),
                    condition: Some(Condition::AtLeast(BALANCE.into(), -entry.points)),
                },
            ])
        };
        for attempt in 0..DEBIT_ATTEMPTS {
            match self.table.transact_write(ops()?).await {
                Ok(()) => return Ok(Posted::Recorded),
                Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {}
                Err(other) => return Err(other.into()),
            }
            if self.posted(customer, entry).await? {
                return Ok(Posted::AlreadyRecorded);
            }
            let available = self.balance(customer).await?.balance;
            if available < -entry.points {
                return Err(StoreError::InsufficientPoints {
                    available,
                    asked: -entry.points,
                });
            }
            // Lost a race with another write of the balance: try again.
            tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
        }
        Err(StoreError::Conflict {
            what: format!("the points balance of customer {customer}"),
        })
    }

    async fn post(
        &self,
        customer: CustomerId,
        entry: &LedgerEntry,
        ops: Vec<TransactOp>,
    ) -> Result<Posted, StoreError> {
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(Posted::Recorded),
            Err(TableError::TransactionCanceled(reason)) => {
                if self.posted(customer, entry).await? {
                    Ok(Posted::AlreadyRecorded)
                } else {
                    Err(TableError::TransactionCanceled(reason).into())
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// One page of the ledger, newest first.
    pub async fn page(
        &self,
        customer: CustomerId,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<LedgerPage, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::POINTS_ENTRY_PREFIX.into()))
            .backward()
            .limit(limit)
            .start(start);
        let page = self.table.query(query).await?;
        Ok(LedgerPage {
            entries: page
                .items
                .iter()
                .map(|item| codec::decode(RecordKind::PointsEntry, item))
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    /// The whole ledger, oldest first.
    pub async fn entries(&self, customer: CustomerId) -> Result<Vec<LedgerEntry>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::POINTS_ENTRY_PREFIX.into()));
        let mut entries = Vec::new();
        for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
            entries.push(codec::decode(RecordKind::PointsEntry, item)?);
        }
        Ok(entries)
    }

    /// Expires what is left of this customer's lots expired by `as_of`, at
    /// `as_of`; returns the points expired. Each lot's expiry is posted once
    /// (its guard), and a lot dealt with leaves the expiry index.
    pub async fn expire_due(
        &self,
        customer: CustomerId,
        as_of: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let entries = self.entries(customer).await?;
        let mut expired = 0;
        for lot in ledger::due_expiries(&entries, as_of) {
            let expiry = LedgerEntry {
                id: uuid::Uuid::now_v7().simple().to_string(),
                kind: ledger::EntryKind::Expiry,
                points: -lot.remaining,
                at: lot.expires_at.unwrap_or(as_of).min(as_of),
                source: lot.entry.clone(),
                expires_at: None,
                unrecovered: None,
                note: None,
            };
            match self.debit(customer, &expiry).await {
                Ok(Posted::Recorded) => expired += lot.remaining,
                Ok(Posted::AlreadyRecorded) => {}
                // Spent meanwhile (a redemption racing the run): expire what
                // the balance still holds of it.
                Err(StoreError::InsufficientPoints { available, .. }) if available > 0 => {
                    let partial = LedgerEntry {
                        points: -available,
                        ..expiry
                    };
                    if self.debit(customer, &partial).await? == Posted::Recorded {
                        expired += available;
                    }
                }
                Err(StoreError::InsufficientPoints { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        // Lots expired by now are done with: out of the index.
        for entry in entries
            .iter()
            .filter(|e| e.points > 0 && e.expires_at.is_some_and(|at| at <= as_of))
        {
            let key = keys::points_entry(customer, entry.at, &entry.id);
            let update = Update::default().remove("gsi2pk").remove("gsi2sk");
            match self
                .table
                .update(&key, update, Some(Condition::Exists))
                .await
            {
                Ok(_) | Err(TableError::ConditionFailed) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(expired)
    }

    /// Customers with lots expired by `as_of` that the expiry run has not
    /// dealt with yet, from every shard of the expiry index.
    pub async fn customers_with_due_lots(
        &self,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let mut customers = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let until = format!("{}~", keys::time(as_of));
        for shard in 0..keys::EXPIRY_SHARDS {
            let query = Query::on_index(Index::Gsi2, keys::points_expiry_partition(shard))
                .sort(SortCondition::Between(EARLIEST.into(), until.clone()));
            // Page by page: after a historic import a shard holds many lots.
            let mut start = None;
            loop {
                let page = self.table.query(query.clone().start(start)).await?;
                for item in &page.items {
                    let entry: LedgerEntry = codec::decode(RecordKind::PointsEntry, item)?;
                    if entry.expires_at.is_some_and(|at| at <= as_of)
                        && let Some(customer) = customer_of(item)
                        && seen.insert(customer)
                    {
                        customers.push(customer);
                    }
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        Ok(customers)
    }
}

fn customer_of(item: &Item) -> Option<CustomerId> {
    let pk = item.get(strata_domain::ports::table::PK)?.as_str()?;
    CustomerId::parse("pk", pk.strip_prefix(keys::CUSTOMER_PREFIX)?).ok()
}
