//! Idempotency keys for API writes: the first request with a key runs, a
//! repeat gets the first response, the same key with another payload is
//! refused, and concurrent duplicates cannot both run (conditional writes).
//! Stored responses can hold personal data, so their bodies are sealed.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use strata_domain::ports::table::{Condition, Table, TableError, Value};

use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;
use crate::personal::Privacy;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// A stored response as the table holds it: the body sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SealedResponse {
    status: u16,
    sealed_body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IdempotencyRecord {
    key: String,
    /// SHA-256 of method, path and body: what "the same request" means.
    fingerprint: String,
    response: Option<SealedResponse>,
    created_at: DateTime<Utc>,
    /// Epoch seconds; the table's TTL removes the record after it.
    expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: run the request, then `complete`.
    Run,
    /// Seen and finished: answer with this.
    Replay(StoredResponse),
    /// Seen with another payload.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

#[derive(Clone)]
pub struct IdempotencyStore {
    table: Arc<dyn Table>,
    privacy: Arc<Privacy>,
    ttl: Duration,
}

/// Binds a sealed body to its key, so it cannot be replayed under another.
const SEALED_KIND: &str = "idempotent-response";

impl IdempotencyStore {
    pub fn new(table: Arc<dyn Table>, privacy: Arc<Privacy>, ttl: Duration) -> Self {
        IdempotencyStore {
            table,
            privacy,
            ttl,
        }
    }

    pub async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let record = IdempotencyRecord {
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
            response: None,
            created_at: now,
            expires_at: (now + self.ttl).timestamp(),
        };
        let item = codec::encode(
            RecordKind::Idempotency,
            &keys::idempotency(key),
            &record,
            &[],
        )?;
        match self
            .table
            .put(item.clone(), Some(Condition::NotExists))
            .await
        {
            Ok(()) => return Ok(Claim::Run),
            Err(TableError::ConditionFailed) => {}
            Err(other) => return Err(other.into()),
        }
        let Some(held) = self.table.get(&keys::idempotency(key)).await? else {
            return Ok(Claim::InProgress); // removed meanwhile: let the client retry
        };
        let held: IdempotencyRecord = codec::decode(RecordKind::Idempotency, &held)?;
        if held.expires_at <= now.timestamp() {
            // Expired but not yet swept by TTL: take it over, unless someone else just did.
            let condition = Condition::Equals("expires_at".into(), Value::number(held.expires_at));
            return match self.table.put(item, Some(condition)).await {
                Ok(()) => Ok(Claim::Run),
                Err(TableError::ConditionFailed) => Ok(Claim::InProgress),
                Err(other) => Err(other.into()),
            };
        }
        Ok(match (held.fingerprint == fingerprint, held.response) {
            (false, _) => Claim::Mismatch,
            (true, Some(response)) => {
                let body = self
                    .privacy
                    .open_record(SEALED_KIND, key, &response.sealed_body)
                    .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
                    .map_err(|reason| StoreError::Corrupt {
                        key: Some(keys::idempotency(key)),
                        reason,
                    })?;
                Claim::Replay(StoredResponse {
                    status: response.status,
                    body,
                })
            }
            (true, None) => Claim::InProgress,
        })
    }

    /// Stores the response to replay for this key.
    pub async fn complete(
        &self,
        key: &str,
        fingerprint: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let sealed = SealedResponse {
            status: response.status,
            sealed_body: self
                .privacy
                .seal_record(SEALED_KIND, key, response.body.as_bytes())?,
        };
        let update = strata_domain::ports::table::Update::default()
            .set("response", codec::to_attribute(&sealed)?);
        let condition = Condition::Equals("fingerprint".into(), Value::S(fingerprint.to_owned()));
        self.table
            .update(&keys::idempotency(key), update, Some(condition))
            .await?;
        Ok(())
    }

    /// Forgets a key whose request failed in a way the client may retry.
    pub async fn release(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let condition = Condition::Equals("fingerprint".into(), Value::S(fingerprint.to_owned()));
        match self
            .table
            .delete(&keys::idempotency(key), Some(condition))
            .await
        {
            Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}
