//! Model versions: each version's `model.onnx` and card under
//! `models/churn/<version>/` in the blob store (S3, or files locally), and a
//! pointer item in the table naming the version that serves. Promotion moves
//! the pointer with a conditional write; old versions stay for rollback.
//! Without a pointer, the model built into the binary serves.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use strata_domain::churn::ModelCard;
use strata_domain::churn::model::{ModelPointer, Promotion, decide};
use strata_domain::ports::blob::{self, BlobError, BlobStore, PutOptions};
use strata_domain::ports::table::Table;
use strata_store::{ChurnRepository, StoreError};

use crate::model::{ChurnModel, ColdStart, ModelError};

pub const MODEL_NAME: &str = "churn";

/// The model trained on CDNOW by `cargo xtask train`, committed with the code.
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../model/model.onnx");
pub const BUNDLED_CARD: &[u8] = include_bytes!("../model/model-card.json");

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("model version {0} is not in the blob store")]
    UnknownVersion(String),
    #[error("the card's version {card} does not match the model file's digest {file}")]
    VersionMismatch { card: String, file: String },
}

/// Where the serving model came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Pointer,
    Bundled,
}

#[derive(Clone)]
pub struct ModelRegistry {
    blobs: Arc<dyn BlobStore>,
    churn: ChurnRepository,
}

fn model_key(version: &str) -> String {
    format!("models/{MODEL_NAME}/{version}/model.onnx")
}

fn card_key(version: &str) -> String {
    format!("models/{MODEL_NAME}/{version}/model-card.json")
}

/// The version a model file must carry: its SHA-256, as the trainer names it.
pub fn version_of(model: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(model))[..12].to_owned()
}

impl ModelRegistry {
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn BlobStore>) -> Self {
        ModelRegistry {
            blobs,
            churn: ChurnRepository::new(table),
        }
    }

    pub async fn pointer(&self) -> Result<Option<ModelPointer>, RegistryError> {
        Ok(self.churn.model_pointer(MODEL_NAME).await?)
    }

    /// The serving model: the pointer's version, or the bundled one.
    pub async fn load_serving(
        &self,
    ) -> Result<(ChurnModel, ColdStart, ModelSource), RegistryError> {
        match self.pointer().await? {
            Some(pointer) => {
                let (model, card) = self.fetch(&pointer.version).await?;
                let (model, cold) = ChurnModel::load(&model, card)?;
                Ok((model, cold, ModelSource::Pointer))
            }
            None => {
                let card = ChurnModel::parse_card(BUNDLED_CARD)?;
                let (model, cold) = ChurnModel::load(BUNDLED_MODEL, card)?;
                Ok((model, cold, ModelSource::Bundled))
            }
        }
    }

    /// A stored version's model bytes and card.
    pub async fn fetch(&self, version: &str) -> Result<(Vec<u8>, ModelCard), RegistryError> {
        let model = self.read(version, model_key(version)).await?;
        let card = ChurnModel::parse_card(&self.fetch_card_json(version).await?)?;
        Ok((model, card))
    }

    /// A stored version's card as written by the trainer.
    pub async fn fetch_card_json(&self, version: &str) -> Result<Vec<u8>, RegistryError> {
        self.read(version, card_key(version)).await
    }

    async fn read(&self, version: &str, key: String) -> Result<Vec<u8>, RegistryError> {
        match self.blobs.get(&key).await {
            Ok(object) => Ok(blob::collect(object.body).await?),
            Err(BlobError::NotFound(_)) => Err(RegistryError::UnknownVersion(version.to_owned())),
            Err(other) => Err(other.into()),
        }
    }

    /// Stores a version (idempotent: the version is the model's digest).
    pub async fn publish(
        &self,
        model: &[u8],
        card_json: &[u8],
    ) -> Result<ModelCard, RegistryError> {
        let card = ChurnModel::parse_card(card_json)?;
        card.feature_order().map_err(ModelError::from)?;
        let digest = version_of(model);
        if card.version != digest {
            return Err(RegistryError::VersionMismatch {
                card: card.version,
                file: digest,
            });
        }
        let put = |key: String, bytes: Vec<u8>, content_type: &str| {
            let options = PutOptions {
                content_type: Some(content_type.to_owned()),
                ..PutOptions::default()
            };
            async move { self.blobs.put(&key, blob::body_from(bytes), options).await }
        };
        put(
            model_key(&card.version),
            model.to_vec(),
            "application/octet-stream",
        )
        .await?;
        put(
            card_key(&card.version),
            card_json.to_vec(),
            "application/json",
        )
        .await?;
        Ok(card)
    }

    /// Publishes a challenger and moves the pointer to it if the promotion
    /// rule says so. `champion_auc` is the serving model's ROC AUC on the
    /// challenger's holdout (`None` when nothing serves yet).
    pub async fn promote(
        &self,
        model: &[u8],
        card_json: &[u8],
        champion_auc: Option<f64>,
        now: DateTime<Utc>,
    ) -> Result<Promotion, RegistryError> {
        let card = self.publish(model, card_json).await?;
        let decision = decide(champion_auc, card.holdout.roc_auc);
        if let Promotion::Promote { .. } = decision {
            self.point_at(&card, card.data.customers, now).await?;
        }
        Ok(decision)
    }

    /// Publishes a version and points the serving model at it, recording
    /// how many formal customers its training data held (the retraining
    /// trigger's baseline). The pointer moves only if no one moved it since
    /// it was read.
    pub async fn install(
        &self,
        model: &[u8],
        card_json: &[u8],
        customers: u64,
        now: DateTime<Utc>,
    ) -> Result<ModelPointer, RegistryError> {
        let card = self.publish(model, card_json).await?;
        self.point_at(&card, customers, now).await
    }

    async fn point_at(
        &self,
        card: &ModelCard,
        customers: u64,
        now: DateTime<Utc>,
    ) -> Result<ModelPointer, RegistryError> {
        let current = self.pointer().await?;
        let pointer = ModelPointer {
            version: card.version.clone(),
            roc_auc: card.holdout.roc_auc,
            customers,
            promoted_at: now,
            previous: current.as_ref().map(|p| p.version.clone()),
        };
        self.churn
            .swap_model_pointer(
                MODEL_NAME,
                &pointer,
                current.as_ref().map(|p| p.version.as_str()),
            )
            .await?;
        Ok(pointer)
    }

    /// Points back at a stored version (one that was published before).
    pub async fn rollback(&self, version: &str, now: DateTime<Utc>) -> Result<(), RegistryError> {
        let (_, card) = self.fetch(version).await?;
        let current = self.pointer().await?;
        let pointer = ModelPointer {
            version: card.version,
            roc_auc: card.holdout.roc_auc,
            customers: card.data.customers,
            promoted_at: now,
            previous: current.as_ref().map(|p| p.version.clone()),
        };
        self.churn
            .swap_model_pointer(
                MODEL_NAME,
                &pointer,
                current.as_ref().map(|p| p.version.as_str()),
            )
            .await?;
        Ok(())
    }
}
