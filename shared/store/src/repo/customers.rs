//! Customer profiles and the lookup items that find them by e-mail, phone or
//! source id. Profile and lookups change together in one transaction, so a
//! lookup never points at a profile that does not know the identifier.
//!
//! A profile's personal fields (identity, network traces, source ids) are
//! sealed with the customer's data key before they reach the table, and
//! lookups are keyed by the blind index (see `personal`).

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::consent::{self, Use};
use strata_domain::customer::{
    Consent, Customer, Identifier, Identity, NetworkActivity, SourceRef, Tier,
};
use strata_domain::ids::CustomerId;
use strata_domain::ports::keys::DataKey;
use strata_domain::ports::table::{
    Condition, Cursor, Index, Item, MAX_TRANSACT_ITEMS, Query, Table, TableError, TransactOp,
    Update, Value, WriteRequest,
};
use strata_domain::retention::{RetainedData, RetentionMonth};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind, SEALED_NETWORK};
use crate::error::StoreError;
use crate::keys;
use crate::personal::{self, Privacy, Sealed};
use crate::repo::recommend;

const OWNER: &str = "customer_id";
const VERSION: &str = "version";

/// One page of customers from a listing.
#[derive(Debug, Clone, Default)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub next: Option<Cursor>,
}

/// The profile attributes that hold personal data; sealed into `SEALED`,
/// except network traces, which expire by month (`SEALED_NETWORK`).
const PERSONAL_ATTRIBUTES: [&str; 3] = ["identity", "network", "sources"];

/// The keys profiles are sealed with: their customers', and the retention
/// keys of the months their network traces were seen in (a month past its
/// limit has none).
struct ProfileKeys {
    customers: HashMap<CustomerId, DataKey>,
    months: HashMap<RetentionMonth, DataKey>,
}

/// One profile's share of `ProfileKeys`.
#[derive(Clone, Copy)]
struct SealingKeys<'a> {
    customer: &'a DataKey,
    months: &'a HashMap<RetentionMonth, DataKey>,
}

fn trace_month(trace: &NetworkActivity) -> RetentionMonth {
    RetentionMonth::of(RetainedData::NetworkTrace, trace.seen_at)
}

/// What a profile seals with the customer's key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PersonalFields {
    identity: Identity,
    network: Vec<NetworkActivity>,
    sources: Vec<SourceRef>,
}

impl PersonalFields {
    fn take(customer: &mut Customer) -> Self {
        PersonalFields {
            identity: std::mem::take(&mut customer.identity),
            network: std::mem::take(&mut customer.network),
            sources: std::mem::take(&mut customer.sources),
        }
    }

    fn restore(self, customer: &mut Customer) {
        customer.identity = self.identity;
        customer.network = self.network;
        customer.sources = self.sources;
    }
}

#[derive(Clone)]
pub struct CustomerRepository {
    table: Arc<dyn Table>,
    /// None: a pseudonymous view that reads profiles without their personal
    /// fields and cannot write or look up by identifier.
    privacy: Option<Arc<Privacy>>,
}

impl CustomerRepository {
    pub fn new(table: Arc<dyn Table>, privacy: Arc<Privacy>) -> Self {
        CustomerRepository {
            table,
            privacy: Some(privacy),
        }
    }

    /// Profiles without identity, network traces or source ids, for
    /// functions that need none: they never hold a customer's key.
    pub fn pseudonymous(table: Arc<dyn Table>) -> Self {
        CustomerRepository {
            table,
            privacy: None,
        }
    }

    fn privacy(&self) -> Result<&Privacy, StoreError> {
        self.privacy.as_deref().ok_or(StoreError::Pseudonymous)
    }

    pub async fn get(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        let Some(item) = self.table.get(&keys::customer(id)).await? else {
            return Ok(None);
        };
        Ok(self.open_profiles(&[item]).await?.pop())
    }

    /// The customer known by this identifier, if any.
    pub async fn find(&self, identifier: &Identifier) -> Result<Option<CustomerId>, StoreError> {
        let key = keys::lookup(&self.privacy()?.blind(identifier));
        let Some(item) = self.table.get(&key).await? else {
            return Ok(None);
        };
        owner_of(&item).map(Some)
    }

