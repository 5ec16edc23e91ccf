//! Bulk import of data exports.

pub mod mapping;
pub mod record;
pub mod run;
pub mod source;
pub mod trigger;
