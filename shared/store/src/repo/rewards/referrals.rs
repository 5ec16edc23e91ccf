//! Referral codes and links. A customer's code is derived from their id
//! and registered (`REFCODE#<code>`) the first time it is asked for; a link
//! (`REFERRAL` in the referred customer's partition) is written once. When
//! a customer is erased their code stays registered without their id, so
//! it is refused as an erased referrer's, not as unknown.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{Condition, Key, Table, TableError, Update, Value};
use strata_domain::rewards::referral::{self, MAX_CHAIN};

use super::seed_of;
use crate::batch::{self, BatchPolicy};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

/// Whom a customer was referred by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralLink {
    pub referrer: CustomerId,
    pub code: String,
    pub linked_at: DateTime<Utc>,
    /// When the referrer was credited for the first purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewarded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CodeOwner {
    code: String,
    /// Absent once the owner is erased.
    #[serde(default)]
    customer_id: Option<CustomerId>,
    #[serde(default)]
    erased: bool,
}

/// What a code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Customer(CustomerId),
    Erased,
    Unknown,
}

#[derive(Clone)]
pub struct ReferralRepository {
    table: Arc<dyn Table>,
}

impl ReferralRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ReferralRepository { table }
    }

    /// The code a customer's is (derived from their id; the same every time).
    pub fn code_for(customer: CustomerId) -> String {
        referral::code_from(seed_of(&format!("referral#{customer}")))
    }

    /// The customer's code, registered if it was not yet.
    pub async fn code_of(&self, customer: CustomerId) -> Result<String, StoreError> {
        let code = Self::code_for(customer);
        let owner = CodeOwner {
            code: code.clone(),
            customer_id: Some(customer),
            erased: false,
        };
        let item = codec::encode(
            RecordKind::ReferralCode,
            &keys::referral_code(&code),
            &owner,
            &[],
        )?;
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(code),
            Err(TableError::ConditionFailed) => match self.resolve(&code).await? {
                Resolved::Customer(owner) if owner == customer => Ok(code),
                _ => Err(StoreError::Conflict {
                    what: format!("referral code {code}"),
                }),
            },
            Err(other) => Err(other.into()),
        }
    }

    pub async fn resolve(&self, code: &str) -> Result<Resolved, StoreError> {
        let Some(item) = self.table.get(&keys::referral_code(code)).await? else {
            return Ok(Resolved::Unknown);
        };
        let owner: CodeOwner = codec::decode(RecordKind::ReferralCode, &item)?;
        Ok(match owner.customer_id {
            Some(id) if !owner.erased => Resolved::Customer(id),
            _ => Resolved::Erased,
        })
    }

    /// Called on erasure: the code stays, without whose it was.
    pub async fn forget(&self, customer: CustomerId) -> Result<(), StoreError> {
        let code = Self::code_for(customer);
        let update = Update::default()
            .remove("customer_id")
            .set("erased", Value::Bool(true));
        let theirs = Condition::Equals("customer_id".into(), Value::S(customer.to_string()));
        match self
            .table
            .update(&keys::referral_code(&code), update, Some(theirs))
            .await
        {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn link_of(&self, customer: CustomerId) -> Result<Option<ReferralLink>, StoreError> {
        match self.table.get(&keys::referral_link(customer)).await? {
            Some(item) => Ok(Some(codec::decode(RecordKind::ReferralLink, &item)?)),
            None => Ok(None),
        }
    }

    /// The links of many customers (those with none are absent).
    pub async fn links_of(
        &self,
        customers: &[CustomerId],
    ) -> Result<HashMap<CustomerId, ReferralLink>, StoreError> {
        let mut links = HashMap::new();
        if customers.is_empty() {
            return Ok(links);
        }
        let keys: Vec<Key> = customers.iter().map(|c| keys::referral_link(*c)).collect();
        let found = batch::get_many(self.table.as_ref(), keys, BatchPolicy::default()).await?;
        for customer in customers {
            if let Some(item) = found.get(&keys::referral_link(*customer)) {
                links.insert(*customer, codec::decode(RecordKind::ReferralLink, item)?);
            }
        }
        Ok(links)
    }

    /// The referrers up the chain from `customer` (nearest first), as far as
    /// `MAX_CHAIN` or a loop.
    pub async fn chain(&self, customer: CustomerId) -> Result<Vec<CustomerId>, StoreError> {
        let mut chain = Vec::new();
        let mut at = customer;
        while chain.len() < MAX_CHAIN {
            let Some(link) = self.link_of(at).await? else {
                break;
            };
            if chain.contains(&link.referrer) {
                break;
            }
            chain.push(link.referrer);
            at = link.referrer;
        }
        Ok(chain)
    }

    /// Notes on the link that the referrer was credited.
    pub async fn mark_rewarded(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = Update::default().set("rewarded_at", Value::S(keys::time(at)));
        match self
            .table
            .update(
                &keys::referral_link(customer),
                update,
                Some(Condition::Exists),
            )
            .await
        {
            // Erased meanwhile: nothing to note.
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Writes the link unless the customer has one (returned instead).
    pub async fn link(
        &self,
        customer: CustomerId,
        link: &ReferralLink,
    ) -> Result<Option<ReferralLink>, StoreError> {
        let item = codec::encode(
            RecordKind::ReferralLink,
            &keys::referral_link(customer),
            link,
            &[],
        )?;
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(None),
            Err(TableError::ConditionFailed) => self.link_of(customer).await,
            Err(other) => Err(other.into()),
        }
    }
}
