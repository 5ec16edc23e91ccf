//! The retention policy as the scheduled job applies it: expired texts are
//! removed from their records (the records and the summaries stay),
//! expired merge-log entries go, everything younger is untouched, customers
//! exempt from tiering are not exempt from retention, and a second run finds
//! nothing more.

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use strata_domain::ReadOptions;
use strata_domain::channel::Channel;
use strata_domain::churn::{ChurnScore, RiskBand};
use strata_domain::customer::{Customer, CustomerInput, Origin};
use strata_domain::ids::{CustomerId, InteractionId, ProductId, ReviewId};
use strata_domain::interaction::{Interaction, InteractionKind};
use strata_domain::review::Review;
use strata_store::cold::ColdTier;
use strata_store::{
    ActivityRepository, ChurnRepository, CustomerRepository, MergeEntry, MergeLog,
    TieringRepository,
};
use strata_tests::backend::Backend;
use strata_tiering::job::{self, JobSettings};

fn interaction(customer: CustomerId, at: DateTime<Utc>, text: &str) -> Interaction {
    Interaction {
        id: InteractionId::generate(),
        customer_id: customer,
        kind: InteractionKind::Complaint,
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

async fn expires_content_past_its_limit(b: &Backend) -> anyhow::Result<()> {
    let as_of = Utc::now();
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let activity = ActivityRepository::new(b.table.clone()).with_privacy(b.privacy.clone());
    let merges = MergeLog::new(b.table.clone());
    let mut ids = Vec::new();
    for n in 0..2 {
        let input = CustomerInput {
            email: Some(format!("kept-{n}@example.com")),
            ..Default::default()
        };
        let origin = Origin {
            source: "test".into(),
            at: as_of,
        };
        let customer = Customer::create(
            CustomerId::generate(),
            input
                .validate(&ReadOptions::default(), as_of)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            &origin,
        );
        customers.create(&customer).await?;
        ids.push(customer.id);
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

    let repo = TieringRepository::new(b.table.clone(), ColdTier::new(b.blobs.clone()));
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
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_content_expires_past_its_limit() -> anyhow::Result<()> {
    expires_content_past_its_limit(&Backend::embedded().await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_content_expires_past_its_limit() -> anyhow::Result<()> {
    expires_content_past_its_limit(&Backend::aws().await?).await
}
