//! The churn function: batch and online churn scoring with an ONNX model,
//! the early-warning list, conversion likelihood of intent customers,
//! monthly churn/conversion counts, and model versions with promotion.
//!
//! Two Lambda entrypoints share this library: `churn-api` (HTTP, the axum
//! router in `api`) and `churn-batch` (the EventBridge schedule, `batch`).
//! The `churn` binary is the local tool behind `cargo xtask train`,
//! `retrain` and `bench-churn`.

pub mod api;
pub mod batch;
pub mod evaluate;
pub mod export;
pub mod lambda;
pub mod model;
pub mod registry;
pub mod retraining;
pub mod scoring;
