//! Recommendation records: a precomputed profile per customer (in the
//! customer's partition), a candidate list per node of the category tree,
//! similar products per product, and the requests no level could serve.
//! Serving reads one profile and one list: two GetItems.

use std::sync::Arc;

use chrono::NaiveDate;
use strata_domain::ids::{CustomerId, ProductId};
use strata_domain::ports::table::{Index, Item, Query, Table, WriteRequest};
use strata_domain::product::Product;
use strata_domain::recommend::{CandidateList, CategoryScope, Miss, Profile, SimilarList};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Clone)]
pub struct RecommendRepository {
    table: Arc<dyn Table>,
}

impl RecommendRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        RecommendRepository { table }
    }

    /// One GetItem.
    pub async fn profile(&self, id: CustomerId) -> Result<Option<Profile>, StoreError> {
        let item = self.table.get(&keys::reco_profile(id)).await?;
        item.map(|item| codec::decode(RecordKind::RecoProfile, &item))
            .transpose()
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

    pub async fn put_profiles(
        &self,
        profiles: &[Profile],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = profiles
            .iter()
            .map(|p| {
                codec::encode(
                    RecordKind::RecoProfile,
                    &keys::reco_profile(p.customer_id),
                    p,
                    &[],
                )
                .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
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
