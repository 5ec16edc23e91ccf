//! The key port: envelope encryption. Master keys never leave the key
//! service (KMS, or a local key file); callers get per-use data keys, encrypt
//! their data with them, and store the data key only in wrapped form next to
//! the data. Unwrapping needs the same encryption context it was wrapped
//! under, so a wrapped key copied elsewhere is useless.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Bytes in a data key: AES-256.
pub const DATA_KEY_BYTES: usize = 32;

/// Name–value pairs bound to a wrapped key (KMS's encryption context).
/// Not secret: KMS writes them into its audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        EncryptionContext::default()
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// An unambiguous byte encoding (length-prefixed names and values in
    /// name order), for adapters that bind the context as associated data.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.0 {
            for part in [name, value] {
                out.extend_from_slice(&(part.len() as u64).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

/// A plaintext data key. Wiped from memory when dropped and never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_BYTES]>);

impl DataKey {
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; DATA_KEY_BYTES] = bytes.try_into().map_err(|_| {
            KeyError::Invalid(format!(
                "a data key has {DATA_KEY_BYTES} bytes, not {}",
                bytes.len()
            ))
        })?;
        Ok(DataKey(Zeroizing::new(array)))
    }

    pub fn expose(&self) -> &[u8; DATA_KEY_BYTES] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key encrypted under a master key: safe to store with the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The master key that wrapped it (a KMS key ARN, or a local key's id).
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

/// A fresh data key, in the clear for immediate use and wrapped for storage.
#[derive(Debug)]
pub struct GeneratedKey {
    pub plaintext: DataKey,
    pub wrapped: WrappedKey,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum KeyError {
    /// The wrapped key is damaged, belongs to another master key, or was
    /// wrapped under another encryption context.
    #[error("the wrapped key cannot be unwrapped: {0}")]
    Invalid(String),
    /// Access denied, or the master key is disabled or pending deletion.
    #[error("the key service refused: {0}")]
    Denied(String),
    #[error("the key service is throttling requests: {0}")]
    Throttled(String),
    #[error("the key service is unavailable: {0}")]
    Unavailable(String),
}

impl KeyError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, KeyError::Throttled(_) | KeyError::Unavailable(_))
    }
}

/// Envelope encryption under one master key.
#[async_trait]
pub trait KeyService: Send + Sync {
    /// A new random data key, returned in the clear and wrapped.
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey, KeyError>;

    /// Unwraps a data key wrapped by this service under the same context.
    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    /// Wraps an existing data key under this service's master key, so data
    /// encrypted elsewhere (an archive copy in another account) can be
    /// opened with this service alone.
    async fn encrypt_data_key(
        &self,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_context_bytes_do_not_depend_on_insertion_order_and_keep_parts_apart() {
        let a = EncryptionContext::new().with("b", "2").with("a", "1");
        let b = EncryptionContext::new().with("a", "1").with("b", "2");
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        let joined = EncryptionContext::new().with("ab", "c");
        let split = EncryptionContext::new().with("a", "bc");
        assert_ne!(joined.canonical_bytes(), split.canonical_bytes());
    }

    #[test]
    fn data_keys_have_32_bytes_and_never_print() {
        assert!(DataKey::from_slice(&[0; 16]).is_err());
        let key = DataKey::from_slice(&[7; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
        assert_eq!(key.expose(), &[7; 32]);
    }
}
