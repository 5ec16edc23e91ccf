//! `strata tiering`: `report` (monthly cost before/after for a shop, from
//! published prices and measured sizes) and `run` (one tiering run on a
//! local embedded store, e.g. the demo's).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use strata_domain::ports::blob::BlobStore;
use strata_domain::ports::table::Table;
use strata_store::TieringRepository;
use strata_store::cold::ColdTier;
use strata_tiering::job::{self, JobSettings};
use strata_tiering::report::{self, Shape, US_EAST_1_2026_11_22};

#[derive(Subcommand)]
pub enum Command {
    /// Monthly storage cost before and after tiering (us-east-1 prices).
    Report {
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Orders, interactions and reviews per customer.
        #[arg(long, default_value_t = Shape::default().records_per_customer)]
        records_per_customer: f64,
        /// Hot bytes per record (`cargo bench -p strata-tiering` prints it).
        #[arg(long, default_value_t = Shape::default().hot_bytes_per_record)]
        hot_bytes: f64,
        /// Cold bytes per record (the benchmark prints it).
        #[arg(long, default_value_t = Shape::default().cold_bytes_per_record)]
        cold_bytes: f64,
        #[arg(long, default_value_t = Shape::default().records_per_object)]
        records_per_object: f64,
        /// Share of records the policy makes cold, 0 to 1.
        #[arg(long, default_value_t = Shape::default().cold_share)]
        cold_share: f64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One tiering run on an embedded store (cold objects in its blob store).
    Run {
        #[arg(long)]
        data_dir: PathBuf,
        /// Judge records as of this time (RFC 3339); now by default.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Smallest object written, in bytes (compressed).
        #[arg(long, default_value_t = JobSettings::default().min_object_bytes)]
        min_object_bytes: usize,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Report {
            customers,
            records_per_customer,
            hot_bytes,
            cold_bytes,
            records_per_object,
            cold_share,
            json,
        } => {
            let shape = Shape {
                customers,
                records_per_customer,
                hot_bytes_per_record: hot_bytes,
                cold_bytes_per_record: cold_bytes,
                records_per_object,
                cold_share: cold_share.clamp(0.0, 1.0),
                ..Shape::default()
            };
            let estimate = report::estimate(shape, &US_EAST_1_2026_11_22);
            if json {
                println!("{}", serde_json::to_string_pretty(&estimate)?);
            } else {
                print!("{}", report::render(&estimate));
            }
        }
        Command::Run {
            data_dir,
            as_of,
            min_object_bytes,
        } => {
            let backend = strata_embedded::EmbeddedBackend::open(&data_dir)?;
            let table: Arc<dyn Table> = Arc::new(backend.table);
            let blobs: Arc<dyn BlobStore> = Arc::new(backend.blobs);
            let key_table: Arc<dyn Table> = Arc::new(backend.key_table);
            let repo =
                TieringRepository::new(table, ColdTier::new(blobs)).with_retention_keys(key_table);
            let settings = JobSettings {
                min_object_bytes,
                ..JobSettings::default()
            };
            let report = job::run(repo, settings, as_of.unwrap_or_else(Utc::now)).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}
