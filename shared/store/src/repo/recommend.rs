//! Recommendation records: a precomputed profile per customer (in the
//! customer's partition), a candidate list per node of the category tree,
//! similar products per product, and the requests no level could serve.
//! Serving reads the customer's recommendation item and one list: two
//! GetItems.
//!
//! The customer's item (`RECO`) has two writers that never overwrite each
//! other: the precompute job sets the `profile` attribute, and every profile
//! write that changes the customer's decision on personalisation stamps that
//! decision (`personalisation`) in the same transaction. So a withdrawal
//! stops recommendations at once, even while a job that read the customer
//! before it is still writing, and serving needs no read of the profile.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::StreamExt;
use strata_domain::customer::Consent;
use strata_domain::ids::{CustomerId, ProductId};
use strata_domain::ports::table::{
    Condition, Index, Item, Key, Query, Table, TableError, TransactOp, Update, Value, WriteRequest,
};
use strata_domain::product::Product;
use strata_domain::recommend::{CandidateList, CategoryScope, Miss, Profile, SimilarList};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

/// The precomputed profile, as one attribute so a rewrite replaces it whole.
const PROFILE: &str = "profile";
/// The customer's decision on personalisation in force, stamped by profile writes.
const PERSONALISATION: &str = "personalisation";
/// Profile writes in flight at once in the job.
const WRITES_IN_FLIGHT: usize = 16;

/// What serving knows of one customer from their recommendation item.
#[derive(Debug, Clone, PartialEq)]
pub struct Serving {
    /// The decision on personalisation in force when the profile was last
    /// written; `None` if the customer never made one.
    pub personalisation: Option<Consent>,
    /// Absent until a precompute saw history, and after a withdrawal.
    pub profile: Option<Profile>,
}

#[derive(Clone)]
pub struct RecommendRepository {
    table: Arc<dyn Table>,
}

