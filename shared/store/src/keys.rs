//! The single-table key design. This module is the only place that knows
//! what goes into `pk`, `sk` and the index keys; ARCHITECTURE.md documents it.
//!
//! | record       | pk                       | sk                                   | gsi1pk / gsi1sk              | gsi2pk / gsi2sk               |
//! |--------------|--------------------------|--------------------------------------|------------------------------|-------------------------------|
//! | customer     | `CUST#<id>`              | `PROFILE`                            | `TIER#<tier>` / `<id>`       | `SEGMENT#<seg>` / `<id>`      |
//! | order        | `CUST#<id>`              | `ORDER#<placed_at>#<order id>`       |                              |                               |
//! | interaction  | `CUST#<id>`              | `INTERACTION#<at>#<interaction id>`  |                              |                               |
//! | review       | `CUST#<id>`              | `REVIEW#<at>#<review id>`            | `PRODUCT#<product>` / `<at>` |                               |
//! | lookup       | `EMAIL#<hmac>`/`PHONE#<hmac>`/`EXT#<source>#<hmac>`/`ORDERID#<id>` | `LOOKUP` |                   |                               |
//! | product      | `PRODUCT#<id>`           | `PRODUCT`                            | `CATEGORY#<l1>#<l2>#<l3>` / `<id>` |                         |
//! | merge log    | `CUST#<id>`              | `MERGE#<at>#<id>`                    |                              |                               |
//! | import       | `IMPORT#<import id>`     | `STATE`                              | `IMPORTS` / `<started_at>`   |                               |
//! | idempotency  | `IDEMPOTENCY#<key>`      | `REQUEST`                            |                              |                               |
//! | churn score  | `CUST#<id>`              | `CHURN`                              | `RISK#<band>` / `<1e6 - p·1e6, 7 digits>#<id>` (high, medium only) |  |
//! | churn month  | `STATS#churn`            | `MONTH#<yyyy-mm>`                    |                              |                               |
//! | model pointer| `MODEL#<name>`           | `CURRENT`                            |                              |                               |
//! | config       | `CONFIG#<name>`          | `CURRENT`                            |                              |                               |
//! | cold pointer | `CUST#<id>`              | `COLD#<object id>#<chunk, 3 digits>` |                              |                               |
//! | tiering journal | `TIERING#pending`     | `<object key>`                       |                              |                               |
//! | reco profile | `CUST#<id>`              | `RECO`                               |                              |                               |
//! | reco miss    | `CUST#<id>`              | `RECOMISS#<at>`                      | `RECOMISS#<yyyy-mm-dd>` / `<at>#<id>` |                      |
//! | reco list    | `RECLIST` (root) · `RECLIST#<l1>[#<l2>[#<l3>]]` | `LIST`        |                              |                               |
//! | reco similar | `PRODUCT#<id>`           | `SIMILAR`                            |                              |                               |
//! | assignment   | `CUST#<id>`              | `ASSIGNMENT`                         | `SALES#<salesperson>` / `<assigned_at>#<id>` |               |
//! | audit entry  | `AUDIT#<customer id>`    | `<at>#<request id>`                  |                              |                               |
//! | consent      | `CUST#<id>`              | `CONSENT#<at>#<purpose>#<16 hex>`    |                              |                               |
//! | erasure due  | `CUST#<id>`              | `ERASUREDUE`                         | `ERASUREDUE` / `<due at>#<id>` |                             |
//! | tier change  | `CUST#<id>`              | `TIERCHG#<at>#<change id>`           | `TIERMOVE#<yyyy-mm>` / `<at>#<id>` |                         |
//! | points balance | `CUST#<id>`            | `POINTS`                             |                              |                               |
//! | points entry | `CUST#<id>`              | `PTS#<at>#<entry id>`                |                              | `PTSEXP#<shard>` / `<expires>#<id>#<entry>` (lots the expiry run has not dealt with) |
//! | points guard | `CUST#<id>`              | `PTSSRC#<kind>#<source>`             |                              |                               |
//! | coupon       | `CUST#<id>`              | `COUPON#<code>`                      |                              | `CPNEXP#<shard>` / `<expires>#<id>#<code>` (while issued) |
//! | referral link| `CUST#<id>`              | `REFERRAL`                           |                              |                               |
//! | referral code| `REFCODE#<code>`         | `REFCODE`                            |                              |                               |
//! | coupon template | `COUPONTPL`           | `<template id>`                      |                              |                               |
//! | coupon issue | `COUPONISSUE`            | `<issue id>`                         |                              |                               |
//! | salesperson  | `SALESTEAM`              | `PERSON#<id>`                        |                              |                               |
//! | team         | `SALESTEAM`              | `TEAM#<id>`                          |                              |                               |
//! | segment change | `CUST#<id>`            | `SEGCHG#<at>#<change id>`            | `SEGMOVE#<yyyy-mm-dd>` / `<at>#<id>` |                       |
//! | segment sizes | `STATS#segments`        | `DAY#<yyyy-mm-dd>`                   |                              |                               |
//! | strategy     | `STRATEGY`               | `<segment id>`                       |                              |                               |
//!
//! The key table (a separate table, outside backups): `DATAKEY#<customer id>`
//! / `CURRENT` holds a customer's wrapped data key, `SERVICEKEY#<name>` /
//! `CURRENT` a service key (the blind index's), `MONTHKEY#<kind>` /
//! `MONTH#<yyyy-mm>` the retention key of one kind of text from one month
//! (a tombstone without key once the month is past its limit).
//!
//! Cold objects (blob keys): `cold/activity/period=<yyyy-mm>/<object id>.jsonl.gz`.

