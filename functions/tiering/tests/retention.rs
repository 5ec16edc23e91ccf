//! The retention policy as the scheduled job applies it: expired texts are
//! removed from their records (the records and the summaries stay),
//! expired merge-log entries go, everything younger is untouched, customers
//! exempt from tiering are not exempt from retention, and a second run finds
//! nothing more. Texts already in cold objects (and any copy of them made
//! before their limit) become unreadable once their month's retention key
//! is destroyed.

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use strata_domain::ReadOptions;
use strata_domain::channel::Channel;
use strata_domain::churn::{ChurnScore, RiskBand};
use strata_domain::customer::{Customer, CustomerInput, NetworkActivity, Origin};
use strata_domain::ids::{CustomerId, InteractionId, ProductId, ReviewId};
use strata_domain::interaction::{Interaction, InteractionKind};
use strata_domain::ports::table::{Key, PK, SK};
use strata_domain::review::Review;
use strata_domain::tiering::TieringPolicy;
use strata_store::cold::{ColdTier, ObjectContent};
use strata_store::{
    ActivityRepository, ChurnRepository, CustomerRepository, MergeEntry, MergeLog,
    TieringRepository,
};
use strata_tests::backend::Backend;
use strata_tiering::job::{self, JobSettings};

fn interaction(customer: CustomerId, at: DateTime<Utc>, text: &str) -> Interaction {
    interaction_of(InteractionKind::Complaint, customer, at, text)
}

fn interaction_of(
    kind: InteractionKind,
    customer: CustomerId,
    at: DateTime<Utc>,
    text: &str,
) -> Interaction {
    Interaction {
        id: InteractionId::generate(),
        customer_id: customer,
        kind,
        channel: Channel::Chat,
        at,
        text: Some(text.into()),
        product_id: None,
        order_id: None,
    }
}

fn merge(customer: CustomerId, at: DateTime<Utc>) -> MergeEntry {
    MergeEntry {
        id: format!("merge-{}", at.timestamp_millis()),
        customer_id: customer,
        at,
        cause: "api".into(),
        fields: Vec::new(),
        conflicts: Vec::new(),
    }
}

async fn new_customer(b: &Backend, email: &str, at: DateTime<Utc>) -> anyhow::Result<CustomerId> {
    let input = CustomerInput {
        email: Some(email.into()),
        ..Default::default()
    };
    let origin = Origin {
        source: "test".into(),
        at,
    };
    let customer = Customer::create(
        CustomerId::generate(),
        input
            .validate(&ReadOptions::default(), at)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        &origin,
    );
    CustomerRepository::new(b.table.clone(), b.privacy.clone())
        .create(&customer)
        .await?;
    Ok(customer.id)
}

async fn expires_content_past_its_limit(b: &Backend) -> anyhow::Result<()> {
    let as_of = Utc::now();
    let activity = ActivityRepository::new(b.table.clone()).with_privacy(b.privacy.clone());
    let merges = MergeLog::new(b.table.clone());
    let mut ids = Vec::new();
    for n in 0..2 {
        ids.push(new_customer(b, &format!("kept-{n}@example.com"), as_of).await?);
    }
    // The second customer is on the early-warning list: never tiered, but
    // retention applies all the same.
    ChurnRepository::new(b.table.clone())
        .put_score(&ChurnScore {
            customer_id: ids[1],
            probability: 0.9,
            band: RiskBand::High,
            reasons: Vec::new(),
            model_version: "test".into(),
            as_of,
            contactable: true,
        })
        .await?;
    for customer in &ids {
        activity
            .record_interaction(&interaction(
                *customer,
                as_of - Duration::days(800),
                "old chat",
            ))
            .await?;
        activity
            .record_interaction(&interaction(
                *customer,
                as_of - Duration::days(30),
                "new chat",
            ))
            .await?;
        activity
            .record_review(&Review {
                id: ReviewId::generate(),
                customer_id: *customer,
                product_id: ProductId::parse("product", "P-1")
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
                rating: 5,
                text: Some("old review".into()),
                product_satisfaction: None,
                service_satisfaction: None,
                at: as_of - Duration::days(2_000),
            })
            .await?;
        merges
            .append(&[
                merge(*customer, as_of - Duration::days(1_200)),
                merge(*customer, as_of - Duration::days(10)),
            ])
            .await?;
    }
    let summaries_before: Vec<_> =
        futures::future::try_join_all(ids.iter().map(|id| activity.summary(*id))).await?;

    let repo = TieringRepository::new(b.table.clone(), ColdTier::new(b.blobs.clone()))
        .with_retention_keys(b.key_table.clone());
    let settings = JobSettings {
        // Nothing young enough here to tier: the run only applies retention.
        min_object_bytes: usize::MAX,
        ..JobSettings::default()
    };
    let report = job::run(repo.clone(), settings.clone(), as_of).await?;
    ensure!(
        report.expired.interaction_texts == 2,
        "{:?}",
        report.expired
    );
    ensure!(
        report.expired.review_texts == 0,
        "reviews keep their text by default"
    );
    ensure!(report.expired.merge_entries == 2, "{:?}", report.expired);
    ensure!(
        report.retention_keys_destroyed == Some(1),
        "the month of the old chats: {:?}",
        report.retention_keys_destroyed
    );

    for (customer, summary_before) in ids.iter().zip(&summaries_before) {
        let history = activity.history(*customer).await?;
        let mut texts: Vec<_> = history
            .interactions
            .iter()
            .map(|i| i.text.clone())
            .collect();
        texts.sort();
        ensure!(
            texts == [None, Some("new chat".to_owned())],
            "{customer}: {texts:?}"
        );
        ensure!(history.reviews[0].text.as_deref() == Some("old review"));
        let left = merges.all(*customer).await?;
        ensure!(left.len() == 1, "{customer}: {left:?}");
        ensure!(left[0].at > as_of - Duration::days(20));
        ensure!(
            activity.summary(*customer).await? == *summary_before,
            "summaries do not change when content expires"
        );
    }

    let again = job::run(repo, settings, as_of).await?;
    ensure!(again.expired == Default::default(), "{:?}", again.expired);
    ensure!(again.retention_keys_destroyed == Some(0));
    Ok(())
}

