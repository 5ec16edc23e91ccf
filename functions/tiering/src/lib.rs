//! Tiering: cold orders and interactions move from the table into gzip JSON
//! Lines objects in the cold bucket (copy → verify → delete, pointers left
//! behind), on an EventBridge schedule; `report` estimates what it saves.
//!
//! The read-back side (whole histories, restores, re-warming) lives in
//! `strata_store::ActivityRepository::with_cold_tier`, so the ingest API
//! reads through it without knowing about tiers.

pub mod job;
pub mod lambda;
pub mod report;

pub use job::{JobSettings, RunReport, TieringError, run};