    /// Stores a new profile (version 0) with its lookups. Fails with
    /// `IdentifierTaken` if another customer already has one of them.
    pub async fn create(&self, customer: &Customer) -> Result<(), StoreError> {
        let privacy = self.privacy()?;
        let keys = self.writing_keys(&[customer]).await?;
        let ops = create_ops(privacy, customer, key_of(&keys, customer.id)?)?;
        self.commit(customer, ops).await
    }

    /// Stores a changed profile if nobody else changed it since it was read
    /// (`customer.version` is the version read), and moves its lookups along.
    /// Returns the profile as stored, with its new version.
    pub async fn save(&self, customer: &Customer) -> Result<Customer, StoreError> {
        let conflict = || StoreError::Conflict {
            what: format!("customer {}", customer.id),
        };
        let before = self.get(customer.id).await?.ok_or_else(conflict)?;
        if before.version != customer.version {
            return Err(conflict());
        }
        let privacy = self.privacy()?;
        let keys = self.writing_keys(&[customer]).await?;
        let (next, ops) = save_ops(privacy, &before, customer, key_of(&keys, customer.id)?)?;
        self.commit(&next, ops).await?;
        Ok(next)
    }

    /// Creates many profiles in as few transactions as the 100-operation limit
    /// allows; a group that is refused is retried customer by customer, so one
    /// taken identifier does not fail its neighbours. One result per customer.
    pub async fn create_many(&self, customers: &[Customer]) -> Vec<Result<(), StoreError>> {
        let keys = match self
            .writing_keys(&customers.iter().collect::<Vec<_>>())
            .await
        {
            Ok(keys) => keys,
            Err(error) => return customers.iter().map(|_| Err(error.clone())).collect(),
        };
        let Ok(privacy) = self.privacy() else {
            return customers
                .iter()
                .map(|_| Err(StoreError::Pseudonymous))
                .collect();
        };
        let units = customers
            .iter()
            .map(|c| {
                key_of(&keys, c.id)
                    .and_then(|key| create_ops(privacy, c, key))
                    .map(|ops| (c.clone(), ops))
            })
            .collect();
        self.commit_grouped(units)
            .await
            .into_iter()
            .map(|stored| stored.map(drop))
            .collect()
    }

    /// Saves many changed profiles, each given with the version it was read
    /// as (`before`), in grouped transactions like `create_many`. One result
    /// per profile: the profile as stored, or why it was not.
    /// Moves customers to other segments (`None`: to none) without reading
    /// or sealing their personal fields: each profile item's `segment`, its
    /// segment index entry, `version` and `updated_at` change, conditional
    /// on the version the caller read, with that move's `with` writes (its
    /// change record). Moves go several to a transaction (≤ 100 items); a
    /// group refused because one of its customers changed is tried move by
    /// move. One result per move, `false`: the profile changed (or went)
    /// meanwhile. Needs no keys, so a pseudonymous repository can do it.
    pub async fn set_segments(
        &self,
        moves: &[(&Customer, Option<&str>)],
        mut with: Vec<Vec<TransactOp>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        with.resize_with(moves.len(), Vec::new);
        let mut units = Vec::with_capacity(moves.len());
        for ((seen, segment), with) in moves.iter().zip(with) {
            let mut ops = vec![segment_update(seen, *segment, now)?];
            ops.extend(with);
            units.push(ops);
        }
        let mut moved = vec![false; units.len()];
        let mut start = 0;
        while start < units.len() {
            let mut end = start;
            let mut items = 0;
            while end < units.len() && items + units[end].len() <= MAX_TRANSACT_ITEMS {
                items += units[end].len();
                end += 1;
            }
            let end = end.max(start + 1);
            let group: Vec<TransactOp> = units[start..end].iter().flatten().cloned().collect();
            match self.table.transact_write(group).await {
                Ok(()) => moved[start..end].iter_mut().for_each(|m| *m = true),
                Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {
                    for index in start..end {
                        moved[index] = match self.table.transact_write(units[index].clone()).await {
                            Ok(()) => true,
                            Err(
                                TableError::TransactionCanceled(_) | TableError::ConditionFailed,
                            ) => false,
                            Err(other) => return Err(other.into()),
                        };
                    }
                }
                Err(other) => return Err(other.into()),
            }
            start = end;
        }
        Ok(moved)
    }

    pub async fn save_many(
        &self,
        changes: &[(Customer, Customer)],
    ) -> Vec<Result<Customer, StoreError>> {
        self.save_many_with(changes, Vec::new()).await
    }

