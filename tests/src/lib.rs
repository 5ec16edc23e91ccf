//! Test support shared by Strata's cross-crate tests: the backends the
//! conformance suite runs against, a fault-injecting table, and the cases.

pub mod backend;
pub mod cases;
pub mod faulty;
