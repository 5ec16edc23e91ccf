//! Customer profiles and the lookup items that find them by e-mail, phone or
//! source id. Profile and lookups change together in one transaction, so a
//! lookup never points at a profile that does not know the identifier.

use std::sync::Arc;

use strata_domain::customer::{Customer, Identifier, Tier};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{
    Condition, Cursor, Index, Item, Query, Table, TableError, TransactOp, Value, WriteRequest,
};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

const OWNER: &str = "customer_id";
const VERSION: &str = "version";

/// One page of customers from a listing.
#[derive(Debug, Clone, Default)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct CustomerRepository {
    table: Arc<dyn Table>,
}

impl CustomerRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        CustomerRepository { table }
    }

    pub async fn get(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        let item = self.table.get(&keys::customer(id)).await?;
        item.map(|item| codec::decode(RecordKind::Customer, &item))
            .transpose()
    }

    /// The customer known by this identifier, if any.
    pub async fn find(&self, identifier: &Identifier) -> Result<Option<CustomerId>, StoreError> {
        let Some(item) = self.table.get(&keys::lookup(identifier)).await? else {
            return Ok(None);
        };
        owner_of(&item).map(Some)
    }

    /// Stores a new profile (version 0) with its lookups. Fails with
    /// `IdentifierTaken` if another customer already has one of them.
    pub async fn create(&self, customer: &Customer) -> Result<(), StoreError> {
        let mut ops = vec![TransactOp::Put {
            item: profile_item(customer)?,
            condition: Some(Condition::NotExists),
        }];
        ops.extend(
            customer
                .identifiers()
                .iter()
                .map(|id| claim(id, customer.id)),
        );
        self.commit(customer, ops).await
    }

    /// Stores a changed profile if nobody else changed it since it was read
    /// (`customer.version` is the version read), and moves its lookups along.
    /// Returns the profile as stored, with its new version.
    pub async fn save(&self, customer: &Customer) -> Result<Customer, StoreError> {
        let before = self
            .get(customer.id)
            .await?
            .ok_or_else(|| StoreError::Conflict {
                what: format!("customer {}", customer.id),
            })?;
        if before.version != customer.version {
            return Err(StoreError::Conflict {
                what: format!("customer {}", customer.id),
            });
        }
        let mut next = customer.clone();
        next.version += 1;
        let version_read = Condition::Equals(VERSION.into(), Value::number(customer.version));
        let mut ops = vec![TransactOp::Put {
            item: profile_item(&next)?,
            condition: Some(version_read),
        }];
        let now = next.identifiers();
        ops.extend(
            now.iter()
                .filter(|id| !before.identifiers().contains(id))
                .map(|id| claim(id, next.id)),
        );
        ops.extend(
            before
                .identifiers()
                .iter()
                .filter(|id| !now.contains(id))
                .map(|id| TransactOp::Delete {
                    key: keys::lookup(id),
                    condition: Some(Condition::Equals(
                        OWNER.into(),
                        Value::S(next.id.to_string()),
                    )),
                }),
        );
        self.commit(&next, ops).await?;
        Ok(next)
    }

    /// Writes many new profiles and their lookups with batch writes. For bulk
    /// loads whose identities were resolved beforehand: unlike `create`, it
    /// does not check that identifiers are free.
    pub async fn put_many(
        &self,
        customers: &[Customer],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let mut writes = Vec::with_capacity(customers.len() * 2);
        for customer in customers {
            writes.push(WriteRequest::Put(profile_item(customer)?));
            for id in customer.identifiers() {
                writes.push(WriteRequest::Put(lookup_item(&id, customer.id)));
            }
        }
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    pub async fn list_by_tier(
        &self,
        tier: Tier,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<CustomerPage, StoreError> {
        self.list(
            Query::on_index(Index::Gsi1, keys::tier_partition(tier))
                .start(start)
                .limit(limit),
        )
        .await
    }

    pub async fn list_by_segment(
        &self,
        segment: &str,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<CustomerPage, StoreError> {
        self.list(
            Query::on_index(Index::Gsi2, keys::segment_partition(segment))
                .start(start)
                .limit(limit),
        )
        .await
    }

    async fn list(&self, query: Query) -> Result<CustomerPage, StoreError> {
        let page = self.table.query(query).await?;
        let customers = page
            .items
            .iter()
            .map(|item| codec::decode(RecordKind::Customer, item))
            .collect::<Result<_, _>>()?;
        Ok(CustomerPage {
            customers,
            next: page.next,
        })
    }

    async fn commit(&self, customer: &Customer, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCanceled(_)) | Err(TableError::ConditionFailed) => {
                Err(self.explain_refusal(customer).await)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Works out which condition refused a transaction, for a useful error.
    async fn explain_refusal(&self, customer: &Customer) -> StoreError {
        for identifier in customer.identifiers() {
            match self.find(&identifier).await {
                Ok(Some(owner)) if owner != customer.id => {
                    return StoreError::IdentifierTaken {
                        identifier: describe(&identifier),
                        owner,
                    };
                }
                Err(error) => return error,
                _ => {}
            }
        }
        if customer.version == 0
            && let Ok(Some(_)) = self.table.get(&keys::customer(customer.id)).await
        {
            return StoreError::AlreadyExists {
                what: format!("customer {}", customer.id),
            };
        }
        StoreError::Conflict {
            what: format!("customer {}", customer.id),
        }
    }
}

fn profile_item(customer: &Customer) -> Result<Item, StoreError> {
    let id = customer.id.to_string();
    let mut index = Vec::new();
    if let Some(tier) = customer.tier {
        index.push(("gsi1pk", keys::tier_partition(tier)));
        index.push(("gsi1sk", id.clone()));
    }
    if let Some(segment) = &customer.segment {
        index.push(("gsi2pk", keys::segment_partition(segment)));
        index.push(("gsi2sk", id.clone()));
    }
    codec::encode(
        RecordKind::Customer,
        &keys::customer(customer.id),
        customer,
        &index,
    )
}

fn lookup_item(identifier: &Identifier, owner: CustomerId) -> Item {
    let key = keys::lookup(identifier);
    Item::from([
        (strata_domain::ports::table::PK.to_owned(), Value::S(key.pk)),
        (strata_domain::ports::table::SK.to_owned(), Value::S(key.sk)),
        (
            codec::KIND.to_owned(),
            Value::S(RecordKind::Lookup.name().to_owned()),
        ),
        (OWNER.to_owned(), Value::S(owner.to_string())),
    ])
}

/// Takes an identifier for a customer unless someone else holds it.
fn claim(identifier: &Identifier, owner: CustomerId) -> TransactOp {
    TransactOp::Put {
        item: lookup_item(identifier, owner),
        condition: Some(Condition::NotExists),
    }
}

fn owner_of(item: &Item) -> Result<CustomerId, StoreError> {
    let raw = item.get(OWNER).and_then(Value::as_str).unwrap_or_default();
    CustomerId::parse(OWNER, raw).map_err(|e| StoreError::Corrupt {
        key: strata_domain::ports::table::Key::of(item),
        reason: e.to_string(),
    })
}

fn describe(identifier: &Identifier) -> String {
    match identifier {
        Identifier::Email(email) => format!("e-mail {email}"),
        Identifier::Phone(phone) => format!("phone {phone}"),
        Identifier::External(source) => format!("{} id {}", source.source, source.external_id),
    }
}