    /// `save_many`, each profile's save carrying writes that must happen
    /// with it or not at all (`with[i]` for `changes[i]`; missing: none),
    /// such as the record of the tier change the save makes.
    pub async fn save_many_with(
        &self,
        changes: &[(Customer, Customer)],
        mut with: Vec<Vec<TransactOp>>,
    ) -> Vec<Result<Customer, StoreError>> {
        with.resize_with(changes.len(), Vec::new);
        let afters: Vec<&Customer> = changes.iter().map(|(_, after)| after).collect();
        let keys = match self.writing_keys(&afters).await {
            Ok(keys) => keys,
            Err(error) => return changes.iter().map(|_| Err(error.clone())).collect(),
        };
        let Ok(privacy) = self.privacy() else {
            return changes
                .iter()
                .map(|_| Err(StoreError::Pseudonymous))
                .collect();
        };
        let units = changes
            .iter()
            .zip(with)
            .map(|((before, after), with)| {
                let (customer, mut ops) = key_of(&keys, after.id)
                    .and_then(|key| save_ops(privacy, before, after, key))?;
                ops.extend(with);
                Ok((customer, ops))
            })
            .collect();
        self.commit_grouped(units).await
    }

    async fn writing_keys(&self, customers: &[&Customer]) -> Result<ProfileKeys, StoreError> {
        let privacy = self.privacy()?;
        let ids: Vec<CustomerId> = customers.iter().map(|c| c.id).collect();
        let mut months: Vec<RetentionMonth> = customers
            .iter()
            .flat_map(|c| c.network.iter().map(trace_month))
            .collect();
        months.sort();
        months.dedup();
        Ok(ProfileKeys {
            customers: privacy.keys_for_writing(&ids).await?,
            months: privacy.month_keys(&months, true).await?,
        })
    }

    /// Profiles from their items, personal fields opened when this
    /// repository holds the keys.
    async fn open_profiles(&self, items: &[Item]) -> Result<Vec<Customer>, StoreError> {
        let mut profiles = Vec::with_capacity(items.len());
        for item in items {
            let customer: Customer = codec::decode(RecordKind::Customer, item)?;
            let sealed = item.get(codec::SEALED).and_then(Value::as_str);
            profiles.push((customer, sealed, sealed_network(item)));
        }
        let Some(privacy) = self.privacy.as_deref() else {
            return Ok(profiles.into_iter().map(|(c, _, _)| c).collect());
        };
        let sealed_ids: Vec<CustomerId> = profiles
            .iter()
            .filter(|(_, sealed, _)| sealed.is_some())
            .map(|(c, _, _)| c.id)
            .collect();
        let keys = privacy.keys_for_reading(&sealed_ids).await?;
        let mut months = Vec::new();
        for (customer, _, network) in &profiles {
            for sealed in network {
                months.extend(personal::sealed_month(sealed).map_err(|reason| {
                    StoreError::Corrupt {
                        key: Some(keys::customer(customer.id)),
                        reason,
                    }
                })?);
            }
        }
        months.sort();
        months.dedup();
        let month_keys = privacy.month_keys(&months, false).await?;
        profiles
            .into_iter()
            .map(|(mut customer, sealed, network)| {
                if let Some(sealed) = sealed {
                    let key = keys.get(&customer.id).ok_or(StoreError::Erased {
                        customer: customer.id,
                    })?;
                    open_personal(key, customer.id, sealed)?.restore(&mut customer);
                    let traces = open_network(key, &month_keys, customer.id, &network)?;
                    customer.network.extend(traces);
                    customer.network.sort_by_key(|n| n.seen_at);
                }
                Ok(customer)
            })
            .collect()
    }

    /// Which customers own these identifiers, read in batches.
    pub async fn find_many(
        &self,
        identifiers: &[Identifier],
    ) -> Result<HashMap<Identifier, CustomerId>, StoreError> {
        let privacy = self.privacy()?;
        let lookups: Vec<_> = identifiers
            .iter()
            .map(|identifier| keys::lookup(&privacy.blind(identifier)))
            .collect();
        let found =
            batch::get_many(self.table.as_ref(), lookups.clone(), BatchPolicy::default()).await?;
        let mut owners = HashMap::new();
        for (identifier, lookup) in identifiers.iter().zip(&lookups) {
            if let Some(item) = found.get(lookup) {
                owners.insert(identifier.clone(), owner_of(item)?);
            }
        }
        Ok(owners)
    }

