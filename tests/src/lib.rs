//! Test support shared by Strata's cross-crate tests: the backends the
//! conformance suite runs against, a fault-injecting table, the cases, and
//! a synthetic dataset for the backup drills and benchmarks.

pub mod backend;
pub mod cases;
pub mod counting;
pub mod crash;
pub mod dataset;
pub mod faulty;
