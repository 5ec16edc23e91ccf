//! `cargo bench -p strata-recommend`: the latency of one recommendation
//! request in process (profile + candidate list read through the table
//! port, decoded, ranked, answered) with a synthetic shop of 100,000
//! products and 1,000,000 customers, and the table reads per request.
//!
//! The table is in memory: each item is kept as zstd-compressed JSON, so a
//! read costs a decompression and a decode, as a DynamoDB read costs its
//! unmarshalling (network time is not in these figures). The model is
//! built by the same code as the job: co-purchase over every customer,
//! grey grades, lists for every node, a profile per customer.
//! Options: `--products N --customers M --requests R`. Run by `cargo test`
//! (without `--bench`) it uses 2,000 products and 5,000 customers; its
//! timings are then meaningless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
    WriteRequest,
};
use strata_domain::recommend::{
    Catalogue, CategoryScope, CoPurchase, CustomerFeatures, CustomerSignals, Model, ModelSettings,
    Ranking, Request,
};
use strata_recommend::api::{RecommendApi, answer};
use strata_recommend::catalogue;
use strata_store::{BatchPolicy, RecommendRepository};
use strata_tests::counting::CountingTable;

#[derive(Default)]
struct MemoryTable {
    items: RwLock<HashMap<Key, Vec<u8>>>,
}

fn unsupported(what: &str) -> TableError {
    TableError::InvalidRequest(format!("the benchmark's table does not {what}"))
}

impl MemoryTable {
    fn store(&self, item: Item) -> Result<(), TableError> {
        let key = Key::of(&item).ok_or_else(|| unsupported("take items without keys"))?;
        let json =
            serde_json::to_vec(&item).map_err(|e| TableError::InvalidRequest(e.to_string()))?;
        let packed = zstd::bulk::compress(&json, 1)
            .map_err(|e| TableError::InvalidRequest(e.to_string()))?;
        self.items
            .write()
            .map_err(|_| unsupported("survive a poisoned lock"))?
            .insert(key, packed);
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.items
            .read()
            .map(|m| m.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let items = self
            .items
            .read()
            .map_err(|_| unsupported("survive a poisoned lock"))?;
        let Some(packed) = items.get(key) else {
            return Ok(None);
        };
        let json = zstd::bulk::decompress(packed, 4 << 20)
            .map_err(|e| TableError::InvalidRequest(e.to_string()))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| TableError::InvalidRequest(e.to_string()))
    }

    async fn put(&self, item: Item, _: Option<Condition>) -> Result<(), TableError> {
        self.store(item)
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        _: Option<Condition>,
    ) -> Result<Item, TableError> {
        let item = update.apply(key, self.get(key).await?)?;
        self.store(item.clone())?;
        Ok(item)
    }

    async fn delete(&self, _: &Key, _: Option<Condition>) -> Result<(), TableError> {
        Err(unsupported("delete"))
    }

