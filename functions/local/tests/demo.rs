//! The demo pipeline on the first orders of the real Superstore export:
//! every step runs through the services the Lambdas run and its figures
//! agree with each other, and a second run on the same store skips the
//! import, loses nothing, and scores and recommends as before although the
//! records it reads are in the cold tier by then.

mod common;

use std::sync::Arc;

use strata_auth::{Authenticator, LocalIssuer};
use strata_domain::ReadOptions;
use strata_domain::access::{Principal, Role};
use strata_local::demo::{Settings, Shop, run_shop};
use strata_local::host::Host;
use tower::ServiceExt;

/// Superstore lines kept: enough for several customers with orders in
/// every year, few enough for a quick test.
const LINES: usize = 1_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_end_to_end_and_its_figures_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = Shop {
        name: "superstore".into(),
        export: common::superstore_head_file(dir.path(), LINES),
        key: "imports/superstore/superstore.csv".into(),
    };
    let store = dir.path().join("store");
    // A few hundred customers make objects far under the Lambda's 256 KiB
    // minimum; the test lets them be written.
    let mut settings = Settings::default();
    settings.tiering.min_object_bytes = 1_024;
    let first = run_shop(&shop, &store, &settings)
        .await
        .expect("the pipeline (ONNX Runtime via ORT_DYLIB_PATH; run `cargo xtask test`)");

    let counts = &first.import.counts;
    assert_eq!(counts.rows_read, (LINES - 1) as u64);
    assert!(counts.reconciles(), "{counts:?}");
    assert_eq!(first.census.customers, counts.customers_created);
    assert_eq!(first.census.orders(), counts.orders_created);
    assert!(first.census.customers > 50, "{}", first.census.customers);

    assert_eq!(first.churn.customers, first.census.customers);
    assert_eq!(first.churn.scored, first.churn.formal);
    assert_eq!(
        first.churn.bands.values().sum::<u64>(),
        first.churn.scored,
        "every scored customer has a band"
    );
    assert!(first.recommend.products > 0 && first.recommend.lists > 0);

    // Every customer who bought has a tier, reassessed as of the day after
    // the last order; the examples were assessed then.
    let value = &first.value;
    assert_eq!(value.refresh.customers, first.census.customers);
    assert_eq!(value.counts.customers, first.churn.formal, "{value:?}");
    assert_eq!(
        value.counts.tiers.values().sum::<u64>(),
        value.counts.customers
    );
    assert!(value.refresh.moved > 0, "{value:?}");
    assert!(!value.examples.is_empty());
    assert!(value.examples.iter().all(|e| e.as_of == first.as_of));

    // The imported orders earned points; the value job expired those older
    // than the policy's expiry as of the day after the last order, and only
    // those were debited.
    let rewards = &first.rewards;
    assert!(rewards.customers > 0 && rewards.earned > 0, "{rewards:?}");
    assert_eq!(rewards.debited, value.refresh.points_expired, "{rewards:?}");
    assert_eq!(rewards.earned - rewards.debited, rewards.outstanding);
    assert!(rewards.outstanding >= 0);

    // Two years on, every customer but those on the early-warning list is
    // inactive, so all their orders move; the rest stay hot.
    let tiering = &first.tiering;
    assert!(tiering.moved.records > 0, "{tiering:?}");
    assert_eq!(
        tiering.customers_inactive + tiering.exempt_early_warning,
        first.census.customers
    );
    assert_eq!(
        tiering.moved.records + tiering.left_for_later,
        tiering.cold_found
    );
    let read_back = first.read_back;
    assert!(read_back.customers > 0);
    assert_eq!(read_back.orders_read, read_back.orders_before);
    assert!(read_back.cold_records > 0);

    assert_eq!(first.backup.items, first.backup.items_stored);
    assert_eq!(first.backup.archived.len(), 1);

    // The same export again: the import is recognised, nothing moves twice,
    // every order is still there, and the jobs, now reading the moved
    // records from the cold tier, come to the same scores and lists.
    let second = run_shop(&shop, &store, &settings)
        .await
        .expect("second run");
    assert_eq!(second.import.id, first.import.id);
    assert_eq!(second.import.counts, first.import.counts);
    assert_eq!(second.tiering.moved.records, 0);
    assert_eq!(second.census.orders(), first.census.orders());
    assert_eq!(second.census.cold_records(), tiering.moved.records);
    assert_eq!(second.census.cold_unread, 0);
    assert_eq!(second.as_of, first.as_of);
    assert_eq!(second.churn.scored, first.churn.scored);
    // The same day again: nobody moves, nothing is written.
    assert_eq!(second.value.refresh.moved, 0);
    assert_eq!(second.value.counts, first.value.counts);
    // Nothing earned or expired twice.
    assert_eq!(second.rewards, first.rewards);
    assert_eq!(second.churn.bands, first.churn.bands);
    assert_eq!(second.churn.months, first.churn.months);
    assert_eq!(second.recommend.profiles, first.recommend.profiles);
    assert_eq!(second.recommend.lists, first.recommend.lists);
    assert_eq!(second.recommend.grey_levels, first.recommend.grey_levels);
    assert!(second.read_back.customers > 0);
    assert_eq!(second.read_back.orders_read, second.read_back.orders_before);

    // The online score of a customer whose orders are all cold comes from
    // their whole history, as the batch's does.
    let tiered = second
        .census
        .with_cold
        .keys()
        .copied()
        .find(|c| second.census.orders.contains_key(c))
        .expect("a customer with cold orders");
    let host = Host::open(&store, ReadOptions::default())
        .await
        .expect("the store");
    let issuer = Arc::new(LocalIssuer::from_secret(&[9; 32]));
    let token = issuer
        .mint(
            &Principal::new("ops-1", Role::Ops, None, None).expect("principal"),
            chrono::Duration::minutes(5),
        )
        .expect("token");
    let request = http::Request::builder()
        .uri(format!("/v1/customers/{tiered}/churn"))
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = host
        .router(Authenticator::Local(issuer))
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(
        status,
        http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
}
