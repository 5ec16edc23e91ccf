//! A synthetic shop, stored through the repositories: customers with
//! e-mail and source-id lookups and an address, and their orders with lines
//! and order-number lookups. Used by the backup drills and benchmarks.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_domain::ReadOptions;
use strata_domain::customer::{AddressInput, Customer, CustomerInput, Origin, SourceInput};
use strata_domain::ids::{CustomerId, OrderId, ProductId};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderLine, OrderStatus};
use strata_domain::ports::table::{Item, Key, Table, WriteRequest};
use strata_store::{ActivityRepository, BatchPolicy, CustomerRepository, Privacy, write_all};

const NAMES: [&str; 8] = [
    "Ana Lima",
    "Bo Chen",
    "陈静",
    "Zoë Ødegaard",
    "Mehmet Yılmaz",
    "Priya Nair",
    "李雷",
    "Jo O'Neil",
];
const CITIES: [&str; 6] = ["Lisbon", "Shanghai", "Oslo", "Izmir", "Pune", "Cork"];

/// Items a customer with `orders` orders occupies: profile, e-mail and
/// source-id lookups, and per order the order and its number's lookup.
pub fn items_per_customer(orders: usize) -> usize {
    3 + 2 * orders
}

/// Customers (with their orders) for about `items` items.
pub fn customers_for_items(items: usize, orders_per_customer: usize) -> usize {
    items.div_ceil(items_per_customer(orders_per_customer))
}

pub struct Shop {
    pub customers: Vec<Customer>,
    pub orders: Vec<Order>,
}

impl Shop {
    pub fn items(&self) -> usize {
        self.customers.len() * 3 + self.orders.len() * 2
    }
}

/// `count` customers with `orders_per_customer` orders each; `seed` makes
/// the content (not the random customer ids) reproducible.
pub fn generate(count: usize, orders_per_customer: usize, seed: u64) -> anyhow::Result<Shop> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let origin = Origin {
        source: "dataset".into(),
        at: now,
    };
    let mut customers = Vec::with_capacity(count);
    let mut orders = Vec::with_capacity(count * orders_per_customer);
    for n in 0..count {
        let input = CustomerInput {
            name: Some(NAMES[n % NAMES.len()].to_owned()),
            email: Some(format!("customer{n}.{seed}@example.com")),
            address: Some(AddressInput {
                country: Some("PT".into()),
                city: Some(CITIES[rng.random_range(0..CITIES.len())].into()),
                street: Some(format!("Rua {} {}", rng.random_range(1..400), n % 97)),
                postal_code: Some(format!(
                    "{:04}-{:03}",
                    rng.random_range(1000..9999),
                    n % 1000
                )),
                ..AddressInput::default()
            }),
            source: Some(SourceInput {
                source: "shop".into(),
                external_id: format!("S{seed}-{n}"),
            }),
            ..CustomerInput::default()
        };
        let valid = input
            .validate(&ReadOptions::default(), now)
            .map_err(|e| anyhow::anyhow!("customer {n}: {e}"))?;
        let customer = Customer::create(CustomerId::generate(), valid, &origin);
        for k in 0..orders_per_customer {
            orders.push(order(
                &mut rng,
                customer.id,
                &format!("O{seed}-{n}-{k}"),
                now,
            )?);
        }
        customers.push(customer);
    }
    Ok(Shop { customers, orders })
}

fn order(
    rng: &mut StdRng,
    customer: CustomerId,
    number: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Order> {
    let usd = |minor: i64| Money {
        minor,
        currency: Currency::USD,
    };
    let lines: Vec<OrderLine> = (0..rng.random_range(1..4))
        .map(|_| {
            let quantity = rng.random_range(1..4u32);
            let unit = rng.random_range(199..9_999i64);
            Ok(OrderLine {
                product_id: ProductId::parse(
                    "product",
                    &format!("SKU-{}", rng.random_range(1..5000)),
                )?,
                quantity,
                unit_price: usd(unit),
                total: usd(unit * i64::from(quantity)),
            })
        })
        .collect::<Result<_, strata_domain::FieldError>>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Order {
        id: OrderId::parse("order", number).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        customer_id: customer,
        placed_at: now - Duration::minutes(rng.random_range(0..500_000)),
        status: OrderStatus::Paid,
        item_count: lines.iter().map(|l| l.quantity).sum(),
        total: usd(lines.iter().map(|l| l.total.minor).sum()),
        lines,
        coupon: None,
    })
}

/// Stores the shop with its personal fields sealed under keys in a key
/// table kept for the whole test process: for tests that work on raw items
/// (tiering, backups) and never read a profile's identity back.
pub async fn load(
    table: Arc<dyn Table>,
    shop: &Shop,
    policy: BatchPolicy,
) -> anyhow::Result<usize> {
    load_with(table, process_privacy().await?, shop, policy).await
}

/// The key table `load` seals with, shared by the whole test process.
pub async fn process_privacy() -> anyhow::Result<Arc<Privacy>> {
    static KEYS: tokio::sync::OnceCell<(tempfile::TempDir, Arc<Privacy>)> =
        tokio::sync::OnceCell::const_new();
    let (_, privacy) = KEYS
        .get_or_try_init(|| async {
            let dir = tempfile::tempdir()?;
            let backend = strata_embedded::EmbeddedBackend::open(dir.path())?;
            let privacy =
                Privacy::open(Arc::new(backend.personal_keys), Arc::new(backend.key_table)).await?;
            anyhow::Ok((dir, privacy))
        })
        .await?;
    Ok(privacy.clone())
}

/// Stores the shop through the repositories' bulk writers, in slices so
/// that memory stays bounded; returns the items written.
pub async fn load_with(
    table: Arc<dyn Table>,
    privacy: Arc<Privacy>,
    shop: &Shop,
    policy: BatchPolicy,
) -> anyhow::Result<usize> {
    let customers = CustomerRepository::new(table.clone(), privacy);
    let activity = ActivityRepository::new(table);
    let mut written = 0;
    for slice in shop.customers.chunks(5_000) {
        written += customers.put_many(slice, policy).await?.items;
    }
    for slice in shop.orders.chunks(5_000) {
        written += activity.put_orders(slice, policy).await?.items;
    }
    Ok(written)
}

/// Everything a table holds, by key.
pub async fn dump(table: &dyn Table) -> anyhow::Result<BTreeMap<Key, Item>> {
    const SEGMENTS: u32 = 4;
    let parts: Vec<Vec<Item>> = stream::iter(0..SEGMENTS)
        .map(|segment| async move {
            let mut items = Vec::new();
            let mut start = None;
            loop {
                let page = table.scan(segment, SEGMENTS, start, None).await?;
                items.extend(page.items);
                match page.next {
                    Some(next) => start = Some(next),
                    None => return Ok::<_, anyhow::Error>(items),
                }
            }
        })
        .buffer_unordered(SEGMENTS as usize)
        .try_collect()
        .await?;
    parts
        .into_iter()
        .flatten()
        .map(|item| Ok((Key::of(&item).context("an item without a key")?, item)))
        .collect()
}

/// Deletes every item.
pub async fn wipe(table: &dyn Table) -> anyhow::Result<usize> {
    let keys: Vec<WriteRequest> = dump(table)
        .await?
        .into_keys()
        .map(WriteRequest::Delete)
        .collect();
    let count = keys.len();
    write_all(table, keys, BatchPolicy::default()).await?;
    Ok(count)
}
