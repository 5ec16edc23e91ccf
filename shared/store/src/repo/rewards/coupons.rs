//! Coupon templates (admin configuration under a revision each), coupons
//! (in the customer's partition; redeemed once by a conditional write) and
//! bulk issues to a tier (idempotent: a customer's coupon of an issue has a
//! code derived from both, written only if absent; resumable: the issue
//! keeps where it got to).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::customer::Tier;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{
    Condition, Index, Item, Query, SortCondition, Table, TableError, Update, Value,
};
use strata_domain::rewards::coupon::{self, CouponState, CouponTemplate, IssuedCoupon};

use super::{EARLIEST, seed_of};
use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::repo::put_revision;

const STATE: &str = "state";

/// A template with its revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTemplate {
    pub id: String,
    pub template: CouponTemplate,
    pub revision: u64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    New(IssuedCoupon),
    /// The code was issued before (the same issue or grant run again).
    Already(IssuedCoupon),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    Now(IssuedCoupon),
    /// Redeemed before for the same reference.
    Already(IssuedCoupon),
}

/// A bulk issue of one template to every customer of a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponIssue {
    pub id: String,
    pub template: String,
    pub tier: Tier,
    pub started_at: DateTime<Utc>,
    pub progress: IssueProgress,
    /// Where the tier's list resumes; `None` with `done`.
    #[serde(default)]
    pub cursor: Option<BTreeMap<String, Value>>,
    pub done: bool,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueProgress {
    /// Customers of the tier looked at.
    pub customers: u64,
    pub issued: u64,
    /// Issued by an earlier attempt at the same issue.
    pub already: u64,
}

#[derive(Clone)]
pub struct CouponRepository {
    table: Arc<dyn Table>,
}

