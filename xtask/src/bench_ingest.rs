//! `cargo xtask bench-ingest`: the bulk import benchmark
//! (functions/ingest/benches/import.rs) against the embedded backend, then
//! against a moto server started here.
//!
//! moto handles one request at a time in Python and serialises every item
//! through a generic serializer, so its run gets its own, smaller row count.
//! Its figures measure moto and show the AWS code path at scale; the request
//! counts per 1,000 rows are what DynamoDB would bill.
//!
//! Last, the real CDNOW log (69,659 rows, from the `lifetimes` package)
//! goes through the S3 trigger's handler against moto, its counts checked
//! exactly: a real-data run too slow for the test command (minutes at
//! moto's pace).

use std::path::Path;
use std::process::Command;

use crate::{datasets, moto, python, run, step};

pub fn bench(root: &Path, rows: u64, aws_rows: u64) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    step(&format!("import benchmark: embedded, {rows} rows"));
    run(&mut benchmark("embedded", rows))?;
    step("start moto");
    let server = moto::Server::start(&venv, &root.join("target"), moto::Answers::Direct)?;
    step(&format!("import benchmark: aws (moto), {aws_rows} rows"));
    let mut aws = benchmark("aws", aws_rows);
    server.configure(&mut aws);
    let outcome = run(&mut aws).and_then(|()| {
        step("import benchmark: aws (moto), the CDNOW log through the S3 trigger");
        let mut cdnow = benchmark("aws", 0);
        cdnow.args(["--dataset", "cdnow"]);
        cdnow.envs(datasets::environment(root, &venv)?);
        server.configure(&mut cdnow);
        run(&mut cdnow)
    });
    drop(server);
    outcome
}

fn benchmark(backend: &str, rows: u64) -> Command {
    let mut command = Command::new("cargo");
    command.args([
        "bench",
        "--quiet",
        "--package",
        "strata-ingest",
        "--bench",
        "import",
        "--",
        "--backend",
        backend,
        "--rows",
    ]);
    command.arg(rows.to_string());
    command
}
