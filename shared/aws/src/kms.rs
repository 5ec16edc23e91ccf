//! The key port on AWS KMS: data keys generated, unwrapped and wrapped by a
//! KMS key, the encryption context passed through (KMS binds it and logs it
//! in CloudTrail).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use strata_domain::ports::keys::{
    DataKey, EncryptionContext, GeneratedKey, KeyError, KeyService, WrappedKey,
};
use zeroize::Zeroizing;

use crate::SetupError;

/// Wraps data keys under one KMS key (id, ARN or alias). Cheap to clone.
#[derive(Debug, Clone)]
pub struct KmsKeyService {
    client: Client,
    key_id: String,
}

impl KmsKeyService {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsKeyService {
            client,
            key_id: key_id.into(),
        }
    }
}

fn sdk_context(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.pairs().is_empty()).then(|| {
        context
            .pairs()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// Takes a plaintext key out of the SDK's blob, wiping the copy.
fn data_key(blob: Option<Blob>) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(
        blob.ok_or_else(|| KeyError::Unavailable("KMS returned no plaintext".into()))?
            .into_inner(),
    );
    DataKey::from_slice(&bytes)
}

fn wrapped(key_id: Option<String>, blob: Option<Blob>) -> Result<WrappedKey, KeyError> {
    Ok(WrappedKey {
        key_id: key_id.ok_or_else(|| KeyError::Unavailable("KMS returned no key id".into()))?,
        ciphertext: blob
            .ok_or_else(|| KeyError::Unavailable("KMS returned no ciphertext".into()))?
            .into_inner(),
    })
}

#[async_trait]
impl KeyService for KmsKeyService {
    #[tracing::instrument(level = "debug", skip_all, fields(key = %self.key_id))]
    async fn generate_data_key(
        &self,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey, KeyError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(key_error)?;
        Ok(GeneratedKey {
            plaintext: data_key(out.plaintext)?,
            wrapped: wrapped(out.key_id, out.ciphertext_blob)?,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = %wrapped.key_id))]
    async fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let out = self
            .client
            .decrypt()
            // Naming the key makes KMS refuse a ciphertext of any other key.
            .key_id(&wrapped.key_id)
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(key_error)?;
        data_key(out.plaintext)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key = %self.key_id))]
    async fn encrypt_data_key(
        &self,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(key.expose().to_vec()))
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(key_error)?;
        wrapped(out.key_id, out.ciphertext_blob)
    }
}

fn key_error<E>(err: SdkError<E, HttpResponse>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(_) => by_code(err.code(), detail),
        SdkError::ConstructionFailure(_) => KeyError::Invalid(detail),
        _ => KeyError::Unavailable(detail),
    }
}

fn by_code(code: Option<&str>, detail: String) -> KeyError {
    match code.unwrap_or_default() {
        "InvalidCiphertextException" | "IncorrectKeyException" | "InvalidKeyUsageException" => {
            KeyError::Invalid(detail)
        }
        "AccessDeniedException"
        | "DisabledException"
        | "KMSInvalidStateException"
        | "NotFoundException"
        | "InvalidGrantTokenException" => KeyError::Denied(detail),
        "ThrottlingException" | "LimitExceededException" => KeyError::Throttled(detail),
        _ => KeyError::Unavailable(detail),
    }
}

/// Creates a symmetric KMS key and returns its ARN. For tests and local
/// servers: deployed keys come from the SAM template.
pub async fn create_key(client: &Client, description: &str) -> Result<String, SetupError> {
    let out = client
        .create_key()
        .description(description)
        .send()
        .await
        .map_err(|e| SetupError::Request {
            operation: "CreateKey",
            detail: DisplayErrorContext(e).to_string(),
        })?;
    out.key_metadata
        .and_then(|m| m.arn)
        .ok_or_else(|| SetupError::Request {
            operation: "CreateKey",
            detail: "no key ARN in the response".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_errors_map_to_port_errors() {
        assert!(matches!(
            by_code(Some("InvalidCiphertextException"), String::new()),
            KeyError::Invalid(_)
        ));
        assert!(matches!(
            by_code(Some("KMSInvalidStateException"), String::new()),
            KeyError::Denied(_)
        ));
        assert!(by_code(Some("ThrottlingException"), String::new()).is_retryable());
        assert!(by_code(Some("KMSInternalException"), String::new()).is_retryable());
    }
}
