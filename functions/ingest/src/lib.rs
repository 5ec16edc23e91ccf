//! Ingest: how every byte of customer data enters Strata — the HTTP API and
//! bulk import of data exports — through one ingest service.

pub mod api;
pub mod import;
pub mod ingest;
pub mod lambda;
mod order_coupons;
pub mod orders;
pub mod retention;
