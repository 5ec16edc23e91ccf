//! `cargo xtask bench-tiering`: the tiering job's benchmark
//! (functions/tiering/benches/tiering.rs) on the embedded backend, then on a
//! moto server started here (fewer customers: moto serves one request at a
//! time, so its figures show the AWS code path and the request counts, not
//! DynamoDB's speed).

use std::path::Path;
use std::process::Command;

use crate::{moto, python, run, step};

pub fn bench(root: &Path, customers: u64, aws_customers: u64) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    step(&format!(
        "tiering benchmark: embedded, {customers} customers"
    ));
    run(&mut benchmark("embedded", customers))?;
    step("start moto");
    let server = moto::Server::start(&venv, &root.join("target"), moto::Answers::Direct)?;
    step(&format!(
        "tiering benchmark: aws (moto), {aws_customers} customers"
    ));
    let mut aws = benchmark("aws", aws_customers);
    server.configure(&mut aws);
    let outcome = run(&mut aws);
    drop(server);
    outcome
}

fn benchmark(backend: &str, customers: u64) -> Command {
    let mut command = Command::new("cargo");
    command
        .args([
            "bench",
            "--quiet",
            "--package",
            "strata-tiering",
            "--bench",
            "tiering",
            "--",
            "--backend",
            backend,
        ])
        .env("STRATA_BENCH_CUSTOMERS", customers.to_string());
    command
}
