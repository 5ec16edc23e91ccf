//! `cargo xtask bench-backup`: the backup benchmark (functions/backup/benches)
//! against the embedded backend, then against a moto server started here.
//!
//! moto answers every scanned item through a generic Python serializer
//! (about 13 ms per item of the benchmark's shape on these machines), so a
//! moto run of a million items would take many hours; it gets its own,
//! smaller count. Its figures measure moto, and show the AWS code path works
//! at scale; the embedded figures measure Strata's own code.

use std::path::Path;
use std::process::Command;

use crate::{moto, python, run, step};

pub fn bench(root: &Path, items: u64, aws_items: u64) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    step(&format!("backup benchmark: embedded, {items} items"));
    run(&mut benchmark("embedded", items))?;
    step("start moto");
    let server = moto::Server::start(&venv, &root.join("target"), moto::Answers::Direct)?;
    step(&format!("backup benchmark: aws (moto), {aws_items} items"));
    let mut aws = benchmark("aws", aws_items);
    server.configure(&mut aws);
    let outcome = run(&mut aws);
    drop(server);
    outcome
}

fn benchmark(backend: &str, items: u64) -> Command {
    let mut command = Command::new("cargo");
    command.args([
        "bench",
        "--quiet",
        "--package",
        "strata-backup",
        "--bench",
        "backup",
        "--",
        "--backend",
        backend,
        "--items",
    ]);
    command.arg(items.to_string());
    command
}