use chrono::{DateTime, SecondsFormat, Utc};
use strata_domain::churn::RiskBand;
use strata_domain::customer::Tier;
use strata_domain::ids::{CustomerId, OrderId, ProductId, SalespersonId};
use strata_domain::ports::table::{Key, SortCondition};
use strata_domain::product::CategoryPath;
use strata_domain::recommend::CategoryScope;
use strata_domain::retention::{RetainedData, RetentionMonth};

use crate::personal::BlindIdentifier;

pub const PROFILE_SK: &str = "PROFILE";
pub const LOOKUP_SK: &str = "LOOKUP";
pub const PRODUCT_SK: &str = "PRODUCT";
pub const ORDER_PREFIX: &str = "ORDER#";
pub const INTERACTION_PREFIX: &str = "INTERACTION#";
pub const REVIEW_PREFIX: &str = "REVIEW#";
pub const MERGE_PREFIX: &str = "MERGE#";
pub const IMPORTS_PARTITION: &str = "IMPORTS";
pub const CUSTOMER_PREFIX: &str = "CUST#";
pub const CHURN_SK: &str = "CHURN";
pub const CHURN_STATS_PARTITION: &str = "STATS#churn";
pub const MONTH_PREFIX: &str = "MONTH#";
pub const COLD_PREFIX: &str = "COLD#";
pub const TIERING_JOURNAL_PARTITION: &str = "TIERING#pending";
/// Prefix of the cold tier's objects; lifecycle rules and the Glue table
/// point at it.
pub const COLD_OBJECT_PREFIX: &str = "cold/activity/";

/// `#` separates key parts, so values that may contain it are escaped (`%23`),
/// as is the escape character itself (`%25`).
pub fn escape(part: &str) -> String {
    if part.contains(['#', '%']) {
        part.replace('%', "%25").replace('#', "%23")
    } else {
        part.to_owned()
    }
}

/// Fixed-width UTC time, so sort keys order chronologically as strings.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn customer_partition(id: CustomerId) -> String {
    format!("{CUSTOMER_PREFIX}{id}")
}

pub fn customer(id: CustomerId) -> Key {
    Key::new(customer_partition(id), PROFILE_SK)
}

/// The customer whose partition this is, for items read by a scan.
pub fn customer_of_partition(pk: &str) -> Option<CustomerId> {
    let id = pk.strip_prefix(CUSTOMER_PREFIX)?;
    CustomerId::parse("pk", id).ok()
}

pub fn churn_score(id: CustomerId) -> Key {
    Key::new(customer_partition(id), CHURN_SK)
}

pub fn risk_partition(band: RiskBand) -> String {
    format!("RISK#{}", band.name())
}

/// Sorts the riskiest first when read in ascending order: one minus the
/// probability in millionths, zero-padded, then the id to keep keys unique.
pub fn risk_sort(probability: f64, id: CustomerId) -> String {
    let millionths = (probability.clamp(0.0, 1.0) * 1e6).round() as u32;
    format!("{:07}#{id}", 1_000_000 - millionths)
}

