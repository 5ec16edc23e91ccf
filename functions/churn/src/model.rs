//! The churn model in ONNX Runtime: the library is loaded once per process
//! (from `ORT_DYLIB_PATH`, the PyPI wheel's `libonnxruntime.so`), a session
//! is built once per model, and scoring runs whole batches through it.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ndarray::Array2;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use strata_domain::churn::model::CardError;
use strata_domain::churn::{Feature, FeatureVector, ModelCard};

/// Where the ONNX Runtime library is.
pub const DYLIB_VAR: &str = "ORT_DYLIB_PATH";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "ONNX Runtime is not available: {0} (set {DYLIB_VAR} to libonnxruntime.so from the onnxruntime 1.31 wheel; `cargo xtask test` does)"
    )]
    Runtime(String),
    #[error("the model could not be loaded: {0}")]
    Load(String),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("the model card is unreadable: {0}")]
    CardFormat(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads the ONNX Runtime library and creates its environment, once per
/// process; returns how long that took (zero after the first call).
pub fn load_runtime() -> Result<Duration, ModelError> {
    let started = Instant::now();
    let mut loaded_now = false;
    let environment = ENVIRONMENT.get_or_init(|| {
        loaded_now = true;
        let path = std::env::var(DYLIB_VAR).map_err(|_| format!("{DYLIB_VAR} is not set"))?;
        ort::init_from(&path)
            .map_err(|e| e.to_string())?
            .with_name("strata-churn")
            .build()
            .map_err(|e| e.to_string())
    });
    match environment {
        Ok(_) => Ok(if loaded_now {
            started.elapsed()
        } else {
            Duration::ZERO
        }),
        Err(why) => Err(ModelError::Runtime(why.clone())),
    }
}

/// How long a model took to become ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColdStart {
    pub library: Duration,
    pub session: Duration,
}

pub struct ChurnModel {
    card: ModelCard,
    order: Vec<Feature>,
    // `Session::run` takes `&mut self`; one inference at a time is enough for
    // a function instance, and a batch amortises the lock.
    session: Mutex<Session>,
}

impl ChurnModel {
    /// Builds a session for the model bytes described by the card.
    pub fn load(model: &[u8], card: ModelCard) -> Result<(ChurnModel, ColdStart), ModelError> {
        let library = load_runtime()?;
        let order = card.feature_order()?;
        let started = Instant::now();
        let Some(Ok(environment)) = ENVIRONMENT.get() else {
            return Err(ModelError::Runtime("the environment is missing".into()));
        };
        let session = Session::builder(environment)
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3)
                    .map_err(Into::into)
            })
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_memory(model))
            .map_err(|e| ModelError::Load(e.to_string()))?;
        let model = ChurnModel {
            card,
            order,
            session: Mutex::new(session),
        };
        Ok((
            model,
            ColdStart {
                library,
                session: started.elapsed(),
            },
        ))
    }

    /// Reads a card from its JSON.
    pub fn parse_card(json: &[u8]) -> Result<ModelCard, ModelError> {
        serde_json::from_slice(json).map_err(|e| ModelError::CardFormat(e.to_string()))
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    pub fn version(&self) -> &str {
        &self.card.version
    }

    /// The inputs the model takes, in order.
    pub fn inputs(&self) -> &[Feature] {
        &self.order
    }

    /// Churn probabilities of many customers at once.
    pub fn probabilities(&self, customers: &[FeatureVector]) -> Result<Vec<f64>, ModelError> {
        let mut rows = Vec::with_capacity(customers.len() * self.order.len());
        for features in customers {
            features.write_selected(&self.order, &mut rows);
        }
        self.run(rows, customers.len())
    }

    /// Probabilities of raw input rows in the model's order (`rows.len()` a
    /// multiple of the input count).
    pub fn run(&self, rows: Vec<f32>, count: usize) -> Result<Vec<f64>, ModelError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let input = Array2::from_shape_vec((count, self.order.len()), rows)
            .map_err(|e| ModelError::Inference(e.to_string()))?;
        let tensor = TensorRef::from_array_view(&input).map_err(inference)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| ModelError::Inference("a previous inference panicked".into()))?;
        let outputs = session
            .run(ort::inputs![self.card.onnx.input.as_str() => tensor])
            .map_err(inference)?;
        let output = outputs.get(self.card.onnx.output.as_str()).ok_or_else(|| {
            ModelError::Inference(format!("no output `{}`", self.card.onnx.output))
        })?;
        let probabilities = output.try_extract_array::<f32>().map_err(inference)?;
        let column = self.card.onnx.churn_column;
        let shape = probabilities.shape();
        if shape.len() != 2 || shape[0] != count || shape[1] <= column {
            return Err(ModelError::Inference(format!(
                "output shape {shape:?} does not hold column {column} for {count} rows"
            )));
        }
        Ok((0..count)
            .map(|row| f64::from(probabilities[[row, column]]))
            .collect())
    }
}

fn inference(error: ort::Error) -> ModelError {
    ModelError::Inference(error.to_string())
}
