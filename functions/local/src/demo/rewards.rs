//! The demo's rewards figures: what the imported orders earned, read from
//! every customer's balance after the value job expired what had expired by
//! the day after the last order.

use std::collections::BTreeMap;

use strata_domain::customer::Tier;
use strata_domain::ids::CustomerId;
use strata_domain::ports::table::Value;
use strata_store::RecordKind;

use crate::host::Host;

/// Points across the shop, as the balances hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewardsStanding {
    /// Customers with a balance item (everyone who earned anything).
    pub customers: u64,
    pub earned: i64,
    /// Expired (and otherwise debited) points.
    pub debited: i64,
    /// What the balances hold now.
    pub outstanding: i64,
    /// Balance per tier: customers and points.
    pub by_tier: BTreeMap<Option<Tier>, (u64, i64)>,
    /// The largest balances: customer, tier, balance.
    pub top: Vec<(CustomerId, Option<Tier>, i64)>,
}

const SEGMENTS: u32 = 4;
const TOP: usize = 3;

/// Reads every balance (a parallel scan's segments in turn) and each
/// holder's tier.
pub async fn standing(host: &Host) -> anyhow::Result<RewardsStanding> {
    let mut balances: Vec<(CustomerId, i64, i64, i64)> = Vec::new();
    for segment in 0..SEGMENTS {
        let mut start = None;
        loop {
            let page = host
                .table
                .scan(segment, SEGMENTS, start, Some(1_000))
                .await?;
            for item in &page.items {
                if RecordKind::of(item) != Some(RecordKind::PointsBalance) {
                    continue;
                }
                let number = |name: &str| item.get(name).and_then(Value::as_i64).unwrap_or(0);
                let customer = item
                    .get("pk")
                    .and_then(Value::as_str)
                    .and_then(|pk| pk.strip_prefix("CUST#"))
                    .and_then(|id| CustomerId::parse("pk", id).ok());
                if let Some(customer) = customer {
                    balances.push((
                        customer,
                        number("balance"),
                        number("earned"),
                        number("debited"),
                    ));
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    let profiles = strata_store::CustomerRepository::pseudonymous(host.table.clone());
    let ids: Vec<CustomerId> = balances.iter().map(|b| b.0).collect();
    let mut tiers = BTreeMap::new();
    for chunk in ids.chunks(100) {
        for (id, profile) in profiles.get_many(chunk).await? {
            tiers.insert(id, profile.tier);
        }
    }
    let mut standing = RewardsStanding::default();
    for (customer, balance, earned, debited) in &balances {
        standing.customers += 1;
        standing.earned += earned;
        standing.debited += debited;
        standing.outstanding += balance;
        let tier = tiers.get(customer).copied().flatten();
        let entry = standing.by_tier.entry(tier).or_default();
        entry.0 += 1;
        entry.1 += balance;
    }
    balances.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    standing.top = balances
        .iter()
        .take(TOP)
        .map(|(id, balance, _, _)| (*id, tiers.get(id).copied().flatten(), *balance))
        .collect();
    Ok(standing)
}