pub fn churn_month(month: &str) -> Key {
    Key::new(
        CHURN_STATS_PARTITION,
        format!("{MONTH_PREFIX}{}", escape(month)),
    )
}

pub fn model_pointer(name: &str) -> Key {
    Key::new(format!("MODEL#{}", escape(name)), "CURRENT")
}

pub fn config(name: &str) -> Key {
    Key::new(format!("CONFIG#{}", escape(name)), "CURRENT")
}

/// Where one chunk (at most 99 records) of a customer's share of a cold
/// object is listed. Object ids sort by the run that wrote them.
pub fn cold_pointer(customer: CustomerId, object_id: &str, chunk: u32) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{COLD_PREFIX}{}#{chunk:03}", escape(object_id)),
    )
}

/// An object the tiering job is moving records into and has not finished.
pub fn tiering_journal(object_key: &str) -> Key {
    Key::new(TIERING_JOURNAL_PARTITION, escape(object_key))
}

/// The blob key of a cold object: partitioned by period for Athena
/// (`period=` is a Hive-style partition the Glue table projects).
pub fn cold_object(period: &str, object_id: &str) -> String {
    format!("{COLD_OBJECT_PREFIX}period={period}/{object_id}.jsonl.gz")
}

/// The order number in an order's sort key (as a cold pointer lists it).
pub fn order_id_of_sort_key(sk: &str) -> Option<OrderId> {
    let (_placed_at, escaped) = sk.strip_prefix(ORDER_PREFIX)?.split_once('#')?;
    let raw = escaped.replace("%23", "#").replace("%25", "%");
    OrderId::parse("order", &raw).ok()
}

pub fn order(customer: CustomerId, placed_at: DateTime<Utc>, order: &OrderId) -> Key {
    Key::new(
        customer_partition(customer),
        format!(
            "{ORDER_PREFIX}{}#{}",
            time(placed_at),
            escape(order.as_str())
        ),
    )
}

pub fn interaction(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{INTERACTION_PREFIX}{}#{}", time(at), escape(id)),
    )
}

pub fn review(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{REVIEW_PREFIX}{}#{}", time(at), escape(id)),
    )
}

pub fn merge(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{MERGE_PREFIX}{}#{}", time(at), escape(id)),
    )
}

pub fn import(id: &str) -> Key {
    Key::new(format!("IMPORT#{}", escape(id)), "STATE")
}

pub fn idempotency(key: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{}", escape(key)), "REQUEST")
}

/// Lookups are keyed by the blind index (a keyed hash), never by the value.
pub fn lookup(identifier: &BlindIdentifier) -> Key {
    let pk = match identifier {
        BlindIdentifier::Email(digest) => format!("EMAIL#{digest}"),
        BlindIdentifier::Phone(digest) => format!("PHONE#{digest}"),
        BlindIdentifier::External { source, digest } => {
            format!("EXT#{}#{digest}", escape(source))
        }
    };
    Key::new(pk, LOOKUP_SK)
}

/// In the key table (never in the main table, never in a backup): a
/// customer's wrapped data key.
pub fn customer_data_key(customer: CustomerId) -> Key {
    Key::new(format!("DATAKEY#{customer}"), "CURRENT")
}

/// In the key table: a wrapped key the service itself uses (the blind index).
pub fn service_data_key(name: &str) -> Key {
    Key::new(format!("SERVICEKEY#{}", escape(name)), "CURRENT")
}

/// In the key table: the key every copy of one kind of data from one month
/// is sealed under too; one partition per kind, so a sweep lists them.
pub fn retention_month_key(month: &RetentionMonth) -> Key {
    Key::new(
        retention_month_partition(month.data),
        format!("MONTH#{:04}-{:02}", month.year, month.month),
    )
}

pub fn retention_month_partition(data: RetainedData) -> String {
    format!("MONTHKEY#{}", data.name())
}

/// The month a `retention_month_key` names.
pub fn retention_month_of(key: &Key) -> Option<RetentionMonth> {
    let data = key.pk.strip_prefix("MONTHKEY#")?;
    let month = key.sk.strip_prefix("MONTH#")?;
    RetentionMonth::parse(&format!("{data}/{month}"))
}

