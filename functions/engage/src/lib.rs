//! From scores to action: the sales team's directory, customer segments
//! (an ordered list of rules over what Strata knows of each customer; the
//! first that matches is the customer's segment) kept true by a nightly
//! run, and the API over both. The rules are
//! `strata_domain::engage`; the records `strata_store::repo::engage`.

pub mod api;
pub mod lambda;
pub mod segmenter;

pub use segmenter::{Judge, Preview, SegmentError, SegmentReport, SegmentSettings, Segmenter};
