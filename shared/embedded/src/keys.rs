//! The key port on a local master key: 32 random bytes in a file under the
//! data directory, created on first use and readable by its owner only.
//! Data keys are wrapped with AES-256-GCM under it, the encryption context
//! bound as associated data, so a wrapped key opens only under the context
//! it was wrapped with.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use strata_domain::ports::keys::{
    DATA_KEY_BYTES, DataKey, EncryptionContext, GeneratedKey, KeyError, KeyService, WrappedKey,
};
use zeroize::Zeroizing;

use crate::error::EmbeddedError;

/// First byte of every wrapped key: the wrapping format.
const WRAP_FORMAT: u8 = 1;
const NONCE_BYTES: usize = 12;
/// Domain separation: these bytes start the associated data of every wrap.
const WRAP_LABEL: &[u8] = b"strata/local-key-wrap/v1";

/// A master key in a file. Cloning shares nothing secret beyond the process.
#[derive(Clone)]
pub struct LocalKeyService {
    key_id: String,
    master: DataKey,
}

impl LocalKeyService {
    /// The master key at `<data_dir>/keys/<name>.key`.
    pub fn open_in(data_dir: &Path, name: &str) -> Result<Self, EmbeddedError> {
        LocalKeyService::open(&data_dir.join("keys").join(format!("{name}.key")))
    }

    /// Opens the key file at `path`, creating it (and its directory, owner
    /// only) with a fresh random key if it does not exist. A key file that
    /// others may read is refused, as ssh refuses such private keys.
    pub fn open(path: &Path) -> Result<Self, EmbeddedError> {
        let bytes = match std::fs::read(path).map(Zeroizing::new) {
            Ok(bytes) => {
                check_private(path)?;
                bytes
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_key_file(path)?,
            Err(error) => return Err(EmbeddedError::io(path, error)),
        };
        let master = DataKey::from_slice(&bytes).map_err(|_| EmbeddedError::KeyFile {
            path: path.to_owned(),
            reason: format!("holds {} bytes, not {DATA_KEY_BYTES}", bytes.len()),
        })?;
        // Names the key without revealing anything usable about it.
        let digest =
            Sha256::digest([b"strata/local-key-id/v1".as_slice(), master.expose()].concat());
        Ok(LocalKeyService {
            key_id: format!("local:{}", hex::encode(&digest[..8])),
            master,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.master.expose().into())
    }

    fn associated_data(&self, context: &EncryptionContext) -> Vec<u8> {
        let mut aad = WRAP_LABEL.to_vec();
        aad.extend_from_slice(&(self.key_id.len() as u64).to_be_bytes());
        aad.extend_from_slice(self.key_id.as_bytes());
        aad.extend_from_slice(&context.canonical_bytes());
        aad
    }

    fn wrap(&self, key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey, KeyError> {
        let nonce = random_bytes::<NONCE_BYTES>()?;
        let aad = self.associated_data(context);
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: key.expose(),
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unavailable("AES-GCM refused to wrap a key".into()))?;
        let mut ciphertext = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        ciphertext.push(WRAP_FORMAT);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Ok(WrappedKey {
            key_id: self.key_id.clone(),
            ciphertext,
        })
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey, KeyError> {
        let plaintext =
            DataKey::from_slice(Zeroizing::new(random_bytes::<DATA_KEY_BYTES>()?).as_slice())?;
        let wrapped = self.wrap(&plaintext, context)?;
        Ok(GeneratedKey { plaintext, wrapped })
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        if wrapped.key_id != self.key_id {
            return Err(KeyError::Invalid(format!(
                "wrapped under master key {}, this is {}",
                wrapped.key_id, self.key_id
            )));
        }
        let (format, rest) = wrapped
            .ciphertext
            .split_first()
            .ok_or_else(|| KeyError::Invalid("the wrapped key is empty".into()))?;
        if *format != WRAP_FORMAT || rest.len() < NONCE_BYTES {
            return Err(KeyError::Invalid("unknown wrapped-key format".into()));
        }
        let (nonce, sealed) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| KeyError::Invalid("short nonce".into()))?;
        let aad = self.associated_data(context);
        let opened = Zeroizing::new(
            self.cipher()
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    KeyError::Invalid(
                        "authentication failed: damaged, or wrapped under another context".into(),
                    )
                })?,
        );
        DataKey::from_slice(&opened)
    }

    async fn encrypt_data_key(
        &self,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        self.wrap(key, context)
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|error| KeyError::Unavailable(format!("the system's random source: {error}")))?;
    Ok(bytes)
}

/// Writes a new key with owner-only permissions from the start (no window
/// in which it is readable by others), failing if another process won the
/// race to create it; then reads back whichever key is there.
fn create_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, EmbeddedError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let key = Zeroizing::new(random_bytes::<DATA_KEY_BYTES>().map_err(|error| {
        EmbeddedError::KeyFile {
            path: path.to_owned(),
            reason: error.to_string(),
        }
    })?);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key.as_slice())
                .and_then(|()| file.sync_all())
                .map_err(|error| EmbeddedError::io(path, error))?;
            tracing::info!(path = %path.display(), "created a local master key");
            Ok(Zeroizing::new(key.to_vec()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path)
            .map(Zeroizing::new)
            .map_err(|error| EmbeddedError::io(path, error)),
        Err(error) => Err(EmbeddedError::io(path, error)),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), EmbeddedError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|error| EmbeddedError::io(dir, error))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|error| EmbeddedError::io(path, error))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(EmbeddedError::KeyFile {
            path: PathBuf::from(path),
            reason: format!(
                "is accessible to others (mode {:o}); allow its owner only (chmod 600)",
                mode & 0o777
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), EmbeddedError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_once_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalKeyService::open_in(dir.path(), "master").unwrap();
        let again = LocalKeyService::open_in(dir.path(), "master").unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let other = LocalKeyService::open_in(dir.path(), "archive").unwrap();
        assert_ne!(first.key_id(), other.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("keys/master.key");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let keys_dir = std::fs::metadata(dir.path().join("keys")).unwrap();
            assert_eq!(keys_dir.permissions().mode() & 0o777, 0o700);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = LocalKeyService::open(&path).err().unwrap();
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
        }
    }

    #[test]
    fn a_damaged_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.key");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).unwrap().write_all(b"short").unwrap();
        assert!(LocalKeyService::open(&path).is_err());
    }
}
