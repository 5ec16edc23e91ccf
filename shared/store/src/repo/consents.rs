//! The consent ledger: one item per decision in the customer's partition,
//! written only if absent and never changed; an erasure deletes it with the
//! partition. Decisions are not personal fields (a purpose, a yes or no, a
//! time, a notice version): they stay in the clear so jobs read them without
//! the customer's key.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use strata_domain::consent::ConsentRecord;
use strata_domain::customer::Consent;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Condition, Query, SortCondition, Table, TableError};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

/// What appending a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    New,
    /// The same decision (purpose, time, version, source, granted) was
    /// already in the ledger; nothing was written.
    AlreadyRecorded,
}

#[derive(Clone)]
pub struct ConsentLedger {
    table: Arc<dyn Table>,
}

impl ConsentLedger {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ConsentLedger { table }
    }

    /// Appends a decision unless the same decision is already recorded.
    pub async fn append(
        &self,
        customer: CustomerId,
        record: &ConsentRecord,
    ) -> Result<Appended, StoreError> {
        let item = codec::encode(
            RecordKind::Consent,
            &key(customer, &record.decision),
            record,
            &[],
        )?;
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(Appended::New),
            Err(TableError::ConditionFailed) => Ok(Appended::AlreadyRecorded),
            Err(other) => Err(other.into()),
        }
    }

    /// Appends each decision; returns how many were new.
    pub async fn append_all(
        &self,
        customer: CustomerId,
        records: &[ConsentRecord],
    ) -> Result<usize, StoreError> {
        let mut new = 0;
        for record in records {
            if self.append(customer, record).await? == Appended::New {
                new += 1;
            }
        }
        Ok(new)
    }

    /// The whole ledger of a customer, oldest decision first.
    pub async fn of(&self, customer: CustomerId) -> Result<Vec<ConsentRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let query = Query::partition(keys::customer_partition(customer))
                .sort(SortCondition::BeginsWith(keys::CONSENT_PREFIX.to_owned()))
                .start(start);
            let page = self.table.query(query).await?;
            for item in &page.items {
                records.push(codec::decode(RecordKind::Consent, item)?);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(records),
            }
        }
    }
}

/// The decision's key: its time and purpose, then a digest of everything
/// decided, so an identical decision lands on the same key.
fn key(customer: CustomerId, decision: &Consent) -> strata_domain::ports::table::Key {
    let at = keys::time(decision.at);
    let mut hash = Sha256::new();
    for part in [
        decision.purpose.name(),
        if decision.granted {
            "granted"
        } else {
            "withdrawn"
        },
        at.as_str(),
        decision.version.as_str(),
        decision.source.as_str(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hex::encode(&hash.finalize()[..8]);
    keys::consent(customer, decision.at, decision.purpose.name(), &digest)
}
