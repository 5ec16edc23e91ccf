//! Churn records: one score item per formal customer (beside the profile,
//! so scoring never conflicts with the profile's optimistic locking), the
//! early-warning index over the riskiest bands, monthly churn/conversion
//! counts, the pointer to the serving model and the admin's conversion
//! criteria.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::churn::model::ModelPointer;
use strata_domain::churn::{ChurnScore, ConversionCriteria, MonthlyCounts, RiskBand};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{
    Condition, Cursor, Index, Item, Query, SortCondition, Table, TableError, Value, WriteRequest,
};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

/// Bands that the early-warning index holds; `low` and `lapsed` customers
/// are the bulk, and indexing them would only make a hot index partition.
pub const INDEXED_BANDS: [RiskBand; 2] = [RiskBand::High, RiskBand::Medium];

const CONVERSION_CONFIG: &str = "conversion";
const REVISION: &str = "revision";

#[derive(Debug, Clone, Default)]
pub struct ScorePage {
    pub scores: Vec<ChurnScore>,
    pub next: Option<Cursor>,
}

/// The admin's conversion criteria with who changed them and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCriteria {
    pub criteria: ConversionCriteria,
    /// Bumped by every change; a change names the revision it replaces.
    pub revision: u64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct ChurnRepository {
    table: Arc<dyn Table>,
}

impl ChurnRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ChurnRepository { table }
    }

    pub async fn put_score(&self, score: &ChurnScore) -> Result<(), StoreError> {
        self.table.put(score_item(score)?, None).await?;
        Ok(())
    }

    /// Replaces many scores with batch writes (a rescoring run).
    pub async fn put_scores(
        &self,
        scores: &[ChurnScore],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = scores
            .iter()
            .map(|s| score_item(s).map(WriteRequest::Put))
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Removes the stored scores of these customers, and with them their
    /// early-warning entries (a customer who withdrew profiling). A
    /// customer without a score costs one no-op delete.
    pub async fn remove_scores(
        &self,
        ids: &[CustomerId],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = ids
            .iter()
            .map(|id| WriteRequest::Delete(keys::churn_score(*id)))
            .collect();
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    pub async fn score(&self, id: CustomerId) -> Result<Option<ChurnScore>, StoreError> {
        let item = self.table.get(&keys::churn_score(id)).await?;
        item.map(|item| codec::decode(RecordKind::ChurnScore, &item))
            .transpose()
    }

    /// Customers of a band, riskiest first: one index query.
    pub async fn by_risk(
        &self,
        band: RiskBand,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<ScorePage, StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::risk_partition(band))
            .start(start)
            .limit(limit);
        let page = self.table.query(query).await?;
        let scores = page
            .items
            .iter()
            .map(|item| codec::decode(RecordKind::ChurnScore, item))
            .collect::<Result<_, _>>()?;
        Ok(ScorePage {
            scores,
            next: page.next,
        })
    }

    /// Replaces the counts of the given months.
    pub async fn put_monthly(
        &self,
        months: &[MonthlyCounts],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = months
            .iter()
            .map(|m| {
                codec::encode(RecordKind::ChurnMonth, &keys::churn_month(&m.month), m, &[])
                    .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// Counts of the months `from..=to` (`YYYY-MM`), oldest first.
    pub async fn monthly(&self, from: &str, to: &str) -> Result<Vec<MonthlyCounts>, StoreError> {
        let (low, high) = (keys::churn_month(from).sk, keys::churn_month(to).sk);
        let query =
            Query::partition(keys::CHURN_STATS_PARTITION).sort(SortCondition::Between(low, high));
        let mut months = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(query.clone().start(start)).await?;
            for item in &page.items {
                months.push(codec::decode(RecordKind::ChurnMonth, item)?);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(months),
            }
        }
    }

    pub async fn model_pointer(&self, model: &str) -> Result<Option<ModelPointer>, StoreError> {
        let item = self.table.get(&keys::model_pointer(model)).await?;
        item.map(|item| codec::decode(RecordKind::ModelPointer, &item))
            .transpose()
    }

    /// Points the model at a new version if the pointer still names
    /// `expected` (`None`: no pointer yet), so two promotions cannot both win.
    pub async fn swap_model_pointer(
        &self,
        model: &str,
        pointer: &ModelPointer,
        expected: Option<&str>,
    ) -> Result<(), StoreError> {
        let item = codec::encode(
            RecordKind::ModelPointer,
            &keys::model_pointer(model),
            pointer,
            &[],
        )?;
        let condition = match expected {
            None => Condition::NotExists,
            Some(version) => Condition::Equals("version".into(), Value::S(version.to_owned())),
        };
        self.table
            .put(item, Some(condition))
            .await
            .map_err(|e| conflict(e, format!("the {model} model pointer")))
    }

    pub async fn conversion_criteria(&self) -> Result<Option<StoredCriteria>, StoreError> {
        let item = self.table.get(&keys::config(CONVERSION_CONFIG)).await?;
        item.map(|item| codec::decode(RecordKind::Config, &item))
            .transpose()
    }

    /// Stores criteria if the stored ones are still at `expected_revision`
    /// (`None`: there are none yet); returns what was stored.
    pub async fn put_conversion_criteria(
        &self,
        criteria: ConversionCriteria,
        expected_revision: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<StoredCriteria, StoreError> {
        let stored = StoredCriteria {
            criteria,
            revision: expected_revision.map_or(1, |r| r + 1),
            updated_at: now,
        };
        let item = codec::encode(
            RecordKind::Config,
            &keys::config(CONVERSION_CONFIG),
            &stored,
            &[],
        )?;
        let condition = match expected_revision {
            None => Condition::NotExists,
            Some(revision) => Condition::Equals(REVISION.into(), Value::number(revision)),
        };
        self.table
            .put(item, Some(condition))
            .await
            .map_err(|e| conflict(e, "the conversion criteria".into()))?;
        Ok(stored)
    }
}

fn conflict(error: TableError, what: String) -> StoreError {
    match error {
        TableError::ConditionFailed => StoreError::Conflict { what },
        other => other.into(),
    }
}

fn score_item(score: &ChurnScore) -> Result<Item, StoreError> {
    let mut index = Vec::new();
    if INDEXED_BANDS.contains(&score.band) {
        index.push(("gsi1pk", keys::risk_partition(score.band)));
        index.push((
            "gsi1sk",
            keys::risk_sort(score.probability, score.customer_id),
        ));
    }
    codec::encode(
        RecordKind::ChurnScore,
        &keys::churn_score(score.customer_id),
        score,
        &index,
    )
}
