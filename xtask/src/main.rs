//! `cargo xtask`: everything a fresh machine needs, behind a few commands.

mod moto;
mod python;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Strata's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Installs the project's Python tools and datasets into .venv (idempotent).
    Setup,
    /// Loads the CDNOW log into the embedded store and reports what it holds.
    Demo {
        /// Where the embedded store keeps its data.
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
    },
    /// Runs every check and test: format, lints, unit tests, and the
    /// conformance suite against the embedded store and a local moto server.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match Cli::parse().command {
        Task::Setup => python::ensure_venv(&root).map(drop),
        Task::Demo { data_dir } => demo(&root, &data_dir),
        Task::Test { no_lint } => test(&root, no_lint),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn demo(root: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    let cdnow = venv.package_file("lifetimes", "datasets/CDNOW_master.txt")?;
    run(Command::new("cargo").args(["run", "--quiet", "--package", "strata-local", "--bin", "strata", "--", "demo"]).arg("--cdnow").arg(&cdnow).arg("--data-dir").arg(data_dir))
}

fn test(root: &Path, no_lint: bool) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    if !no_lint {
        step("format");
        run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
        step("lints");
        run(Command::new("cargo").args(["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"]))?;
    }
    step("build tests");
    run(Command::new("cargo").args(["test", "--workspace", "--no-run", "--quiet"]))?;
    step("start moto");
    let server = moto::Server::start(&venv, &root.join("target"))?;
    println!("moto listening on {}", server.endpoint());
    step("run tests");
    let mut tests = Command::new("cargo");
    tests.args(["test", "--workspace"]);
    server.configure(&mut tests);
    let outcome = run(&mut tests);
    drop(server);
    outcome
}

fn step(name: &str) {
    println!("\n== xtask: {name}");
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}
