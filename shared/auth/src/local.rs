//! Tokens for the local host: HS256 under a key kept in the data directory
//! (32 random bytes, owner-only, made on first use), with the same claims
//! an identity provider puts in (see `claims`), checked for signature,
//! expiry, issuer and audience.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde_json::{Map, Value, json};
use strata_domain::access::Principal;

use crate::claims::{self, Claims};

pub const ISSUER: &str = "strata-local";
pub const AUDIENCE: &str = "strata-api";
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid here: {0}")]
    Invalid(String),
    #[error("the signing key at {path}: {source}")]
    Key {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct LocalIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl LocalIssuer {
    pub fn from_secret(secret: &[u8]) -> LocalIssuer {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        LocalIssuer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The key file under `<data_dir>/auth/signing.key`, made if missing.
    pub fn open(data_dir: &Path) -> Result<LocalIssuer, TokenError> {
        let path = data_dir.join("auth").join("signing.key");
        let key_error = |source| TokenError::Key {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            create_key(&path).map_err(key_error)?;
        }
        let secret = std::fs::read(&path).map_err(key_error)?;
        if secret.len() < KEY_BYTES {
            return Err(key_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("shorter than {KEY_BYTES} bytes"),
            )));
        }
        Ok(LocalIssuer::from_secret(&secret))
    }

    /// A token for `principal`, valid for `ttl`.
    pub fn mint(&self, principal: &Principal, ttl: Duration) -> Result<String, TokenError> {
        let now = Utc::now();
        let mut body = json!({
            "sub": principal.subject,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now.timestamp(),
            "exp": (now + ttl).timestamp(),
            claims::GROUPS: [principal.role.name()],
        });
        if let Some(customer) = principal.customer {
            body[claims::CUSTOMER_ID] = json!(customer.to_string());
        }
        if let Some(salesperson) = &principal.salesperson {
            body[claims::SALESPERSON_ID] = json!(salesperson.as_str());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &body, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// The claims of a token this key signed, rendered as API Gateway
    /// renders them (strings; arrays as `[a b]`).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid(e.to_string()),
                })?;
        Ok(data
            .claims
            .into_iter()
            .map(|(name, value)| (name, render(value)))
            .collect())
    }
}

fn render(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(items) => {
            let items: Vec<String> = items.into_iter().map(render).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

fn create_key(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut secret = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => file.write_all(&secret),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::access::Role;

    fn admin() -> Principal {
        Principal::new("alice", Role::Admin, None, None).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_and_maps_back_to_its_principal() {
        let issuer = LocalIssuer::from_secret(&[7; 32]);
        let token = issuer.mint(&admin(), Duration::minutes(5)).unwrap();
        let claims = issuer.verify(&token).unwrap();
        assert_eq!(claims[claims::GROUPS], "[admin]");
        assert_eq!(claims::principal(&claims).unwrap(), admin());
    }

    #[test]
    fn expired_foreign_and_tampered_tokens_are_refused() {
        let issuer = LocalIssuer::from_secret(&[7; 32]);
        let expired = issuer.mint(&admin(), Duration::seconds(-5)).unwrap();
        assert!(matches!(issuer.verify(&expired), Err(TokenError::Expired)));
        let foreign = LocalIssuer::from_secret(&[8; 32])
            .mint(&admin(), Duration::minutes(5))
            .unwrap();
        assert!(matches!(
            issuer.verify(&foreign),
            Err(TokenError::Invalid(_))
        ));
        let good = issuer.mint(&admin(), Duration::minutes(5)).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = issuer
            .mint(
                &Principal::new("mallory", Role::Admin, None, None).unwrap(),
                Duration::minutes(5),
            )
            .unwrap();
        parts[1] = forged.split('.').nth(1).unwrap();
        assert!(matches!(
            issuer.verify(&parts.join(".")),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            issuer.verify("not-a-token"),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn the_key_file_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalIssuer::open(dir.path()).unwrap();
        let token = first.mint(&admin(), Duration::minutes(5)).unwrap();
        let again = LocalIssuer::open(dir.path()).unwrap();
        assert!(again.verify(&token).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("auth/signing.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
