//! The recommendation function: what to push to a customer, from which
//! level of the category tree, and why (`strata_domain::recommend` holds
//! the method).
//!
//! Two Lambda entrypoints share this library: `recommend-api` (HTTP, the
//! axum router in `api`: two table reads per request) and `recommend-job`
//! (the EventBridge schedule, `job`: a parallel scan that precomputes the
//! profiles and candidate lists the API reads). `evaluate` is the offline
//! evaluation behind `cargo xtask eval-recommend`.

pub mod api;
pub mod catalogue;
pub mod evaluate;
pub mod job;
pub mod lambda;
