//! What segment rules read, customer by customer, out of every segment of
//! a parallel scan in turn: the profile (without personal fields), the interactions
//! since an instant (complaints and conversion signals; older ones are not
//! decoded) and the stored churn score. Orders are not decoded: the
//! profile's summary has what rules read of them. Cold records are not
//! read: tiering moves only records older than any window rules use.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use strata_domain::churn::ChurnScore;
use strata_domain::customer::Customer;
use strata_domain::interaction::Interaction;
use strata_domain::ports::table::{SK, Table, Value};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::partitions::{Partition, PartitionScan};

/// One customer as the segment rules need them.
#[derive(Debug, Clone)]
pub struct SegmentInputs {
    pub profile: Customer,
    pub interactions: Vec<Interaction>,
    pub score: Option<ChurnScore>,
}

/// Every customer of the table, one parallel-scan segment after another.
pub struct SegmentScan {
    table: Arc<dyn Table>,
    total_segments: u32,
    page_size: u32,
    /// The next segment to open.
    segment: u32,
    partitions: Option<PartitionScan>,
    /// Interaction sort keys at or above this are decoded.
    since_sk: String,
}

impl SegmentScan {
    pub fn new(
        table: Arc<dyn Table>,
        total_segments: u32,
        page_size: u32,
        interactions_since: DateTime<Utc>,
    ) -> Self {
        SegmentScan {
            table,
            total_segments: total_segments.max(1),
            page_size: page_size.max(1),
            segment: 0,
            partitions: None,
            since_sk: format!(
                "{}{}",
                keys::INTERACTION_PREFIX,
                keys::time(interactions_since)
            ),
        }
    }

    /// The next whole customer partition of any segment.
    async fn next_partition(&mut self) -> Result<Option<Partition>, StoreError> {
        loop {
            if self.partitions.is_none() {
                if self.segment >= self.total_segments {
                    return Ok(None);
                }
                self.partitions = Some(PartitionScan::new(
                    self.table.clone(),
                    self.segment,
                    self.total_segments,
                    self.page_size,
                ));
                self.segment += 1;
            }
            if let Some(scan) = self.partitions.as_mut() {
                match scan.next().await? {
                    Some(partition) => return Ok(Some(partition)),
                    None => self.partitions = None,
                }
            }
        }
    }

    /// The next customer with a profile, or `None` once every segment is read.
    pub async fn next(&mut self) -> Result<Option<SegmentInputs>, StoreError> {
        while let Some(partition) = self.next_partition().await? {
            let mut profile = None;
            let mut interactions = Vec::new();
            let mut score = None;
            for item in &partition.items {
                match RecordKind::of(item) {
                    Some(RecordKind::Customer) => {
                        profile = Some(codec::decode(RecordKind::Customer, item)?);
                    }
                    Some(RecordKind::ChurnScore) => {
                        score = Some(codec::decode(RecordKind::ChurnScore, item)?);
                    }
                    Some(RecordKind::Interaction)
                        if item
                            .get(SK)
                            .and_then(Value::as_str)
                            .is_some_and(|sk| sk >= self.since_sk.as_str()) =>
                    {
                        interactions.push(codec::decode(RecordKind::Interaction, item)?);
                    }
                    _ => {}
                }
            }
            if let Some(profile) = profile {
                return Ok(Some(SegmentInputs {
                    profile,
                    interactions,
                    score,
                }));
            }
        }
        Ok(None)
    }
}