    async fn query(&self, _: Query) -> Result<Page, TableError> {
        Err(unsupported("query"))
    }

    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        for write in writes {
            match write {
                WriteRequest::Put(item) => self.store(item)?,
                WriteRequest::Delete(_) => return Err(unsupported("delete")),
            }
        }
        Ok(Vec::new())
    }

    async fn batch_get(&self, _: Vec<Key>) -> Result<BatchGot, TableError> {
        Err(unsupported("batch reads"))
    }

    async fn transact_write(&self, _: Vec<TransactOp>) -> Result<(), TableError> {
        Err(unsupported("transactions"))
    }

    async fn scan(
        &self,
        _: u32,
        _: u32,
        _: Option<Cursor>,
        _: Option<u32>,
    ) -> Result<Page, TableError> {
        Err(unsupported("scan"))
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Customers who buy one to five products, mostly in a favourite level-3
/// category, popular products more often (a skewed draw).
fn shopper(
    rng: &mut StdRng,
    catalogue: &[strata_domain::product::Product],
    as_of: DateTime<Utc>,
    settings: &ModelSettings,
) -> CustomerSignals {
    let categories = 2_000;
    let favourite = (rng.random::<f64>().powi(2) * categories as f64) as usize;
    let mut bought = BTreeMap::new();
    for _ in 0..rng.random_range(1..=5) {
        let n = if rng.random_bool(0.7) {
            favourite
                + categories
                    * (rng.random::<f64>().powi(3) * (catalogue.len() / categories) as f64) as usize
        } else {
            (rng.random::<f64>().powi(3) * catalogue.len() as f64) as usize
        };
        let at = as_of - Duration::days(rng.random_range(1..365));
        bought.insert(catalogue[n.min(catalogue.len() - 1)].id.clone(), at);
    }
    let seeds = bought
        .iter()
        .map(|(id, at)| (id.clone(), settings.decay(as_of, *at)))
        .collect();
    let (ids, times): (Vec<_>, Vec<_>) = bought.into_iter().unzip();
    CustomerSignals {
        customer_id: CustomerId::generate(),
        features: CustomerFeatures {
            recency_days: times
                .iter()
                .map(|t| (as_of - *t).num_days() as f64)
                .reduce(f64::min),
            orders: ids.len() as f64,
            spend: rng.random_range(1_000.0..200_000.0),
            breadth: 1.0,
            interactions: f64::from(rng.random_range(0..4u8)),
            rating: None,
        },
        bought: ids,
        last_bought: times,
        seeds,
        exclude: BTreeSet::new(),
        disliked_brands: BTreeSet::new(),
        preferences: Vec::new(),
        personalised: true,
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // `cargo test` runs this without `--bench`: a small store keeps it working.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let products = arg("--products", if benchmarking { 100_000 } else { 2_000 });
    let customers = arg("--customers", if benchmarking { 1_000_000 } else { 5_000 });
    let requests = arg("--requests", if benchmarking { 20_000 } else { 200 });
    let as_of: DateTime<Utc> = "2026-11-20T03:00:00Z".parse()?;
    let settings = ModelSettings::default();
    let started = Instant::now();
    let products_list = catalogue::synthetic(products, 7);
    let mut rng = StdRng::seed_from_u64(11);
    let mut counts = CoPurchase::default();
    let mut ids = Vec::with_capacity(customers);
    let mut signals = Vec::with_capacity(customers);
    for _ in 0..customers {
        let s = shopper(&mut rng, &products_list, as_of, &settings);
        counts.add(&s, &settings, as_of);
        ids.push(s.customer_id);
        signals.push(s);
    }
    let mut model = Model::build(Catalogue::new(products_list), counts, settings, as_of);
    let features: Vec<_> = signals.iter().map(|s| s.features).collect();
    model.grade_customers(&features);
    let table = Arc::new(MemoryTable::default());
    let repository = RecommendRepository::new(table.clone());
    let lists: Vec<_> = model
        .scopes()
        .filter_map(|s| model.candidate_list(s))
        .collect();
    repository.put_lists(&lists, BatchPolicy::default()).await?;
    let mut profile_bytes = 0usize;
    for chunk in signals.chunks(10_000) {
        let profiles: Vec<_> = chunk.iter().filter_map(|s| model.profile(s)).collect();
        profile_bytes += profiles
            .iter()
            .map(|p| serde_json::to_vec(p).map_or(0, |v| v.len()))
            .sum::<usize>();
        repository.put_profiles(&profiles).await?;
    }
    drop(signals);
    println!(
        "store: {products} products, {customers} customers, {} candidate lists; mean profile {:.0} bytes of JSON; {:.0} MB compressed in memory; built in {:.0} s",
        lists.len(),
        profile_bytes as f64 / customers as f64,
        table.bytes() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let metered = Arc::new(CountingTable::new(table.clone()));
    let api = RecommendApi::new(metered.clone());
    let request = Request {
        limit: 10,
        filter: None,
        ranking: Ranking::Full,
    };
    let mut latencies = Vec::with_capacity(requests);
    let mut reads = Vec::with_capacity(requests);
    let mut levels: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..requests + 1_000 {
        let id = ids[rng.random_range(0..ids.len())];
        metered.reset();
        let start = Instant::now();
        let answer = answer(&api, id, &request)
            .await
            .map_err(|p| anyhow::anyhow!("request failed: {p:?}"))?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        if n >= 1_000 {
            // the first thousand warm the caches
            latencies.push(elapsed);
            reads.push(metered.counts().reads());
            let level = answer
                .served_by
                .map_or("none".to_owned(), |l| l.name().to_owned());
            *levels.entry(level).or_default() += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let max_reads = reads.iter().max().copied().unwrap_or(0);
    let mean_reads = reads.iter().sum::<u64>() as f64 / reads.len() as f64;
    println!(
        "one request (limit 10), {requests} requests: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    println!("table reads per request: mean {mean_reads:.2}, max {max_reads}");
    anyhow::ensure!(
        max_reads <= 2,
        "the online path must read at most two table items per request"
    );
    println!("served by: {levels:?}");
    let scope = CategoryScope::root();
    println!(
        "root list holds {} products",
        model
            .candidate_list(&scope)
            .map_or(0, |l| l.levels[0].products.len())
    );
    Ok(())
}
