//! Customers inactive past the retention limit: the tiering job (which holds
//! no customer's key) marks them, the scheduled erasure (which does) erases
//! them as `DELETE /v1/customers/{id}` would — partition and lookups gone,
//! data key destroyed, the reason in the erasure ledger and the audit log —
//! after checking again that they are still inactive. Activity in the cold
//! tier counts; activity after the marking cancels it; without a limit
//! nothing is marked.

use anyhow::{Context, ensure};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use strata_domain::ReadOptions;
use strata_domain::audit::AuditAction;
use strata_domain::channel::Channel;
use strata_domain::customer::{Customer, CustomerInput, Identifier, Origin};
use strata_domain::ids::{CustomerId, InteractionId, OrderId};
use strata_domain::interaction::{Interaction, InteractionKind};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderStatus};
use strata_domain::retention::RetentionPolicy;
use strata_domain::tiering::TieringPolicy;
use strata_store::cold::ColdTier;
use strata_store::{
    ActivityRepository, AuditLog, CustomerEraser, CustomerRepository, DueErasure, ErasureLedger,
    InactiveCustomers, InactiveErasure, TieringRepository,
};
use strata_tests::backend::Backend;
use strata_tiering::job::{self, JobSettings};

struct Shop {
    customers: CustomerRepository,
    activity: ActivityRepository,
}

impl Shop {
    fn of(b: &Backend) -> Shop {
        Shop {
            customers: CustomerRepository::new(b.table.clone(), b.privacy.clone()),
            activity: ActivityRepository::new(b.table.clone()).with_privacy(b.privacy.clone()),
        }
    }

    /// A customer who signed up at `since` and ordered once at `ordered_at`.
    async fn customer(
        &self,
        email: &str,
        since: DateTime<Utc>,
        ordered_at: DateTime<Utc>,
    ) -> anyhow::Result<Customer> {
        let input = CustomerInput {
            email: Some(email.into()),
            ..CustomerInput::default()
        };
        let valid = input
            .validate(&ReadOptions::default(), since)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let origin = Origin {
            source: "test".into(),
            at: since,
        };
        let customer = Customer::create(CustomerId::generate(), valid, &origin);
        self.customers.create(&customer).await?;
        self.activity
            .record_order(&Order {
                id: OrderId::parse("id", &format!("SO-{email}"))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
                customer_id: customer.id,
                placed_at: ordered_at,
                status: OrderStatus::Paid,
                lines: Vec::new(),
                item_count: 1,
                total: Money {
                    minor: 1999,
                    currency: Currency::USD,
                },
                coupon: None,
            })
            .await?;
        Ok(customer)
    }
}

