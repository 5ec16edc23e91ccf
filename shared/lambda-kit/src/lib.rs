//! What every Strata function repeats, in one place: logging set-up,
//! configuration from the environment, the mapping of errors to HTTP problem
//! responses and to event-source retry decisions, and CloudWatch metrics.

pub mod config;
pub mod failure;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod paging;
pub mod problem;
pub mod revision;

pub use config::{ConfigError, EnvReader};
pub use failure::Disposition;
pub use problem::Problem;