pub fn order_lookup(order: &OrderId) -> Key {
    Key::new(format!("ORDERID#{}", escape(order.as_str())), LOOKUP_SK)
}

pub fn tier_partition(tier: Tier) -> String {
    format!("TIER#{}", tier.name())
}

pub const TIER_CHANGE_PREFIX: &str = "TIERCHG#";

pub const POINTS_ENTRY_PREFIX: &str = "PTS#";
pub const COUPON_PREFIX: &str = "COUPON#";
pub const COUPON_TEMPLATES_PARTITION: &str = "COUPONTPL";
pub const COUPON_ISSUES_PARTITION: &str = "COUPONISSUE";

/// A customer's points balance.
pub fn points_balance(customer: CustomerId) -> Key {
    Key::new(customer_partition(customer), "POINTS")
}

/// One entry of a customer's points ledger, in time order.
pub fn points_entry(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{POINTS_ENTRY_PREFIX}{}#{}", time(at), escape(id)),
    )
}

/// The one entry a kind of credit or debit may have per source.
pub fn points_guard(customer: CustomerId, source_key: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("PTSSRC#{}", escape(source_key)),
    )
}

/// Expiry indexes are spread over this many partitions (by customer), so
/// an import's burst of lots does not land on one index partition; a run
/// reads each shard's entries due by its time.
pub const EXPIRY_SHARDS: u32 = 16;

fn expiry_shard(customer: CustomerId) -> u32 {
    (customer.as_u128() % u128::from(EXPIRY_SHARDS)) as u32
}

/// The expiry index partition of a customer's lots.
pub fn points_expiry_shard(customer: CustomerId) -> String {
    format!("PTSEXP#{:02}", expiry_shard(customer))
}

pub fn points_expiry_partition(shard: u32) -> String {
    format!("PTSEXP#{shard:02}")
}

pub fn points_expiry_sort(customer: CustomerId, expires_at: DateTime<Utc>, entry: &str) -> String {
    format!("{}#{customer}#{}", time(expires_at), escape(entry))
}

pub fn coupon(customer: CustomerId, code: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{COUPON_PREFIX}{}", escape(code)),
    )
}

/// The expiry index partition of a customer's issued coupons.
pub fn coupon_expiry_shard(customer: CustomerId) -> String {
    format!("CPNEXP#{:02}", expiry_shard(customer))
}

pub fn coupon_expiry_partition(shard: u32) -> String {
    format!("CPNEXP#{shard:02}")
}

pub fn coupon_expiry_sort(customer: CustomerId, expires_at: DateTime<Utc>, code: &str) -> String {
    format!("{}#{customer}#{}", time(expires_at), escape(code))
}

pub fn coupon_template(id: &str) -> Key {
    Key::new(COUPON_TEMPLATES_PARTITION, escape(id))
}

pub fn coupon_issue(id: &str) -> Key {
    Key::new(COUPON_ISSUES_PARTITION, escape(id))
}

/// Whom a customer was referred by.
pub fn referral_link(customer: CustomerId) -> Key {
    Key::new(customer_partition(customer), "REFERRAL")
}

/// Whose a referral code is.
pub fn referral_code(code: &str) -> Key {
    Key::new(format!("REFCODE#{}", escape(code)), "REFCODE")
}

/// One change of a customer's tier, beside the profile (erasure takes it).
pub fn tier_change(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{TIER_CHANGE_PREFIX}{}#{}", time(at), escape(id)),
    )
}

/// The index partition listing one month's tier changes (`yyyy-mm`).
pub fn tier_movement_month(month: &str) -> String {
    format!("TIERMOVE#{}", escape(month))
}

pub fn tier_movement_sort(customer: CustomerId, at: DateTime<Utc>) -> String {
    format!("{}#{customer}", time(at))
}

/// The sales team's directory: every salesperson and team in one small
/// partition (tens to hundreds of items), read whole.
pub const SALES_TEAM: &str = "SALESTEAM";
pub const SALESPERSON_PREFIX: &str = "PERSON#";
pub const TEAM_PREFIX: &str = "TEAM#";

pub fn salesperson(id: &SalespersonId) -> Key {
    Key::new(
        SALES_TEAM,
        format!("{SALESPERSON_PREFIX}{}", escape(id.as_str())),
    )
}

