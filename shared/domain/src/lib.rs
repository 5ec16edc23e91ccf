//! Strata's domain: the customer-data model, its validation and normalisation
//! rules, and the ports through which services reach storage.
//!
//! This crate does no I/O and knows nothing of AWS or Lambda.

pub mod access;
pub mod activity;
pub mod audit;
pub mod backup;
pub mod channel;
pub mod churn;
pub mod consent;
pub mod contact;
pub mod customer;
pub mod engage;
pub mod error;
pub mod ids;
pub mod interaction;
pub mod money;
pub mod options;
pub mod order;
pub mod ports;
pub mod product;
pub mod recommend;
pub mod retention;
pub mod review;
pub mod rewards;
pub mod text;
pub mod tiering;
pub mod value;

pub use error::{FieldError, Invalid};
pub use options::ReadOptions;