/// Texts tiered into a cold object before their limit are never rewritten
/// there; destroying their month's retention key is what expires them, in
/// the object and in every copy made before (a restored snapshot).
async fn expires_texts_in_cold_copies(b: &Backend) -> anyhow::Result<()> {
    let now = Utc::now();
    let customer = new_customer(b, "cold@example.com", now).await?;
    let activity = ActivityRepository::new(b.table.clone())
        .with_privacy(b.privacy.clone())
        .with_cold_tier(ColdTier::new(b.blobs.clone()));
    let (older_at, newer_at) = (now - Duration::days(300), now - Duration::days(10));
    for (at, text) in [(older_at, "older chat"), (newer_at, "newer chat")] {
        activity
            .record_interaction(&interaction_of(
                InteractionKind::Inquiry,
                customer,
                at,
                text,
            ))
            .await?;
    }
    let repo = TieringRepository::new(b.table.clone(), ColdTier::new(b.blobs.clone()))
        .with_retention_keys(b.key_table.clone());
    let settings = JobSettings {
        policy: TieringPolicy {
            interactions_after_days: Some(180),
            ..TieringPolicy::default()
        },
        min_object_bytes: 0,
        ..JobSettings::default()
    };
    let texts = |history: &strata_store::History| {
        let mut texts: Vec<_> = history
            .interactions
            .iter()
            .map(|i| (i.at, i.text.clone()))
            .collect();
        texts.sort();
        texts.into_iter().map(|(_, text)| text).collect::<Vec<_>>()
    };

    // 200 days on both records are untouched long enough to be tiered, and
    // both texts are within their 730 days.
    let tiered_at = now + Duration::days(200);
    let first = job::run(repo.clone(), settings.clone(), tiered_at).await?;
    ensure!(first.moved.records == 2, "{:?}", first.moved);
    ensure!(first.retention_keys_destroyed == Some(0));
    let before = activity.history(customer).await?;
    ensure!(
        texts(&before) == [Some("older chat".to_owned()), Some("newer chat".to_owned())],
        "{:?}",
        texts(&before)
    );
    // A copy of the older record as a snapshot holds it, sealed text and all.
    let copy = before
        .interactions
        .iter()
        .find(|i| i.text.as_deref() == Some("older chat"))
        .ok_or_else(|| anyhow::anyhow!("the older interaction is missing"))?;
    let copied_item = raw_cold_item(b, customer, &copy.id.to_string()).await?;

    // 500 days on, the older text is 800 days old: its month's key goes.
    let expired_at = now + Duration::days(500);
    let second = job::run(repo.clone(), settings.clone(), expired_at).await?;
    ensure!(
        second.retention_keys_destroyed == Some(1),
        "{:?}",
        second.retention_keys_destroyed
    );
    // Another function reads it, as the APIs do (the writer trusts keys it
    // unwrapped for `KEY_CACHE_TTL`).
    let activity = ActivityRepository::new(b.table.clone())
        .with_privacy(b.privacy_with_cache_ttl(std::time::Duration::ZERO).await?)
        .with_cold_tier(ColdTier::new(b.blobs.clone()));
    let after = activity.history(customer).await?;
    ensure!(
        texts(&after) == [None, Some("newer chat".to_owned())],
        "the cold object still holds the older text, unreadable: {:?}",
        texts(&after)
    );
    ensure!(after.interactions.len() == 2, "the records stay");

    // The copy made before the limit, put back as a restore would: no text.
    b.table.put(copied_item, None).await?;
    let restored = activity.history(customer).await?;
    ensure!(texts(&restored) == [None, Some("newer chat".to_owned())]);

    // A text of that month written now is not kept, and the month's key is
    // not made again.
    activity
        .record_interaction(&interaction_of(
            InteractionKind::Inquiry,
            customer,
            older_at + Duration::hours(1),
            "late chat",
        ))
        .await?;
    let late = activity.history(customer).await?;
    ensure!(
        late.interactions
            .iter()
            .all(|i| i.text.as_deref() != Some("late chat")),
        "a text past its limit is not stored"
    );
    let third = job::run(repo, settings, expired_at).await?;
    ensure!(
        third.retention_keys_destroyed == Some(0),
        "no key was made again"
    );
    Ok(())
}

