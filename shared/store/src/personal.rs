//! Personal data under per-customer keys (envelope encryption).
//!
//! Every customer gets a data key of their own, made by the key service
//! (KMS in AWS, a local master key in the embedded backend) and kept only in
//! wrapped form in a separate key table that backups never copy. The fields
//! that identify a person are sealed with it before a profile reaches the
//! table, so the table, its backups and anything derived from raw items hold
//! ciphertext. Erasure destroys the key: every copy anywhere becomes
//! unreadable at once (crypto-shredding).
//!
//! Lookups by e-mail, phone or source id go through a keyed hash (a blind
//! index) made with a service key from the same key table, never through the
//! plaintext value.
//!
//! Free texts (chats, complaints, reviews) and network traces are sealed
//! under a key made from the customer's key and the retention key of their
//! kind and month:
//! destroying either (erasure; the month passing its retention limit)
//! makes every copy unreadable, including those in cold objects, snapshots
//! and the locked archive, which are never rewritten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use rand::TryRngCore;
use rand::rngs::OsRng;
use strata_domain::customer::Identifier;
use strata_domain::ids::CustomerId;
use strata_domain::ports::keys::{
    DataKey, EncryptionContext, GeneratedKey, KeyService, WrappedKey,
};
use strata_domain::ports::table::{
    Condition, Item, MAX_TRANSACT_ITEMS, Table, TableError, TransactOp, Value,
};
use strata_domain::retention::RetentionMonth;

use crate::batch::{self, BatchPolicy};
use crate::error::StoreError;
use crate::keys;

/// The first byte of every sealed value: the sealing format.
const SEAL_FORMAT: u8 = 1;
/// A text sealed under its customer's and its month's keys together; the
/// month's label follows the format byte (one length byte, then the label).
const TEXT_SEAL_FORMAT: u8 = 2;
const TEXT_KEY_LABEL: &[u8] = b"strata/text-key/v2";
const NONCE_BYTES: usize = 12;
const SEAL_LABEL: &[u8] = b"strata/personal/v1";
const BLIND_LABEL: &[u8] = b"strata/blind-index/v1";
/// Plaintext data keys kept in memory; past this the cache starts over, so
/// a warm function holds a bounded number of keys (≈ 75 B each: ≈ 19 MB).
/// Sized for a bulk import, whose rows name customers in no order: every
/// miss is a key-service (KMS) request, billed and throttled per account.
/// At 50,000 keys a 300,000-row export of 73,600 customers unwrapped a key
/// again for half its rows of known customers (382 Decrypt per 1,000 rows).
const CACHE_KEYS: usize = 250_000;
/// How long a warm function trusts a key it unwrapped: an erasure in
/// another function destroys the stored key, and after this every function
/// reads the customer as erased.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(300);
/// Key-service calls in flight at once for one batch.
const KEY_CALLS_IN_FLIGHT: usize = 8;

const WRAPPED: &str = "wrapped";
const KEY_ID: &str = "key_id";
const CREATED_AT: &str = "created_at";

/// What a sealed value belongs to, bound into its associated data so a
/// value cannot be moved to another customer or another field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// A profile's identity, network traces and source ids.
    Profile,
    /// The free text of an interaction or review.
    Text,
}

impl Sealed {
    fn label(self) -> &'static [u8] {
        match self {
            Sealed::Profile => b"profile",
            Sealed::Text => b"text",
        }
    }
}

/// An identifier as the table may hold it: kind in the clear, value only as
/// a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlindIdentifier {
    Email(String),
    Phone(String),
    /// Source system (not personal) and the hashed id it uses.
    External {
        source: String,
        digest: String,
    },
}

/// Per-customer data keys, the blind index, and sealing with them.
pub struct Privacy {
    service: Arc<dyn KeyService>,
    key_table: Arc<dyn Table>,
    blind_index: hmac::Key,
    /// Seals short-lived records that hold personal data but belong to no
    /// single customer (stored API responses); they expire, keys do not.
    records: DataKey,
    cache: Mutex<HashMap<CustomerId, (DataKey, Instant)>>,
    /// Retention keys by month; `None` for a month past its limit.
    month_cache: Mutex<HashMap<RetentionMonth, (Option<DataKey>, Instant)>>,
    cache_ttl: Duration,
}