impl RecommendRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RecommendRepository { table }
    }

    /// One GetItem. `None`: nothing was ever written for this customer.
    pub async fn serving(&self, id: CustomerId) -> Result<Option<Serving>, StoreError> {
        let key = keys::reco_profile(id);
        let Some(item) = self.table.get(&key).await? else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            key: Some(key.clone()),
            reason,
        };
        if RecordKind::of(&item) != Some(RecordKind::RecoProfile) {
            return Err(corrupt("expected a reco_profile item".into()));
        }
        let read = |name: &str| item.get(name).filter(|v| !matches!(v, Value::Null));
        Ok(Some(Serving {
            personalisation: read(PERSONALISATION)
                .map(codec::from_attribute)
                .transpose()
                .map_err(corrupt)?,
            profile: read(PROFILE)
                .map(codec::from_attribute)
                .transpose()
                .map_err(corrupt)?,
        }))
    }

    /// One GetItem.
    pub async fn profile(&self, id: CustomerId) -> Result<Option<Profile>, StoreError> {
        Ok(self.serving(id).await?.and_then(|s| s.profile))
    }

    /// One GetItem.
    pub async fn list(&self, scope: &CategoryScope) -> Result<Option<CandidateList>, StoreError> {
        let item = self.table.get(&keys::reco_list(scope)).await?;
        item.map(|item| codec::decode(RecordKind::RecoList, &item))
            .transpose()
    }

    pub async fn similar(&self, id: &ProductId) -> Result<Option<SimilarList>, StoreError> {
        let item = self.table.get(&keys::reco_similar(id)).await?;
        item.map(|item| codec::decode(RecordKind::RecoSimilar, &item))
            .transpose()
    }

    /// Writes precomputed profiles, leaving each item's consent stamp as it
    /// is: one UpdateItem per profile (a batch put would replace the stamp),
    /// several in flight. Returns how many were sent.
    pub async fn put_profiles(&self, profiles: &[Profile]) -> Result<usize, StoreError> {
        let updates = profiles.iter().map(|profile| {
            codec::to_attribute(profile).map(|value| {
                (
                    keys::reco_profile(profile.customer_id),
                    reco_item().set(PROFILE, value),
                    None,
                )
            })
        });
        self.apply_all(updates.collect::<Result<Vec<_>, _>>()?)
            .await
    }

    /// Drops the profiles an earlier precompute left for customers who have
    /// withdrawn personalisation since (their stamp already stops serving;
    /// this removes the derived data). Items stay: they hold the stamp.
    pub async fn withhold_profiles(&self, withdrawn: &[CustomerId]) -> Result<usize, StoreError> {
        let drops = withdrawn
            .iter()
            .map(|id| {
                (
                    keys::reco_profile(*id),
                    Update::default().remove(PROFILE),
                    Some(Condition::Exists),
                )
            })
            .collect();
        self.apply_all(drops).await
    }

    async fn apply_all(
        &self,
        updates: Vec<(Key, Update, Option<Condition>)>,
    ) -> Result<usize, StoreError> {
        let table = &self.table;
        let written = updates.len();
        futures::stream::iter(updates)
            .map(|(key, update, condition)| async move {
                match table.update(&key, update, condition).await {
                    // Only drops are conditional (on the item existing).
                    Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
                    Err(other) => Err(other),
                }
            })
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()?;
        Ok(written)
    }

    pub async fn put_lists(
        &self,
        lists: &[CandidateList],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = lists
            .iter()
            .map(|l| {
                codec::encode(RecordKind::RecoList, &keys::reco_list(&l.scope), l, &[])
                    .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    pub async fn put_similar(
        &self,
        lists: &[SimilarList],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = lists
            .iter()
            .map(|l| {
                codec::encode(
                    RecordKind::RecoSimilar,
                    &keys::reco_similar(&l.product_id),
                    l,
                    &[],
                )
                .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Records a miss in the customer's partition, listed under its day.
    pub async fn record_miss(&self, miss: &Miss) -> Result<(), StoreError> {
        let day = miss.at.format("%Y-%m-%d").to_string();
        let index = [
            ("gsi1pk", keys::reco_miss_day(&day)),
            ("gsi1sk", keys::reco_miss_sort(miss.customer_id, miss.at)),
        ];
        let item = codec::encode(
            RecordKind::RecoMiss,
            &keys::reco_miss(miss.customer_id, miss.at),
            miss,
            &index,
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// One day's misses, oldest first.
    pub async fn misses(&self, day: NaiveDate) -> Result<Vec<Miss>, StoreError> {
        let query = Query::on_index(
            Index::Gsi1,
            keys::reco_miss_day(&day.format("%Y-%m-%d").to_string()),
        );
        let mut misses = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(query.clone().start(start)).await?;
            for item in &page.items {
                misses.push(codec::decode(RecordKind::RecoMiss, item)?);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(misses),
            }
        }
    }

    /// The products in one segment of a parallel scan.
    pub async fn products_in_segment(
        &self,
        segment: u32,
        total_segments: u32,
        page_size: u32,
    ) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .table
                .scan(segment, total_segments, start, Some(page_size))
                .await?;
            products.extend(
                page.items
                    .iter()
                    .filter(|item: &&Item| RecordKind::of(item) == Some(RecordKind::Product))
                    .map(|item| codec::decode(RecordKind::Product, item))
                    .collect::<Result<Vec<Product>, _>>()?,
            );
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(products),
            }
        }
    }
}

/// The start of every write to a recommendation item: it says what it is
/// and when it was written, whichever writer creates it.
fn reco_item() -> Update {
    Update::default()
        .set(
            codec::KIND,
            Value::S(RecordKind::RecoProfile.name().to_owned()),
        )
        .set(codec::WRITTEN_AT, Value::S(keys::time(chrono::Utc::now())))
}

/// The stamp a profile write adds to its transaction when the customer's
/// decision on personalisation changes.
pub(crate) fn personalisation_stamp(
    id: CustomerId,
    decision: Option<&Consent>,
) -> Result<TransactOp, StoreError> {
    let update = match decision {
        Some(decision) => reco_item().set(PERSONALISATION, codec::to_attribute(decision)?),
        None => reco_item().remove(PERSONALISATION),
    };
    Ok(TransactOp::Update {
        key: keys::reco_profile(id),
        update,
        condition: None,
    })
}

/// The same stamp as a whole item, for bulk loads of new customers.
pub(crate) fn personalisation_stamp_item(
    id: CustomerId,
    decision: &Consent,
) -> Result<Item, StoreError> {
    let key = keys::reco_profile(id);
    let update = reco_item().set(PERSONALISATION, codec::to_attribute(decision)?);
    Ok(update.apply(&key, None)?)
}
