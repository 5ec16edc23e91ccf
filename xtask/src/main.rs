//! `cargo xtask`: everything a fresh machine needs, behind a few commands.

mod bench_backup;
mod bench_ingest;
mod bench_jobs;
mod churn;
mod contract;
mod datasets;
mod docs;
mod infra;
mod moto;
mod package;
mod python;
mod recommend;
mod test;
mod testbins;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Strata's project automation")]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Installs the project's Python tools and datasets into .venv (idempotent).
    Setup,
    /// Runs the CDNOW and Superstore exports through the whole pipeline
    /// (import, churn scoring, recommendations, tiering, backup) on fresh
    /// embedded stores, one per shop, with a summary of every step.
    Demo {
        /// Where the shops' embedded stores are kept (emptied first).
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
    },
    /// Runs every check and test: format, lints, templates, the package
    /// start check, every test on both backends (a local moto server), and
    /// the API contract; prints how long each step took.
    Test {
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
    },
    /// Prints bulk import figures on the embedded backend and on moto.
    BenchIngest {
        /// Rows in the embedded benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Rows in the moto benchmark (moto serves one request at a time).
        #[arg(long, default_value_t = 20_000)]
        aws_rows: u64,
    },
    /// Prints backup and restore figures on the embedded backend and on moto.
    BenchBackup {
        /// Items in the embedded benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        items: u64,
        /// Items in the moto benchmark (moto serialises each scanned item slowly).
        #[arg(long, default_value_t = 20_000)]
        aws_items: u64,
    },
    /// Prints tiering figures on the embedded backend and on moto.
    BenchTiering {
        /// Customers (six orders each) in the embedded benchmark.
        #[arg(long, default_value_t = 20_000)]
        customers: u64,
        /// Customers in the moto benchmark.
        #[arg(long, default_value_t = 2_000)]
        aws_customers: u64,
    },
    /// Prints value-tier and rewards figures (the tier rule and earning per
    /// row, the daily refresh's rate and requests) on the embedded backend and on moto.
    BenchValue {
        /// Customers (three orders each) in the embedded benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Customers in the moto benchmark.
        #[arg(long, default_value_t = 5_000)]
        aws_customers: u64,
    },
    /// Prints segment figures (the nightly run's rate, requests per customer
    /// and per mover) on the embedded backend and on moto.
    BenchEngage {
        /// Customers (three orders and a churn score each) in the embedded benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Customers in the moto benchmark.
        #[arg(long, default_value_t = 5_000)]
        aws_customers: u64,
    },
    /// Trains the churn model from CDNOW into functions/churn/model and checks it through serving.
    Train,
    /// Trains a churn challenger from a store and promotes it if not worse than the serving model.
    Retrain {
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
    },
    /// Churn figures: scoring throughput, online latency, cold start; Rust and Python onnxruntime.
    BenchChurn,
    /// Recommendation figures: leave-last-order-out hit rate and NDCG on Superstore.
    EvalRecommend,
    /// Builds every function of infra/template.yaml for Lambda into target/lambda/<binary>/.
    Package {
        /// arm64 needs `rustup target add aarch64-unknown-linux-gnu`.
        #[arg(long, value_enum, default_value = "arm64")]
        arch: package::Arch,
    },
}

fn main() -> anyhow::Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match Cli::parse().command {
        Task::Setup => python::ensure_venv(&root).map(drop),
        Task::Demo { data_dir } => demo(&root, &data_dir),
        Task::Test { no_lint } => test::test(&root, no_lint),
        Task::BenchIngest { rows, aws_rows } => bench_ingest::bench(&root, rows, aws_rows),
        Task::BenchBackup { items, aws_items } => bench_backup::bench(&root, items, aws_items),
        Task::BenchTiering {
            customers,
            aws_customers,
        } => bench_jobs::bench(&root, &bench_jobs::TIERING, customers, aws_customers),
        Task::BenchValue {
            customers,
            aws_customers,
        } => bench_jobs::bench(&root, &bench_jobs::VALUE, customers, aws_customers),
        Task::BenchEngage {
            customers,
            aws_customers,
        } => bench_jobs::bench(&root, &bench_jobs::ENGAGE, customers, aws_customers),
        Task::Train => churn::train(&root, &python::ensure_venv(&root)?),
        Task::Retrain { data_dir } => {
            churn::retrain(&root, &python::ensure_venv(&root)?, &data_dir)
        }
        Task::BenchChurn => churn::bench(&root, &python::ensure_venv(&root)?),
        Task::EvalRecommend => recommend::evaluate(&root),
        Task::Package { arch } => {
            package::package(&root, &python::ensure_venv(&root)?, arch).map(drop)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn demo(root: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let venv = python::ensure_venv(root)?;
    let cdnow = venv.package_file("lifetimes", "datasets/CDNOW_master.txt")?;
    let superstore = datasets::superstore(root)?;
    run(Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "strata-local",
            "--bin",
            "strata",
            "--",
            "demo",
        ])
        .arg("--cdnow")
        .arg(&cdnow)
        .arg("--superstore")
        .arg(&superstore)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--fresh")
        .env(churn::ORT_DYLIB_VAR, churn::ort_library(&venv)?))
}

pub(crate) fn step(name: &str) {
    println!("\n== xtask: {name}");
}

pub(crate) fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}