async fn inactive_customers_are_marked_then_erased(b: &Backend) -> anyhow::Result<()> {
    // Milliseconds, as keys hold times.
    let now = Utc::now().trunc_subsecs(3);
    // The runs look 150 days ahead: records written now are untouched for
    // long enough to be tiered.
    let as_of = now + Duration::days(150);
    let days_ago = |n: i64| now - Duration::days(n);
    let shop = Shop::of(b);
    let idle = shop
        .customer("idle@example.com", days_ago(1300), days_ago(1200))
        .await?;
    let active = shop
        .customer("active@example.com", days_ago(1300), days_ago(10))
        .await?;
    let returning = shop
        .customer("returning@example.com", days_ago(1300), days_ago(1200))
        .await?;
    // Only a cold pointer will show this customer's last order.
    let tiered = shop
        .customer("tiered@example.com", days_ago(1300), days_ago(200))
        .await?;

    let repo = TieringRepository::new(b.table.clone(), ColdTier::new(b.blobs.clone()));
    let unset = JobSettings {
        policy: TieringPolicy {
            orders_after_days: Some(100),
            ..TieringPolicy::default()
        },
        min_object_bytes: 0,
        ..JobSettings::default()
    };
    let inactive = InactiveCustomers::new(b.table.clone());
    let markers = || async {
        anyhow::Ok(
            inactive
                .due(as_of + Duration::days(100_000), None, 1000)
                .await?
                .due,
        )
    };

    // Without a limit nothing is marked (and every order goes cold).
    let first = job::run(repo.clone(), unset.clone(), as_of).await?;
    ensure!(first.marked_for_erasure == 0, "{first:?}");
    ensure!(markers().await?.is_empty());
    ensure!(first.moved.records == 4, "{:?}", first.moved);

    let policy = RetentionPolicy {
        inactive_customer_days: Some(1095),
        ..RetentionPolicy::default()
    };
    let limited = JobSettings {
        retention: policy.clone(),
        ..unset.clone()
    };
    let second = job::run(repo.clone(), limited.clone(), as_of).await?;
    ensure!(second.marked_for_erasure == 2, "{second:?}");
    let mut marked: Vec<CustomerId> = markers().await?.iter().map(|m| m.customer_id).collect();
    marked.sort();
    let mut expected = vec![idle.id, returning.id];
    expected.sort();
    ensure!(marked == expected, "marked {marked:?}");
    let idle_marker = markers()
        .await?
        .into_iter()
        .find(|m| m.customer_id == idle.id)
        .context("idle's marker")?;
    ensure!(
        idle_marker.last_active_at == days_ago(1200),
        "last active at the order, read from its cold pointer: {idle_marker:?}"
    );

    // Activity after the marking cancels it.
    shop.activity
        .record_interaction(&Interaction {
            id: InteractionId::generate(),
            customer_id: returning.id,
            kind: InteractionKind::Inquiry,
            channel: Channel::Chat,
            at: now,
            text: Some("back again".into()),
            product_id: None,
            order_id: None,
        })
        .await?;

    let ledger = ErasureLedger::new(b.fresh_store(false).await?);
    let audit = AuditLog::new(b.table.clone(), Duration::days(400));
    let erasure = InactiveErasure::new(
        b.table.clone(),
        CustomerEraser::new(b.table.clone(), b.privacy.clone(), ledger.clone()),
        audit.clone(),
        policy.clone(),
    );
    let report = erasure.run(as_of, None).await?;
    ensure!(
        (report.due, report.erased, report.kept_active) == (2, 1, 1),
        "{report:?}"
    );
    ensure!(report.audit_failed == 0 && !report.stopped_at_deadline);

    // The idle customer is gone as DELETE /v1/customers/{id} leaves them.
    ensure!(!b.privacy.has_key(idle.id).await?, "data key destroyed");
    ensure!(
        inactive.partition(idle.id).await?.items.is_empty(),
        "partition gone"
    );
    let email = Identifier::Email(idle.identity.email.clone().context("e-mail")?);
    ensure!(shop.customers.find(&email).await?.is_none(), "lookup gone");
    let entry = ledger.entry(idle.id).await?.context("ledger entry")?;
    ensure!(
        entry.reason == Some(DueErasure::reason(days_ago(1200))),
        "{entry:?}"
    );
    let audited = audit
        .of(idle.id, now - Duration::days(1), Utc::now(), None, 10)
        .await?
        .entries;
    ensure!(
        audited.len() == 1
            && audited[0].action == AuditAction::Erase
            && audited[0].route == DueErasure::reason(days_ago(1200)),
        "{audited:?}"
    );

    // Everyone else is kept, with their keys, and no marker is left.
    for kept in [&active, &returning, &tiered] {
        ensure!(
            b.privacy.has_key(kept.id).await?,
            "{} lost its key",
            kept.id
        );
        let profile = shop.customers.get(kept.id).await?;
        ensure!(profile.is_some_and(|p| p.identity.email == kept.identity.email));
        ensure!(!ledger.recorded(kept.id).await?);
    }
    ensure!(markers().await?.is_empty(), "{:?}", markers().await?);

    // The next runs find no one new.
    let third = job::run(repo, limited, as_of).await?;
    ensure!(third.marked_for_erasure == 0, "{third:?}");
    let again = erasure.run(as_of, None).await?;
    ensure!(again == Default::default(), "{again:?}");
    Ok(())
}

/// Markers written while a limit was set erase no one once it is unset.
async fn markers_without_a_limit_erase_no_one(b: &Backend) -> anyhow::Result<()> {
    let now = Utc::now();
    let shop = Shop::of(b);
    let idle = shop
        .customer(
            "idle@example.com",
            now - Duration::days(1300),
            now - Duration::days(1200),
        )
        .await?;
    let inactive = InactiveCustomers::new(b.table.clone());
    let limited = RetentionPolicy {
        inactive_customer_days: Some(1095),
        ..RetentionPolicy::default()
    };
    let partition = inactive.partition(idle.id).await?;
    ensure!(inactive.mark_if_due(&partition, &limited, now).await?);
    let ledger = ErasureLedger::new(b.fresh_store(false).await?);
    let erasure = InactiveErasure::new(
        b.table.clone(),
        CustomerEraser::new(b.table.clone(), b.privacy.clone(), ledger.clone()),
        AuditLog::new(b.table.clone(), Duration::days(400)),
        RetentionPolicy::default(),
    );
    // A run already at its deadline leaves everything for the next one.
    let late = erasure.run(now, Some(std::time::Instant::now())).await?;
    ensure!(
        late.stopped_at_deadline && late.due == 0 && late.kept_no_limit == 0,
        "{late:?}"
    );
    ensure!(inactive.due(now, None, 10).await?.due.len() == 1);
    let report = erasure.run(now, None).await?;
    ensure!(
        (report.due, report.erased, report.kept_no_limit) == (1, 0, 1),
        "{report:?}"
    );
    ensure!(b.privacy.has_key(idle.id).await? && !ledger.recorded(idle.id).await?);
    ensure!(inactive.due(now, None, 10).await?.due.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_inactive_customers_are_marked_then_erased() -> anyhow::Result<()> {
    inactive_customers_are_marked_then_erased(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_inactive_customers_are_marked_then_erased() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    inactive_customers_are_marked_then_erased(&Backend::aws().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_markers_without_a_limit_erase_no_one() -> anyhow::Result<()> {
    markers_without_a_limit_erase_no_one(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_markers_without_a_limit_erase_no_one() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    markers_without_a_limit_erase_no_one(&Backend::aws().await?).await
}