impl Privacy {
    /// Opens the key table, creating the blind-index key on first use.
    pub async fn open(
        service: Arc<dyn KeyService>,
        key_table: Arc<dyn Table>,
    ) -> Result<Arc<Privacy>, StoreError> {
        Privacy::open_with_cache_ttl(service, key_table, KEY_CACHE_TTL).await
    }

    /// The same, trusting unwrapped keys for `ttl` instead of `KEY_CACHE_TTL`.
    pub async fn open_with_cache_ttl(
        service: Arc<dyn KeyService>,
        key_table: Arc<dyn Table>,
        cache_ttl: Duration,
    ) -> Result<Arc<Privacy>, StoreError> {
        let index_key = service_key(service.as_ref(), key_table.as_ref(), "blind-index").await?;
        let records = service_key(service.as_ref(), key_table.as_ref(), "records").await?;
        Ok(Arc::new(Privacy {
            blind_index: hmac::Key::new(hmac::HMAC_SHA256, index_key.expose()),
            records,
            service,
            key_table,
            cache: Mutex::new(HashMap::new()),
            month_cache: Mutex::new(HashMap::new()),
            cache_ttl,
        }))
    }

    /// The keyed hash the table knows an identifier by.
    pub fn blind(&self, identifier: &Identifier) -> BlindIdentifier {
        match identifier {
            Identifier::Email(email) => {
                BlindIdentifier::Email(self.digest(&[b"email", email.as_str().as_bytes()]))
            }
            Identifier::Phone(phone) => {
                BlindIdentifier::Phone(self.digest(&[b"phone", phone.as_str().as_bytes()]))
            }
            Identifier::External(source) => BlindIdentifier::External {
                source: source.source.clone(),
                digest: self.digest(&[
                    b"external",
                    source.source.as_bytes(),
                    source.external_id.as_bytes(),
                ]),
            },
        }
    }