/// A profile's network traces are sealed by the month they were seen in;
/// a month past its limit loses its traces in every copy of the profile.
async fn expires_network_traces(b: &Backend) -> anyhow::Result<()> {
    let now = Utc::now();
    let trace = |ip: &str, days_ago: i64| NetworkActivity {
        ip: Some(ip.parse().expect("an IP address")),
        device_id: None,
        user_agent: Some("Mozilla/5.0".into()),
        seen_at: now - Duration::days(days_ago),
    };
    let input = CustomerInput {
        email: Some("traced@example.com".into()),
        ..Default::default()
    };
    let mut customer = Customer::create(
        CustomerId::generate(),
        input
            .validate(&ReadOptions::default(), now)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        &Origin {
            source: "test".into(),
            at: now,
        },
    );
    customer.network = vec![trace("203.0.113.7", 400), trace("198.51.100.4", 10)];
    CustomerRepository::new(b.table.clone(), b.privacy.clone())
        .create(&customer)
        .await?;
    // Read as another function would (no keys trusted from before).
    let reader = CustomerRepository::new(
        b.table.clone(),
        b.privacy_with_cache_ttl(std::time::Duration::ZERO).await?,
    );
    let ips = |c: &Customer| c.network.iter().map(|n| n.ip).collect::<Vec<_>>();
    let stored = reader.get(customer.id).await?.expect("stored");
    ensure!(ips(&stored) == ips(&customer), "{:?}", ips(&stored));

    let repo = TieringRepository::new(b.table.clone(), ColdTier::new(b.blobs.clone()))
        .with_retention_keys(b.key_table.clone());
    let settings = JobSettings {
        min_object_bytes: usize::MAX,
        ..JobSettings::default()
    };
    let report = job::run(repo, settings, now).await?;
    ensure!(
        report.retention_keys_destroyed == Some(1),
        "the month seen 400 days ago (limit 365): {:?}",
        report.retention_keys_destroyed
    );
    let after = reader.get(customer.id).await?.expect("stored");
    ensure!(
        ips(&after) == [Some("198.51.100.4".parse()?)],
        "{:?}",
        ips(&after)
    );
    ensure!(
        after.identity == customer.identity,
        "the rest of the profile stays"
    );
    // Saved again, the profile keeps what is left.
    let saved = reader.save(&after).await?;
    let again = reader.get(customer.id).await?.expect("stored");
    ensure!(ips(&again) == ips(&after) && again.version == saved.version);
    Ok(())
}

/// The raw item of a cold record, read from its object as a snapshot would hold it.
async fn raw_cold_item(
    b: &Backend,
    customer: CustomerId,
    interaction: &str,
) -> anyhow::Result<strata_domain::ports::table::Item> {
    let listed = b.blobs.list("cold/", None, 1000).await?;
    for object in listed.objects {
        let body =
            strata_domain::ports::blob::collect(b.blobs.get(&object.key).await?.body).await?;
        let content = ObjectContent::parse(&body)?;
        for share in content.shares.iter().filter(|s| s.customer == customer) {
            if let Some(line) = share
                .lines
                .iter()
                .find(|l| Key::of(&l.item).is_some_and(|k| k.sk.ends_with(interaction)))
            {
                ensure!(line.item.contains_key(PK) && line.item.contains_key(SK));
                return Ok(line.item.clone());
            }
        }
    }
    anyhow::bail!("no cold copy of {interaction}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_content_expires_past_its_limit() -> anyhow::Result<()> {
    expires_content_past_its_limit(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_content_expires_past_its_limit() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    expires_content_past_its_limit(&Backend::aws().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_network_traces_expire_with_their_month() -> anyhow::Result<()> {
    expires_network_traces(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_network_traces_expire_with_their_month() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    expires_network_traces(&Backend::aws().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_texts_in_cold_copies_expire_with_their_month() -> anyhow::Result<()> {
    expires_texts_in_cold_copies(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_texts_in_cold_copies_expire_with_their_month() -> anyhow::Result<()> {
    strata_tests::require_moto!();
    expires_texts_in_cold_copies(&Backend::aws().await?).await
}