pub fn team(id: &strata_domain::ids::TeamId) -> Key {
    Key::new(SALES_TEAM, format!("{TEAM_PREFIX}{}", escape(id.as_str())))
}

pub const SEGMENT_CHANGE_PREFIX: &str = "SEGCHG#";

pub fn segment_change(customer: CustomerId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{SEGMENT_CHANGE_PREFIX}{}#{}", time(at), escape(id)),
    )
}

/// The day index of segment entries and exits.
pub fn segment_movement_day(day: &str) -> String {
    format!("SEGMOVE#{}", escape(day))
}

pub fn segment_movement_sort(customer: CustomerId, at: DateTime<Utc>) -> String {
    format!("{}#{customer}", time(at))
}

pub const SEGMENT_STATS: &str = "STATS#segments";

/// Every segment's strategy, one item each.
pub const STRATEGIES: &str = "STRATEGY";

pub fn strategy(segment: &str) -> Key {
    Key::new(STRATEGIES, escape(segment))
}

/// The sizes the nightly run counted on one day.
pub fn segment_sizes(day: &str) -> Key {
    Key::new(SEGMENT_STATS, format!("DAY#{}", escape(day)))
}

pub fn segment_partition(segment: &str) -> String {
    format!("SEGMENT#{}", escape(segment))
}

pub fn product(id: &ProductId) -> Key {
    Key::new(format!("PRODUCT#{}", escape(id.as_str())), PRODUCT_SK)
}

pub fn product_reviews_partition(id: &ProductId) -> String {
    format!("PRODUCT#{}", escape(id.as_str()))
}

/// A customer's precomputed recommendation profile, beside the profile
/// (so the job never conflicts with profile writes, and erasure takes it).
pub fn reco_profile(id: CustomerId) -> Key {
    Key::new(customer_partition(id), "RECO")
}

pub const RECO_MISS_PREFIX: &str = "RECOMISS#";

/// A recommendation request that no level could serve.
pub fn reco_miss(customer: CustomerId, at: DateTime<Utc>) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{RECO_MISS_PREFIX}{}", time(at)),
    )
}

/// The index partition listing one day's misses (`yyyy-mm-dd`).
pub fn reco_miss_day(day: &str) -> String {
    format!("{RECO_MISS_PREFIX}{}", escape(day))
}

pub fn reco_miss_sort(customer: CustomerId, at: DateTime<Utc>) -> String {
    format!("{}#{customer}", time(at))
}

/// The candidate list of a node of the category tree (`RECLIST` for the root).
pub fn reco_list(scope: &CategoryScope) -> Key {
    let mut pk = String::from("RECLIST");
    for name in scope.names() {
        pk.push('#');
        pk.push_str(&escape(name));
    }
    Key::new(pk, "LIST")
}

/// A product's most similar products, beside the product.
pub fn reco_similar(id: &ProductId) -> Key {
    Key::new(format!("PRODUCT#{}", escape(id.as_str())), "SIMILAR")
}

/// Which salesperson a customer is assigned to, beside the profile (erasure
/// takes it with the partition).
pub fn assignment(id: CustomerId) -> Key {
    Key::new(customer_partition(id), "ASSIGNMENT")
}

/// The index partition listing a salesperson's customers; the assignment
/// item carries it, so a re-assignment moves the customer to the new list.
pub fn salesperson_customers(salesperson: &SalespersonId) -> String {
    format!("SALES#{}", escape(salesperson.as_str()))
}

/// Orders a salesperson's list by when each customer was assigned.
pub fn salesperson_customers_sort(assigned_at: DateTime<Utc>, customer: CustomerId) -> String {
    format!("{}#{customer}", time(assigned_at))
}

/// One customer's audit entries, outside the customer partition so an
/// erasure leaves the record of who touched the data.
pub fn audit_partition(customer: CustomerId) -> String {
    format!("AUDIT#{customer}")
}

pub fn audit_entry(customer: CustomerId, at: DateTime<Utc>, request_id: &str) -> Key {
    Key::new(
        audit_partition(customer),
        format!("{}#{}", time(at), escape(request_id)),
    )
}

/// The first sort key at or after `at` in an audit partition.
pub fn audit_from(at: DateTime<Utc>) -> String {
    time(at)
}

/// A sort key after every entry at or before `at`.
pub fn audit_to(at: DateTime<Utc>) -> String {
    format!("{}#~", time(at))
}