    /// HMAC-SHA-256 of length-prefixed parts, so no two inputs share bytes.
    fn digest(&self, parts: &[&[u8]]) -> String {
        let mut context = hmac::Context::with_key(&self.blind_index);
        for part in std::iter::once(BLIND_LABEL).chain(parts.iter().copied()) {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        hex::encode(context.sign().as_ref())
    }

    /// Seals a record that belongs to no one customer, bound to its kind and id.
    pub(crate) fn seal_record(
        &self,
        kind: &str,
        id: &str,
        plaintext: &[u8],
    ) -> Result<String, StoreError> {
        seal_bound(
            &self.records,
            &[b"record", kind.as_bytes(), id.as_bytes()],
            plaintext,
        )
    }

    pub(crate) fn open_record(
        &self,
        kind: &str,
        id: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, String> {
        open_bound(
            &self.records,
            &[b"record", kind.as_bytes(), id.as_bytes()],
            sealed,
        )
    }

    /// The data keys of these customers, made (and stored) for those that
    /// have none yet.
    pub(crate) async fn keys_for_writing(
        &self,
        customers: &[CustomerId],
    ) -> Result<HashMap<CustomerId, DataKey>, StoreError> {
        let mut found = self.keys_for_reading(customers).await?;
        let missing: Vec<CustomerId> = customers
            .iter()
            .filter(|c| !found.contains_key(c))
            .copied()
            .collect();
        let mut missing = missing;
        missing.sort();
        missing.dedup();
        let generated = futures::stream::iter(missing)
            .map(|customer| async move {
                let made = self
                    .service
                    .generate_data_key(&customer_context(customer))
                    .await;
                (customer, made)
            })
            .buffer_unordered(KEY_CALLS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        let mut fresh = Vec::with_capacity(generated.len());
        for (customer, made) in generated {
            fresh.push((customer, made?));
        }
        // Up to 100 keys per conditional transaction; if one of them was
        // made meanwhile by another writer, that group goes one by one.
        for group in fresh.chunks(MAX_TRANSACT_ITEMS) {
            let puts = group
                .iter()
                .map(|(customer, made)| TransactOp::Put {
                    item: key_item(keys::customer_data_key(*customer), &made.wrapped),
                    condition: Some(Condition::NotExists),
                })
                .collect();
            match self.key_table.transact_write(puts).await {
                Ok(()) => {
                    for (customer, made) in group {
                        self.remember(*customer, &made.plaintext);
                        found.insert(*customer, made.plaintext.clone());
                    }
                }
                Err(TableError::TransactionCanceled(_) | TableError::ConditionFailed) => {
                    for (customer, made) in group {
                        found.insert(*customer, self.store_key(*customer, made).await?);
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(found)
    }

    /// The data keys these customers have; a customer without one (never
    /// sealed anything, or erased) is absent from the answer.
    pub(crate) async fn keys_for_reading(
        &self,
        customers: &[CustomerId],
    ) -> Result<HashMap<CustomerId, DataKey>, StoreError> {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for customer in customers {
                match cache.get(customer) {
                    Some((key, at)) if at.elapsed() < self.cache_ttl => {
                        found.insert(*customer, key.clone());
                    }
                    // Absent, or cached too long ago: read the key table.
                    _ if !unknown.contains(customer) => unknown.push(*customer),
                    _ => {}
                }
            }
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        let items = batch::get_many(
            self.key_table.as_ref(),
            unknown
                .iter()
                .map(|c| keys::customer_data_key(*c))
                .collect(),
            BatchPolicy::default(),
        )
        .await?;
        let opened = futures::stream::iter(unknown)
            .filter_map(|customer| {
                let item = items.get(&keys::customer_data_key(customer)).cloned();
                async move { item.map(|item| (customer, item)) }
            })
            .map(|(customer, item)| async move {
                let key = self.unwrap_stored(&item, &customer_context(customer)).await;
                (customer, key)
            })
            .buffer_unordered(KEY_CALLS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        for (customer, key) in opened {
            let key = key?;
            self.remember(customer, &key);
            found.insert(customer, key);
        }
        Ok(found)
    }

    /// The retention keys of these months; a month past its limit (its key
    /// destroyed) is absent from the answer. With `make`, a month never used
    /// before gets its key; without, it is absent too.
    pub(crate) async fn month_keys(
        &self,
        months: &[RetentionMonth],
        make: bool,
    ) -> Result<HashMap<RetentionMonth, DataKey>, StoreError> {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        {
            let cache = self.month_cache.lock().unwrap_or_else(|p| p.into_inner());
            for month in months {
                let fresh = cache
                    .get(month)
                    .filter(|(_, at)| at.elapsed() < self.cache_ttl);
                match fresh {
                    Some((Some(key), _)) => {
                        found.insert(*month, key.clone());
                    }
                    // Past its limit.
                    Some((None, _)) => {}
                    None if !unknown.contains(month) => unknown.push(*month),
                    None => {}
                }
            }
        }
        for month in unknown {
            let key = keys::retention_month_key(&month);
            let mut stored = self.key_table.get(&key).await?;
            if stored.is_none() && make {
                let made = self
                    .service
                    .generate_data_key(&month_context(month))
                    .await?;
                match self
                    .key_table
                    .put(
                        key_item(key.clone(), &made.wrapped),
                        Some(Condition::NotExists),
                    )
                    .await
                {
                    Ok(()) => stored = Some(key_item(key.clone(), &made.wrapped)),
                    // Made (or destroyed) meanwhile by someone else: theirs counts.
                    Err(TableError::ConditionFailed) => stored = self.key_table.get(&key).await?,
                    Err(other) => return Err(other.into()),
                }
            }
            let Some(item) = stored else { continue };
            // A tombstone keeps only the key attributes and when it was destroyed.
            let opened = if item.contains_key(WRAPPED) {
                Some(self.unwrap_stored(&item, &month_context(month)).await?)
            } else {
                None
            };
            if let Some(key) = &opened {
                found.insert(month, key.clone());
            }
            let mut cache = self.month_cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_KEYS {
                cache.clear();
            }
            cache.insert(month, (opened, Instant::now()));
        }
        Ok(found)
    }

    /// Destroys a customer's data key: whatever was sealed with it, wherever
    /// it was copied, can no longer be opened.
    pub async fn destroy_key(&self, customer: CustomerId) -> Result<bool, StoreError> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&customer);
        let key = keys::customer_data_key(customer);
        let existed = self.key_table.get(&key).await?.is_some();
        self.key_table.delete(&key, None).await?;
        Ok(existed)
    }

    /// Whether the customer still has a data key.
    pub async fn has_key(&self, customer: CustomerId) -> Result<bool, StoreError> {
        Ok(self
            .key_table
            .get(&keys::customer_data_key(customer))
            .await?
            .is_some())
    }

    /// Stores a made key unless the customer has one; returns the key in force.
    async fn store_key(
        &self,
        customer: CustomerId,
        made: &GeneratedKey,
    ) -> Result<DataKey, StoreError> {
        let item = key_item(keys::customer_data_key(customer), &made.wrapped);
        match self.key_table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => {
                self.remember(customer, &made.plaintext);
                Ok(made.plaintext.clone())
            }
            // Another writer made one first: theirs is the key.
            Err(TableError::ConditionFailed) => {
                let stored = self
                    .key_table
                    .get(&keys::customer_data_key(customer))
                    .await?
                    .ok_or(StoreError::Erased { customer })?;
                let key = self
                    .unwrap_stored(&stored, &customer_context(customer))
                    .await?;
                self.remember(customer, &key);
                Ok(key)
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn unwrap_stored(
        &self,
        item: &Item,
        context: &EncryptionContext,
    ) -> Result<DataKey, StoreError> {
        let wrapped = wrapped_of(item)?;
        Ok(self.service.decrypt_data_key(&wrapped, context).await?)
    }

    fn remember(&self, customer: CustomerId, key: &DataKey) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_KEYS {
            cache.clear();
        }
        cache.insert(customer, (key.clone(), Instant::now()));
    }
}

/// Seals bytes with a customer's key, bound to the customer and the use.
pub(crate) fn seal(
    key: &DataKey,
    customer: CustomerId,
    what: Sealed,
    plaintext: &[u8],
) -> Result<String, StoreError> {
    let id = customer.to_string();
    seal_bound(key, &[what.label(), id.as_bytes()], plaintext)
}

/// Opens what `seal` made; any change to the value, the customer or the use
/// makes it fail.
pub(crate) fn open(
    key: &DataKey,
    customer: CustomerId,
    what: Sealed,
    sealed: &str,
) -> Result<Vec<u8>, String> {
    let id = customer.to_string();
    open_bound(key, &[what.label(), id.as_bytes()], sealed)
}

/// Seals data that expires by month (a text, a profile's network traces of
/// one month) with the customer's key and the month's retention key, bound
/// to the customer and the month.
pub(crate) fn seal_by_month(
    customer_key: &DataKey,
    month_key: &DataKey,
    customer: CustomerId,
    month: RetentionMonth,
    plaintext: &[u8],
) -> Result<String, StoreError> {
    let label = month.label();
    let label_len = u8::try_from(label.len())
        .map_err(|_| StoreError::Encode("a retention month label is too long".into()))?;
    let id = customer.to_string();
    let key = text_key(customer_key, month_key)?;
    let sealed = seal_raw(
        &key,
        &[Sealed::Text.label(), id.as_bytes(), label.as_bytes()],
        plaintext,
    )?;
    let mut out = Vec::with_capacity(2 + label.len() + sealed.len());
    out.push(TEXT_SEAL_FORMAT);
    out.push(label_len);
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(&sealed);
    Ok(BASE64.encode(out))
}

/// The retention month a sealed value needs the key of; `None` for texts
/// sealed with the customer's key alone (before retention keys).
pub(crate) fn sealed_month(sealed: &str) -> Result<Option<RetentionMonth>, String> {
    let bytes = BASE64
        .decode(sealed)
        .map_err(|e| format!("a sealed value is not base64: {e}"))?;
    match bytes.split_first() {
        Some((&TEXT_SEAL_FORMAT, rest)) => {
            let (label, _) = month_label(rest)?;
            RetentionMonth::parse(label)
                .map(Some)
                .ok_or_else(|| format!("a sealed text names an unknown month {label:?}"))
        }
        _ => Ok(None),
    }
}

/// Opens what `seal_by_month` sealed (or a text sealed before retention
/// keys); `Ok(None)` when its month's key is gone (past retention).
pub(crate) fn open_by_month(
    customer_key: &DataKey,
    month_key: Option<&DataKey>,
    customer: CustomerId,
    sealed: &str,
) -> Result<Option<Vec<u8>>, String> {
    let bytes = BASE64
        .decode(sealed)
        .map_err(|e| format!("a sealed value is not base64: {e}"))?;
    let Some((&TEXT_SEAL_FORMAT, rest)) = bytes.split_first() else {
        return open(customer_key, customer, Sealed::Text, sealed).map(Some);
    };
    let (label, sealed) = month_label(rest)?;
    let Some(month_key) = month_key else {
        return Ok(None);
    };
    let key = text_key(customer_key, month_key).map_err(|e| e.to_string())?;
    let id = customer.to_string();
    open_raw(
        &key,
        &[Sealed::Text.label(), id.as_bytes(), label.as_bytes()],
        sealed,
    )
    .map(Some)
}

fn month_label(rest: &[u8]) -> Result<(&str, &[u8]), String> {
    let (&len, rest) = rest.split_first().ok_or("a sealed text is cut short")?;
    if rest.len() < usize::from(len) {
        return Err("a sealed text is cut short".into());
    }
    let (label, sealed) = rest.split_at(usize::from(len));
    let label = std::str::from_utf8(label).map_err(|_| "a sealed text's month is not UTF-8")?;
    Ok((label, sealed))
}

/// One key from two: without either, the text cannot be opened.
fn text_key(customer_key: &DataKey, month_key: &DataKey) -> Result<DataKey, StoreError> {
    let mac = hmac::Key::new(hmac::HMAC_SHA256, month_key.expose());
    let mut context = hmac::Context::with_key(&mac);
    context.update(TEXT_KEY_LABEL);
    context.update(customer_key.expose());
    DataKey::from_slice(context.sign().as_ref()).map_err(|e| StoreError::Encode(e.to_string()))
}

/// AES-256-GCM with a random nonce; `bound` goes into the associated data.
fn seal_bound(key: &DataKey, bound: &[&[u8]], plaintext: &[u8]) -> Result<String, StoreError> {
    let sealed = seal_raw(key, bound, plaintext)?;
    let mut out = Vec::with_capacity(1 + sealed.len());
    out.push(SEAL_FORMAT);
    out.extend_from_slice(&sealed);
    Ok(BASE64.encode(out))
}

/// Nonce followed by ciphertext.
fn seal_raw(key: &DataKey, bound: &[&[u8]], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| StoreError::Encode(format!("no random nonce: {e}")))?;
    let aad = associated_data(bound);
    let ciphertext = Aes256Gcm::new(key.expose().into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| StoreError::Encode("sealing failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open_bound(key: &DataKey, bound: &[&[u8]], sealed: &str) -> Result<Vec<u8>, String> {
    let bytes = BASE64
        .decode(sealed)
        .map_err(|e| format!("a sealed value is not base64: {e}"))?;
    let (format, rest) = bytes.split_first().ok_or("a sealed value is empty")?;
    if *format != SEAL_FORMAT {
        return Err(format!("unknown sealing format {format}"));
    }
    open_raw(key, bound, rest)
}

fn open_raw(key: &DataKey, bound: &[&[u8]], sealed: &[u8]) -> Result<Vec<u8>, String> {
    if sealed.len() < NONCE_BYTES {
        return Err("a sealed value is cut short".into());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| "a short nonce".to_owned())?;
    let aad = associated_data(bound);
    Aes256Gcm::new(key.expose().into())
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| "a sealed value fails authentication".to_owned())
}

fn associated_data(bound: &[&[u8]]) -> Vec<u8> {
    let mut aad = SEAL_LABEL.to_vec();
    for part in bound {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

fn customer_context(customer: CustomerId) -> EncryptionContext {
    EncryptionContext::new()
        .with("strata:purpose", "customer-personal-data")
        .with("strata:customer", customer.to_string())
}

fn month_context(month: RetentionMonth) -> EncryptionContext {
    EncryptionContext::new()
        .with("strata:purpose", "retention-month")
        .with("strata:name", month.label())
}

/// A key the service itself uses (not one customer's), made on first use.
async fn service_key(
    service: &dyn KeyService,
    key_table: &dyn Table,
    name: &str,
) -> Result<DataKey, StoreError> {
    let context = EncryptionContext::new()
        .with("strata:purpose", "service-key")
        .with("strata:name", name);
    let key = keys::service_data_key(name);
    if let Some(item) = key_table.get(&key).await? {
        return Ok(service
            .decrypt_data_key(&wrapped_of(&item)?, &context)
            .await?);
    }
    let generated = service.generate_data_key(&context).await?;
    match key_table
        .put(
            key_item(key.clone(), &generated.wrapped),
            Some(Condition::NotExists),
        )
        .await
    {
        Ok(()) => Ok(generated.plaintext),
        Err(TableError::ConditionFailed) => {
            let item = key_table
                .get(&key)
                .await?
                .ok_or_else(|| StoreError::Corrupt {
                    key: Some(key.clone()),
                    reason: "a service key vanished while it was being made".into(),
                })?;
            Ok(service
                .decrypt_data_key(&wrapped_of(&item)?, &context)
                .await?)
        }
        Err(other) => Err(other.into()),
    }
}

fn key_item(key: strata_domain::ports::table::Key, wrapped: &WrappedKey) -> Item {
    Item::from([
        (strata_domain::ports::table::PK.to_owned(), Value::S(key.pk)),
        (strata_domain::ports::table::SK.to_owned(), Value::S(key.sk)),
        (KEY_ID.to_owned(), Value::S(wrapped.key_id.clone())),
        (WRAPPED.to_owned(), Value::B(wrapped.ciphertext.clone())),
        (
            CREATED_AT.to_owned(),
            Value::S(keys::time(chrono::Utc::now())),
        ),
    ])
}

fn wrapped_of(item: &Item) -> Result<WrappedKey, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: strata_domain::ports::table::Key::of(item),
        reason: reason.to_owned(),
    };
    let key_id = item
        .get(KEY_ID)
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt("a stored data key names no master key"))?;
    let Some(Value::B(ciphertext)) = item.get(WRAPPED) else {
        return Err(corrupt("a stored data key has no wrapped bytes"));
    };
    Ok(WrappedKey {
        key_id: key_id.to_owned(),
        ciphertext: ciphertext.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_embedded::EmbeddedBackend;

    async fn two_services_on_one_key_table() -> (tempfile::TempDir, Arc<Privacy>, Arc<Privacy>) {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(dir.path()).unwrap();
        let service: Arc<dyn KeyService> = Arc::new(backend.personal_keys);
        let key_table: Arc<dyn Table> = Arc::new(backend.key_table);
        let (a, b) = tokio::join!(
            Privacy::open(service.clone(), key_table.clone()),
            Privacy::open(service, key_table)
        );
        (dir, a.unwrap(), b.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_text_opens_only_with_its_customer_and_month_keys() {
        use strata_domain::retention::RetainedData;
        let (_dir, a, b) = two_services_on_one_key_table().await;
        let (customer, other) = (CustomerId::generate(), CustomerId::generate());
        let keys = a.keys_for_writing(&[customer, other]).await.unwrap();
        let may = RetentionMonth::of(
            RetainedData::InteractionText,
            "2024-05-10T08:00:00Z".parse().unwrap(),
        );
        let june = RetentionMonth { month: 6, ..may };
        let months = a.month_keys(&[may, june], true).await.unwrap();
        let sealed =
            seal_by_month(&keys[&customer], &months[&may], customer, may, b"hello").unwrap();
        assert_eq!(sealed_month(&sealed).unwrap(), Some(may));
        let opened = open_by_month(&keys[&customer], Some(&months[&may]), customer, &sealed);
        assert_eq!(opened.unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            open_by_month(&keys[&customer], None, customer, &sealed).unwrap(),
            None,
            "a month without its key reads as expired"
        );
        assert!(open_by_month(&keys[&other], Some(&months[&may]), customer, &sealed).is_err());
        assert!(open_by_month(&keys[&customer], Some(&months[&june]), customer, &sealed).is_err());
        assert!(open_by_month(&keys[&customer], Some(&months[&may]), other, &sealed).is_err());

        // Another function finds the month's key made by the first.
        let found = b.month_keys(&[may], false).await.unwrap();
        assert_eq!(found[&may].expose(), months[&may].expose());
        let unused = RetentionMonth { month: 7, ..may };
        assert!(b.month_keys(&[unused], false).await.unwrap().is_empty());

        // Texts sealed before retention keys open with the customer's key.
        let legacy = seal(&keys[&customer], customer, Sealed::Text, b"legacy").unwrap();
        assert_eq!(sealed_month(&legacy).unwrap(), None);
        let opened = open_by_month(&keys[&customer], None, customer, &legacy);
        assert_eq!(opened.unwrap().as_deref(), Some(&b"legacy"[..]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_racing_for_a_customer_agree_on_one_key() {
        let (_dir, a, b) = two_services_on_one_key_table().await;
        let email = Identifier::Email(
            strata_domain::contact::Email::parse("email", "same@example.com").unwrap(),
        );
        assert_eq!(a.blind(&email), b.blind(&email), "one blind-index key");

        // 250 customers (three transactions), 40 of them made by both at once.
        let customers: Vec<CustomerId> = (0..250).map(|_| CustomerId::generate()).collect();
        let (from_a, from_b) = tokio::join!(
            a.keys_for_writing(&customers),
            b.keys_for_writing(&customers[..40])
        );
        let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
        assert_eq!(from_a.len(), 250);
        for customer in &customers[..40] {
            assert_eq!(from_a[customer].expose(), from_b[customer].expose());
        }
        let sealed = seal(&from_a[&customers[7]], customers[7], Sealed::Profile, b"x").unwrap();
        let again = b.keys_for_reading(&customers[7..8]).await.unwrap();
        assert_eq!(
            open(
                &again[&customers[7]],
                customers[7],
                Sealed::Profile,
                &sealed
            )
            .unwrap(),
            b"x"
        );
        assert!(
            open(
                &again[&customers[7]],
                customers[8],
                Sealed::Profile,
                &sealed
            )
            .is_err()
        );
        assert!(open(&again[&customers[7]], customers[7], Sealed::Text, &sealed).is_err());

        assert!(a.destroy_key(customers[7]).await.unwrap());
        assert!(
            a.keys_for_reading(&customers[7..8])
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// An erasure in one warm function reaches another's cache within the TTL.
    #[tokio::test]
    async fn a_key_destroyed_elsewhere_stops_opening_after_the_cache_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(dir.path()).unwrap();
        let service: Arc<dyn KeyService> = Arc::new(backend.personal_keys);
        let key_table: Arc<dyn Table> = Arc::new(backend.key_table);
        let ttl = Duration::from_millis(200);
        let reader = Privacy::open_with_cache_ttl(service.clone(), key_table.clone(), ttl)
            .await
            .unwrap();
        let eraser = Privacy::open(service, key_table).await.unwrap();
        let customer = [CustomerId::generate()];
        reader.keys_for_writing(&customer).await.unwrap();
        assert!(eraser.destroy_key(customer[0]).await.unwrap());
        assert_eq!(
            reader.keys_for_reading(&customer).await.unwrap().len(),
            1,
            "still trusted from the cache"
        );
        tokio::time::sleep(ttl + Duration::from_millis(50)).await;
        assert!(
            reader.keys_for_reading(&customer).await.unwrap().is_empty(),
            "read again from the key table: gone"
        );
    }
}
