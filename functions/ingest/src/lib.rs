//! Ingest: how every byte of customer data enters Strata.

pub mod import;
pub mod ingest;
