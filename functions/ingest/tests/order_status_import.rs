//! An export lists an order again with a later status (shipped, refunded,
//! cancelled): the import changes the stored order's status as the status
//! route does — the summary is counted again, the tier follows, a refund
//! claws back what the order earned — and rejects a move the order cannot
//! make naming `order.status`. Applying the chunk again (after a crash)
//! gives the same outcomes and takes nothing twice. On the embedded
//! backend and on DynamoDB (moto).

use chrono::{Duration, Utc};
use strata_domain::ReadOptions;
use strata_domain::customer::{CustomerInput, Origin};
use strata_domain::money::Currency;
use strata_domain::order::{OrderInput, OrderStatus};
use strata_domain::rewards::EntryKind;
use strata_ingest::import::record::ImportRecord;
use strata_ingest::ingest::{Ingestor, Outcome, OwnerCache, Pending, Summaries};
use strata_store::Period;
use strata_tests::backend::Backend;
use strata_tests::on_every_adapter;

fn ingestor(backend: &Backend) -> Ingestor {
    Ingestor::new(
        backend.table.clone(),
        backend.privacy.clone(),
        ReadOptions {
            currency: Currency::USD,
            ..ReadOptions::default()
        },
    )
}

/// One order row of the export.
fn row(row: u64, number: &str, days_ago: i64, total: &str, status: OrderStatus) -> Pending {
    Pending {
        row,
        record: ImportRecord::Order {
            customer: CustomerInput {
                email: Some("status@example.com".into()),
                ..CustomerInput::default()
            },
            order: OrderInput {
                id: number.into(),
                placed_at: (Utc::now() - Duration::days(days_ago))
                    .date_naive()
                    .to_string(),
                status,
                currency: None,
                lines: Vec::new(),
                total: Some(total.into()),
                item_count: Some(2),
                coupon: None,
            },
        },
        origin: Origin {
            source: "import:test".into(),
            at: Utc::now(),
        },
    }
}

fn summarised(import: &str) -> Summaries {
    Summaries::Incremental {
        import: import.into(),
    }
}

/// What each row came to: accepted, duplicate, or the field it was
/// rejected for.
fn verdicts(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Accepted { .. } => "accepted".to_owned(),
            Outcome::Merged { .. } => "merged".to_owned(),
            Outcome::Duplicate { .. } => "duplicate".to_owned(),
            Outcome::Rejected(invalid) => format!("rejected {}", invalid.errors[0].field),
        })
        .collect()
}

async fn later_statuses_change_stored_orders(backend: &Backend) {
    let ingestor = ingestor(backend);
    let first = vec![
        row(1, "S-1", 40, "500.00", OrderStatus::Paid),
        row(2, "S-2", 30, "50.00", OrderStatus::Paid),
        row(3, "S-3", 20, "80.00", OrderStatus::Paid),
    ];
    let (outcomes, _) = ingestor
        .apply(first, &mut OwnerCache::default(), &summarised("export-1"))
        .await
        .expect("first export");
    let customer = outcomes[0].customer().expect("customer");
    let profile = ingestor.customers().get(customer).await.unwrap().unwrap();
    assert_eq!(profile.activity.purchases, 3);
    let earned = ingestor.rewards().ledger.balance(customer).await.unwrap();
    assert!(earned.balance >= 630, "{earned:?}");
    let tier_before = profile.tier.expect("a tier");

    // The next day's export: S-1 refunded; S-2 shipped, then (a later row)
    // refunded; S-1 paid again (a refund is final); S-1 with another total
    // (another order under its number); S-3 as it was.
    let second = vec![
        row(1, "S-1", 40, "500.00", OrderStatus::Refunded),
        row(2, "S-2", 30, "50.00", OrderStatus::Shipped),
        row(3, "S-2", 30, "50.00", OrderStatus::Refunded),
        row(4, "S-1", 40, "500.00", OrderStatus::Paid),
        row(5, "S-1", 40, "999.00", OrderStatus::Refunded),
        row(6, "S-3", 20, "80.00", OrderStatus::Paid),
    ];
    let expected = [
        "accepted",
        "accepted",
        "accepted",
        "rejected order.status",
        "rejected order.id",
        "duplicate",
    ];
    let (outcomes, _) = ingestor
        .apply(
            second.clone(),
            &mut OwnerCache::default(),
            &summarised("export-2"),
        )
        .await
        .expect("second export");
    assert_eq!(verdicts(&outcomes), expected, "{outcomes:?}");
    let Outcome::Rejected(final_refund) = &outcomes[3] else {
        unreachable!()
    };
    assert!(
        final_refund.errors[0].message.contains("refunded"),
        "{final_refund:?}"
    );

    let check = || async {
        let profile = ingestor.customers().get(customer).await.unwrap().unwrap();
        assert_eq!(
            (profile.activity.purchases, profile.activity.returns),
            (1, 2),
            "{:?}",
            profile.activity
        );
        let orders = ingestor
            .activity()
            .orders(customer, Period::default())
            .await
            .unwrap();
        let status = |number: &str| {
            orders
                .iter()
                .find(|o| o.id.as_str() == number)
                .map(|o| o.status)
        };
        assert_eq!(status("S-1"), Some(OrderStatus::Refunded));
        assert_eq!(status("S-2"), Some(OrderStatus::Refunded));
        assert_eq!(status("S-3"), Some(OrderStatus::Paid));
        let entries = ingestor.rewards().ledger.entries(customer).await.unwrap();
        let clawbacks: Vec<_> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Clawback)
            .collect();
        assert_eq!(clawbacks.len(), 2, "{entries:?}");
        let balance = ingestor.rewards().ledger.balance(customer).await.unwrap();
        assert_eq!(
            balance.balance,
            entries.iter().map(|e| e.points).sum::<i64>(),
            "{entries:?}"
        );
        assert!(balance.balance < earned.balance / 5, "{balance:?}");
        profile
    };
    let after = check().await;
    // Only S-3's $80 is left: the coefficient fell and the tier with it.
    assert!(after.tier >= Some(tier_before), "{after:?}");
    assert!(
        after.value.unwrap().coefficient < profile.value.unwrap().coefficient,
        "{after:?}"
    );

    // The same chunk again, as after a crash: the same outcomes, nothing
    // clawed back twice.
    let (again, _) = ingestor
        .apply(second, &mut OwnerCache::default(), &summarised("export-2"))
        .await
        .expect("again");
    assert_eq!(verdicts(&again), expected, "{again:?}");
    check().await;
}

on_every_adapter!(later_statuses_change_stored_orders);
