//! Strata on one machine: the local host that serves the whole HTTP API on
//! the embedded backend with the routers the Lambdas serve, runs the
//! scheduled jobs on timers, and watches an import folder as the S3 trigger.

pub mod host;