    /// Reads many profiles in batches.
    pub async fn get_many(
        &self,
        ids: &[CustomerId],
    ) -> Result<HashMap<CustomerId, Customer>, StoreError> {
        let keys = ids.iter().map(|id| keys::customer(*id)).collect();
        let found = batch::get_many(self.table.as_ref(), keys, BatchPolicy::default()).await?;
        let items: Vec<Item> = found.into_values().collect();
        Ok(self
            .open_profiles(&items)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect())
    }

    /// Commits units (a customer and its operations) in transactions of up to
    /// 100 operations; returns each unit's customer once stored.
    async fn commit_grouped(
        &self,
        units: Vec<Result<(Customer, Vec<TransactOp>), StoreError>>,
    ) -> Vec<Result<Customer, StoreError>> {
        let mut outcomes: Vec<Option<Result<Customer, StoreError>>> =
            Vec::with_capacity(units.len());
        let mut group: Vec<(usize, Customer, Vec<TransactOp>)> = Vec::new();
        let mut group_ops = 0;
        let mut groups = Vec::new();
        let mut singles = Vec::new();
        for (index, unit) in units.into_iter().enumerate() {
            match unit {
                Err(error) => outcomes.push(Some(Err(error))),
                Ok((customer, ops)) if ops.len() == 1 => {
                    outcomes.push(None);
                    singles.push((index, customer, ops));
                }
                Ok((customer, ops)) => {
                    outcomes.push(None);
                    if group_ops + ops.len() > MAX_TRANSACT_ITEMS && !group.is_empty() {
                        groups.push(std::mem::take(&mut group));
                        group_ops = 0;
                    }
                    group_ops += ops.len();
                    group.push((index, customer, ops));
                }
            }
        }
        if !group.is_empty() {
            groups.push(group);
        }
        // Single-operation units go as conditional puts, several at a time.
        let committed = futures::stream::iter(singles)
            .map(|(index, customer, ops)| async move {
                (index, self.commit(&customer, ops).await.map(|()| customer))
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        for (index, outcome) in committed {
            outcomes[index] = Some(outcome);
        }
        for group in groups {
            let all: Vec<TransactOp> = group.iter().flat_map(|(_, _, ops)| ops.clone()).collect();
            match self.table.transact_write(all).await {
                Ok(()) => {
                    for (index, customer, _) in group {
                        outcomes[index] = Some(Ok(customer));
                    }
                }
                Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {
                    for (index, customer, ops) in group {
                        outcomes[index] =
                            Some(self.commit(&customer, ops).await.map(|()| customer));
                    }
                }
                Err(other) => {
                    for (index, _, _) in group {
                        outcomes[index] = Some(Err(other.clone().into()));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(StoreError::Encode(
                        "a customer was left out of its group".into(),
                    ))
                })
            })
            .collect()
    }

    /// Writes many new profiles and their lookups with batch writes. For bulk
    /// loads whose identities were resolved beforehand: unlike `create`, it
    /// does not check that identifiers are free.
    pub async fn put_many(
        &self,
        customers: &[Customer],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let keys = self
            .writing_keys(&customers.iter().collect::<Vec<_>>())
            .await?;
        let privacy = self.privacy()?;
        let mut writes = Vec::with_capacity(customers.len() * 2);
        for customer in customers {
            let key = key_of(&keys, customer.id)?;
            writes.push(WriteRequest::Put(profile_item(customer, key)?));
            if let Some(decision) = personalisation(customer) {
                writes.push(WriteRequest::Put(recommend::personalisation_stamp_item(
                    customer.id,
                    &decision,
                )?));
            }
            for id in customer.identifiers() {
                writes.push(WriteRequest::Put(lookup_item(privacy, &id, customer.id)));
            }
        }
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    /// One page of a parallel scan's profiles (the partitions' other items
    /// skipped); without personal fields when the repository is
    /// pseudonymous. A page may hold no profile and still have a next.
    pub async fn scan_profiles(
        &self,
        segment: u32,
        segments: u32,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<CustomerPage, StoreError> {
        let page = self
            .table
            .scan(segment, segments, start, Some(limit))
            .await?;
        let items: Vec<Item> = page
            .items
            .into_iter()
            .filter(|item| RecordKind::of(item) == Some(RecordKind::Customer))
            .collect();
        Ok(CustomerPage {
            customers: self.open_profiles(&items).await?,
            next: page.next,
        })
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
        let customers = self.open_profiles(&page.items).await?;
        Ok(CustomerPage {
            customers,
            next: page.next,
        })
    }

    async fn commit(
        &self,
        customer: &Customer,
        mut ops: Vec<TransactOp>,
    ) -> Result<(), StoreError> {
        // A change that moves no lookup is one conditional put: half the write
        // cost of a transaction, and no transaction conflicts.
        let written = match (ops.len(), ops.pop()) {
            (1, Some(TransactOp::Put { item, condition })) => self.table.put(item, condition).await,
            (_, Some(last)) => {
                ops.push(last);
                self.table.transact_write(ops).await
            }
            (_, None) => Ok(()),
        };
        match written {
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

fn create_ops(
    privacy: &Privacy,
    customer: &Customer,
    key: SealingKeys<'_>,
) -> Result<Vec<TransactOp>, StoreError> {
    let mut ops = vec![TransactOp::Put {
        item: profile_item(customer, key)?,
        condition: Some(Condition::NotExists),
    }];
    if let Some(decision) = personalisation(customer) {
        ops.push(recommend::personalisation_stamp(
            customer.id,
            Some(&decision),
        )?);
    }
    ops.extend(
        customer
            .identifiers()
            .iter()
            .map(|id| claim(privacy, id, customer.id)),
    );
    Ok(ops)
}

/// The operations that store `after` over `before` (as read), with the
/// version bumped and lookups moved; returns the profile as it will be stored.
fn save_ops(
    privacy: &Privacy,
    before: &Customer,
    after: &Customer,
    key: SealingKeys<'_>,
) -> Result<(Customer, Vec<TransactOp>), StoreError> {
    let mut next = after.clone();
    next.version = before.version + 1;
    let version_read = Condition::Equals(VERSION.into(), Value::number(before.version));
    let mut ops = vec![TransactOp::Put {
        item: profile_item(&next, key)?,
        condition: Some(version_read),
    }];
    let decision = personalisation(&next);
    if decision != personalisation(before) {
        ops.push(recommend::personalisation_stamp(
            next.id,
            decision.as_ref(),
        )?);
    }
    let (was, now) = (before.identifiers(), next.identifiers());
    ops.extend(
        now.iter()
            .filter(|id| !was.contains(id))
            .map(|id| claim(privacy, id, next.id)),
    );
    ops.extend(
        was.iter()
            .filter(|id| !now.contains(id))
            .map(|id| TransactOp::Delete {
                key: keys::lookup(&privacy.blind(id)),
                condition: Some(Condition::Equals(
                    OWNER.into(),
                    Value::S(next.id.to_string()),
                )),
            }),
    );
    Ok((next, ops))
}

/// The customer's decision on personalisation in force, which the
/// recommendation item carries so serving needs no read of the profile.
fn personalisation(customer: &Customer) -> Option<Consent> {
    consent::in_force(&customer.consents, Use::Recommendations)
}

/// The profile's item: personal fields sealed into one attribute with the
/// customer's key, network traces by month (`SEALED_NETWORK`), everything
/// else in the clear for indexes and jobs.
fn profile_item(customer: &Customer, keys: SealingKeys<'_>) -> Result<Item, StoreError> {
    let mut public = customer.clone();
    let mut personal = PersonalFields::take(&mut public);
    let network = seal_network(customer.id, &std::mem::take(&mut personal.network), keys)?;
    let plaintext = serde_json::to_vec(&personal).map_err(|e| StoreError::Encode(e.to_string()))?;
    let sealed = personal::seal(keys.customer, customer.id, Sealed::Profile, &plaintext)?;
    let customer = &public;
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
    let mut item = codec::encode(
        RecordKind::Customer,
        &keys::customer(customer.id),
        customer,
        &index,
    )?;
    for name in PERSONAL_ATTRIBUTES {
        item.remove(name);
    }
    item.insert(codec::SEALED.to_owned(), Value::S(sealed));
    if !network.is_empty() {
        item.insert(SEALED_NETWORK.to_owned(), Value::L(network));
    }
    Ok(item)
}

/// The update that moves a profile to another segment under the version
/// read.
fn segment_update(
    seen: &Customer,
    segment: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TransactOp, StoreError> {
    let mut update = Update::default()
        .set("segment", codec::to_attribute(&segment)?)
        .set(VERSION, Value::number(seen.version + 1))
        .set("updated_at", codec::to_attribute(&now)?);
    update = match segment {
        Some(segment) => update
            .set("gsi2pk", Value::S(keys::segment_partition(segment)))
            .set("gsi2sk", Value::S(seen.id.to_string())),
        None => update.remove("gsi2pk").remove("gsi2sk"),
    };
    Ok(TransactOp::Update {
        key: keys::customer(seen.id),
        update,
        condition: Some(Condition::Equals(
            VERSION.into(),
            Value::number(seen.version),
        )),
    })
}

/// Network traces sealed one month per value; traces of a month already
/// past its limit are not kept.
fn seal_network(
    customer: CustomerId,
    traces: &[NetworkActivity],
    keys: SealingKeys<'_>,
) -> Result<Vec<Value>, StoreError> {
    let mut by_month: BTreeMap<RetentionMonth, Vec<&NetworkActivity>> = BTreeMap::new();
    for trace in traces {
        by_month.entry(trace_month(trace)).or_default().push(trace);
    }
    let mut sealed = Vec::with_capacity(by_month.len());
    for (month, traces) in by_month {
        let Some(month_key) = keys.months.get(&month) else {
            continue;
        };
        let plaintext =
            serde_json::to_vec(&traces).map_err(|e| StoreError::Encode(e.to_string()))?;
        sealed.push(Value::S(personal::seal_by_month(
            keys.customer,
            month_key,
            customer,
            month,
            &plaintext,
        )?));
    }
    Ok(sealed)
}

fn sealed_network(item: &Item) -> Vec<&str> {
    match item.get(SEALED_NETWORK) {
        Some(Value::L(values)) => values.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The network traces of the months whose keys remain.
fn open_network(
    key: &DataKey,
    month_keys: &HashMap<RetentionMonth, DataKey>,
    customer: CustomerId,
    sealed: &[&str],
) -> Result<Vec<NetworkActivity>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: Some(keys::customer(customer)),
        reason,
    };
    let mut traces = Vec::new();
    for value in sealed {
        let month = personal::sealed_month(value).map_err(corrupt)?;
        let month_key = month.and_then(|m| month_keys.get(&m));
        if let Some(plaintext) =
            personal::open_by_month(key, month_key, customer, value).map_err(corrupt)?
        {
            let opened: Vec<NetworkActivity> =
                serde_json::from_slice(&plaintext).map_err(|e| corrupt(e.to_string()))?;
            traces.extend(opened);
        }
    }
    Ok(traces)
}

/// Opens a profile's sealed personal fields.
fn open_personal(
    key: &DataKey,
    customer: CustomerId,
    sealed: &str,
) -> Result<PersonalFields, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: Some(keys::customer(customer)),
        reason,
    };
    let plaintext = personal::open(key, customer, Sealed::Profile, sealed).map_err(corrupt)?;
    serde_json::from_slice(&plaintext).map_err(|e| corrupt(e.to_string()))
}

fn key_of(keys: &ProfileKeys, customer: CustomerId) -> Result<SealingKeys<'_>, StoreError> {
    Ok(SealingKeys {
        customer: keys
            .customers
            .get(&customer)
            .ok_or(StoreError::Erased { customer })?,
        months: &keys.months,
    })
}

fn lookup_item(privacy: &Privacy, identifier: &Identifier, owner: CustomerId) -> Item {
    let key = keys::lookup(&privacy.blind(identifier));
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
fn claim(privacy: &Privacy, identifier: &Identifier, owner: CustomerId) -> TransactOp {
    TransactOp::Put {
        item: lookup_item(privacy, identifier, owner),
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

/// Names the identifier without its value: errors end up in import reports
/// and logs, where personal data must not.
fn describe(identifier: &Identifier) -> String {
    match identifier {
        Identifier::Email(_) => "the e-mail address".to_owned(),
        Identifier::Phone(_) => "the phone number".to_owned(),
        Identifier::External(source) => format!("the {} id", source.source),
    }
}
