//! Customer value: the scheduled refresh that keeps every customer's points
//! coefficient, tier and premium flag true as time passes (recency decays
//! with no event) or after the admin changed the policy. The write paths
//! (API, `/v1/batch`, imports, merges) reassess a customer whenever their
//! purchases change (`strata_ingest`); the rule is
//! `strata_domain::value::ValuePolicy::assess`.

pub mod api;
pub mod lambda;
pub mod refresh;

pub use refresh::{RefreshError, RefreshReport, RefreshSettings, ValueRefresh};