impl CouponRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        CouponRepository { table }
    }

    pub async fn template(&self, id: &str) -> Result<Option<StoredTemplate>, StoreError> {
        match self.table.get(&keys::coupon_template(id)).await? {
            Some(item) => Ok(Some(codec::decode(RecordKind::CouponTemplate, &item)?)),
            None => Ok(None),
        }
    }

    pub async fn templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        let query = Query::partition(keys::COUPON_TEMPLATES_PARTITION);
        let mut all = Vec::new();
        for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
            all.push(codec::decode(RecordKind::CouponTemplate, item)?);
        }
        Ok(all)
    }

    /// Creates or replaces a template if it is still at `expected` (0: new).
    pub async fn put_template(
        &self,
        id: &str,
        template: CouponTemplate,
        expected: u64,
        now: DateTime<Utc>,
    ) -> Result<StoredTemplate, StoreError> {
        let stored = StoredTemplate {
            id: id.to_owned(),
            template,
            revision: expected + 1,
            updated_at: now,
        };
        let item = codec::encode(
            RecordKind::CouponTemplate,
            &keys::coupon_template(id),
            &stored,
            &[],
        )?;
        put_revision(self.table.as_ref(), item, expected, "the coupon template").await?;
        Ok(stored)
    }

    fn item(coupon: &IssuedCoupon) -> Result<Item, StoreError> {
        let mut extra = Vec::new();
        if coupon.state == CouponState::Issued {
            extra.push(("gsi2pk", keys::coupon_expiry_shard(coupon.customer_id)));
            extra.push((
                "gsi2sk",
                keys::coupon_expiry_sort(coupon.customer_id, coupon.expires_at, &coupon.code),
            ));
        }
        codec::encode(
            RecordKind::Coupon,
            &keys::coupon(coupon.customer_id, &coupon.code),
            coupon,
            &extra,
        )
    }

    /// Writes a coupon unless its code was issued to the customer before.
    pub async fn issue(&self, coupon: &IssuedCoupon) -> Result<Issued, StoreError> {
        match self
            .table
            .put(Self::item(coupon)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(Issued::New(coupon.clone())),
            Err(TableError::ConditionFailed) => {
                match self.get(coupon.customer_id, &coupon.code).await? {
                    Some(stored) => Ok(Issued::Already(stored)),
                    None => Err(StoreError::Conflict {
                        what: format!("coupon {}", coupon.code),
                    }),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    pub async fn get(
        &self,
        customer: CustomerId,
        code: &str,
    ) -> Result<Option<IssuedCoupon>, StoreError> {
        match self.table.get(&keys::coupon(customer, code)).await? {
            Some(item) => Ok(Some(codec::decode(RecordKind::Coupon, &item)?)),
            None => Ok(None),
        }
    }

    /// A customer's coupons, newest first.
    pub async fn of_customer(&self, customer: CustomerId) -> Result<Vec<IssuedCoupon>, StoreError> {
        let query = Query::partition(keys::customer_partition(customer))
            .sort(SortCondition::BeginsWith(keys::COUPON_PREFIX.into()));
        let mut all: Vec<IssuedCoupon> = Vec::new();
        for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
            all.push(codec::decode(RecordKind::Coupon, item)?);
        }
        all.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then(a.code.cmp(&b.code)));
        Ok(all)
    }

    /// Redeems a coupon for `reference` (an order number or a checkout),
    /// once: the write holds only while the coupon is still issued, so of
    /// two redemptions at once one wins. The same reference again finds its
    /// redemption. A refusal says why (`Err(Ok(refusal))`).
    pub async fn redeem(
        &self,
        customer: CustomerId,
        code: &str,
        reference: &str,
        spend_minor: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<Result<Redeemed, coupon::CouponRefusal>, StoreError> {
        let Some(coupon) = self.get(customer, code).await? else {
            return Err(StoreError::NotFound {
                what: format!("coupon {code}"),
            });
        };
        if let Err(refusal) = coupon.redeemable(at, reference, spend_minor) {
            return Ok(Err(refusal));
        }
        if coupon.state == CouponState::Redeemed {
            return Ok(Ok(Redeemed::Already(coupon)));
        }
        let redeemed = IssuedCoupon {
            state: CouponState::Redeemed,
            redeemed_at: Some(at),
            redeemed_for: Some(reference.to_owned()),
            ..coupon
        };
        let update = Update::default()
            .set(STATE, Value::S(CouponState::Redeemed.name().into()))
            .set("redeemed_at", Value::S(keys::time(at)))
            .set("redeemed_for", Value::S(reference.to_owned()))
            .remove("gsi2pk")
            .remove("gsi2sk");
        let issued = Condition::Equals(STATE.into(), Value::S(CouponState::Issued.name().into()));
        match self
            .table
            .update(&keys::coupon(customer, code), update, Some(issued))
            .await
        {
            Ok(_) => Ok(Ok(Redeemed::Now(redeemed))),
            Err(TableError::ConditionFailed) => {
                // Someone else got there first: what does the coupon say now?
                let now = self.get(customer, code).await?;
                match now {
                    Some(now) => match now.redeemable(at, reference, spend_minor) {
                        Ok(()) => Ok(Ok(Redeemed::Already(now))),
                        Err(refusal) => Ok(Err(refusal)),
                    },
                    None => Err(StoreError::NotFound {
                        what: format!("coupon {code}"),
                    }),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Gives a coupon redeemed for `reference` back (issued again), if it
    /// still is redeemed for it: for an order that was not stored after all.
    pub async fn release(
        &self,
        customer: CustomerId,
        code: &str,
        reference: &str,
    ) -> Result<(), StoreError> {
        let Some(coupon) = self.get(customer, code).await? else {
            return Ok(());
        };
        let mut update = Update::default()
            .set(STATE, Value::S(CouponState::Issued.name().into()))
            .remove("redeemed_at")
            .remove("redeemed_for");
        update = update
            .set("gsi2pk", Value::S(keys::coupon_expiry_shard(customer)))
            .set(
                "gsi2sk",
                Value::S(keys::coupon_expiry_sort(customer, coupon.expires_at, code)),
            );
        let theirs = Condition::Equals("redeemed_for".into(), Value::S(reference.to_owned()));
        match self
            .table
            .update(&keys::coupon(customer, code), update, Some(theirs))
            .await
        {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Marks issued coupons expired by `as_of` expired (from every shard of
    /// the expiry index); returns how many.
    pub async fn expire_due(&self, as_of: DateTime<Utc>) -> Result<u64, StoreError> {
        let until = format!("{}~", keys::time(as_of));
        let mut expired = 0;
        for shard in 0..keys::EXPIRY_SHARDS {
            let query = Query::on_index(Index::Gsi2, keys::coupon_expiry_partition(shard))
                .sort(SortCondition::Between(EARLIEST.into(), until.clone()));
            // Page by page, keeping only keys: a shard may hold many.
            let mut due = Vec::new();
            let mut start = None;
            loop {
                let page = self.table.query(query.clone().start(start)).await?;
                for item in &page.items {
                    let coupon: IssuedCoupon = codec::decode(RecordKind::Coupon, item)?;
                    if coupon.expires_at <= as_of {
                        due.push(keys::coupon(coupon.customer_id, &coupon.code));
                    }
                }
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
            for key in due {
                let update = Update::default()
                    .set(STATE, Value::S(CouponState::Expired.name().into()))
                    .remove("gsi2pk")
                    .remove("gsi2sk");
                let issued =
                    Condition::Equals(STATE.into(), Value::S(CouponState::Issued.name().into()));
                match self.table.update(&key, update, Some(issued)).await {
                    Ok(_) => expired += 1,
                    // Redeemed meanwhile: its redemption took it out of the index.
                    Err(TableError::ConditionFailed) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(expired)
    }

    /// The code a customer's coupon of a bulk issue or a grant has: the same
    /// every time, so issuing again writes nothing new.
    pub fn derived_code(grant: &str, customer: CustomerId) -> String {
        coupon::code_from(seed_of(&format!("{grant}#{customer}")))
    }

    pub async fn issue_run(&self, id: &str) -> Result<Option<CouponIssue>, StoreError> {
        match self.table.get(&keys::coupon_issue(id)).await? {
            Some(item) => Ok(Some(codec::decode(RecordKind::CouponIssue, &item)?)),
            None => Ok(None),
        }
    }

    /// Starts a bulk issue unless one with this id exists (returned as it is).
    pub async fn start_issue(&self, issue: &CouponIssue) -> Result<CouponIssue, StoreError> {
        let item = codec::encode(
            RecordKind::CouponIssue,
            &keys::coupon_issue(&issue.id),
            issue,
            &[],
        )?;
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(issue.clone()),
            Err(TableError::ConditionFailed) => {
                self.issue_run(&issue.id)
                    .await?
                    .ok_or_else(|| StoreError::Conflict {
                        what: format!("coupon issue {}", issue.id),
                    })
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Saves how far a bulk issue got.
    pub async fn save_issue(&self, issue: &CouponIssue) -> Result<(), StoreError> {
        let item = codec::encode(
            RecordKind::CouponIssue,
            &keys::coupon_issue(&issue.id),
            issue,
            &[],
        )?;
        self.table.put(item, Some(Condition::Exists)).await?;
        Ok(())
    }

    /// Bulk issues not finished yet.
    pub async fn unfinished_issues(&self) -> Result<Vec<CouponIssue>, StoreError> {
        let query = Query::partition(keys::COUPON_ISSUES_PARTITION);
        let mut open = Vec::new();
        for item in &batch::query_all(self.table.as_ref(), query.clone()).await? {
            let issue: CouponIssue = codec::decode(RecordKind::CouponIssue, item)?;
            if !issue.done {
                open.push(issue);
            }
        }
        Ok(open)
    }
}