pub const CONSENT_PREFIX: &str = "CONSENT#";

/// One decision in a customer's consent ledger, beside the profile (erasure
/// takes it with the partition). Ordered by when the customer decided; the
/// digest of the whole decision makes an identical decision the same key.
pub fn consent(customer: CustomerId, at: DateTime<Utc>, purpose: &str, digest: &str) -> Key {
    Key::new(
        customer_partition(customer),
        format!("{CONSENT_PREFIX}{}#{}#{digest}", time(at), escape(purpose)),
    )
}

/// A customer inactive past the retention limit, waiting for the erasure
/// job: in their partition (erased with it), listed by `gsi1` in one
/// partition ordered by when they became due.
pub fn erasure_due(customer: CustomerId) -> Key {
    Key::new(customer_partition(customer), "ERASUREDUE")
}

pub const ERASURE_DUE_PARTITION: &str = "ERASUREDUE";

pub fn erasure_due_sort(due_at: DateTime<Utc>, customer: CustomerId) -> String {
    format!("{}#{customer}", time(due_at))
}

/// Every marker due at or before `at` (key parts must not be empty: the
/// lower end is before any time).
pub fn erasure_due_until(at: DateTime<Utc>) -> SortCondition {
    SortCondition::Between("0".into(), format!("{}#~", time(at)))
}

/// When a customer's order, interaction or review happened, from its sort
/// key (as a cold pointer lists it); `None` for other sort keys.
pub fn activity_time_of_sort_key(sk: &str) -> Option<DateTime<Utc>> {
    let rest = [ORDER_PREFIX, INTERACTION_PREFIX, REVIEW_PREFIX]
        .iter()
        .find_map(|prefix| sk.strip_prefix(prefix))?;
    let (at, _id) = rest.split_once('#')?;
    at.parse().ok()
}

pub fn category_partition(path: &CategoryPath) -> String {
    format!(
        "CATEGORY#{}#{}#{}",
        escape(&path.l1),
        escape(&path.l2),
        escape(&path.l3)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_parts_apart() {
        assert_eq!(escape("a#b%c"), "a%23b%25c");
        assert_ne!(escape("a#b"), escape("a%23b"));
    }

    #[test]
    fn an_orders_number_reads_back_from_its_sort_key() {
        let at: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        for number in ["SO-1", "A#7", "50%#off", "%23"] {
            let id = OrderId::parse("order", number).unwrap();
            let sk = order(CustomerId::generate(), at, &id).sk;
            assert_eq!(order_id_of_sort_key(&sk), Some(id), "{sk}");
        }
        assert_eq!(
            order_id_of_sort_key("REVIEW#2026-11-22T10:00:00.000Z#r"),
            None
        );
    }

    #[test]
    fn an_activity_time_reads_back_from_its_sort_key() {
        let at: DateTime<Utc> = "2026-11-22T10:00:00.250Z".parse().unwrap();
        let id = CustomerId::generate();
        let order_id = OrderId::parse("order", "A#1").unwrap();
        for key in [
            order(id, at, &order_id),
            interaction(id, at, "i#1"),
            review(id, at, "r-1"),
        ] {
            assert_eq!(activity_time_of_sort_key(&key.sk), Some(at), "{}", key.sk);
        }
        assert_eq!(activity_time_of_sort_key(&merge(id, at, "m").sk), None);
        assert_eq!(activity_time_of_sort_key(PROFILE_SK), None);
    }

    #[test]
    fn times_sort_as_strings() {
        let early: DateTime<Utc> = "1997-01-01T00:00:00Z".parse().unwrap();
        let late: DateTime<Utc> = "2026-11-22T10:00:00.5Z".parse().unwrap();
        assert!(time(early) < time(late));
        assert_eq!(time(late), "2026-11-22T10:00:00.500Z");
    }

    #[test]
    fn riskier_customers_sort_first() {
        let id = CustomerId::generate();
        assert!(risk_sort(0.91, id) < risk_sort(0.9, id));
        assert_eq!(risk_sort(1.0, id), format!("0000000#{id}"));
        assert_eq!(risk_sort(0.0, id), format!("1000000#{id}"));
        assert_eq!(customer_of_partition(&customer_partition(id)), Some(id));
        assert_eq!(customer_of_partition("PRODUCT#x"), None);
    }
}
