//! `cargo xtask bench-tiering`, `bench-value` and `bench-engage`: a scheduled job's
//! benchmark (`functions/<job>/benches/<job>.rs`) on the embedded backend,
//! then on a moto server started here (fewer customers: moto serves one
//! request at a time, so its figures show the AWS code path and the request
//! counts, not DynamoDB's speed).

use std::path::Path;
use std::process::Command;

use crate::{moto, python, run, step};

/// A job benchmark: its package and bench target, sized by
/// `STRATA_BENCH_CUSTOMERS`.
pub struct Job {
    pub name: &'static str,
    pub package: &'static str,
    pub bench: &'static str,
}

pub const TIERING: Job = Job {
    name: "tiering",
    package: "strata-tiering",
    bench: "tiering",
};

pub const VALUE: Job = Job {
    name: "value and rewards",
    package: "strata-value",
    bench: "value",
};

pub const ENGAGE: Job = Job {
    name: "segments",
    package: "strata-engage",
    bench: "engage",
};

pub fn bench(root: &Path, job: &Job, customers: u64, aws_customers: u64) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    step(&format!(
        "{} benchmark: embedded, {customers} customers",
        job.name
    ));
    run(&mut benchmark(job, "embedded", customers))?;
    step("start moto");
    let server = moto::Server::start(&venv, &root.join("target"), moto::Answers::Direct)?;
    step(&format!(
        "{} benchmark: aws (moto), {aws_customers} customers",
        job.name
    ));
    let mut aws = benchmark(job, "aws", aws_customers);
    server.configure(&mut aws);
    let outcome = run(&mut aws);
    drop(server);
    outcome
}

fn benchmark(job: &Job, backend: &str, customers: u64) -> Command {
    let mut command = Command::new("cargo");
    command
        .args([
            "bench",
            "--quiet",
            "--package",
            job.package,
            "--bench",
            job.bench,
            "--",
            "--backend",
            backend,
        ])
        .env("STRATA_BENCH_CUSTOMERS", customers.to_string());
    command
}
