//! `strata`: runs Strata locally on the embedded backend.

mod cdnow;
mod demo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strata",
    about = "Strata on one machine, on the embedded backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Loads the CDNOW transaction log into the embedded store and reports what it holds.
    Demo {
        /// The CDNOW_master.txt file (shipped in the PyPI package `lifetimes`).
        #[arg(long)]
        cdnow: PathBuf,
        /// Where the embedded store keeps its data; kept between runs.
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    strata_lambda_kit::logging::init();
    match Cli::parse().command {
        Command::Demo { cdnow, data_dir } => demo::run(&cdnow, &data_dir).await,
    }
}
