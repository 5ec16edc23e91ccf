//! Strata on one machine: the local host that serves the whole HTTP API on
//! the embedded backend with the routers the Lambdas serve, runs the
//! scheduled jobs on timers, and watches an import folder as the S3 trigger;
//! and the demo, which runs real exports through the whole pipeline.

pub mod demo;
pub mod host;
