//! The recommendation function end to end on every adapter (embedded, and
//! the AWS adapters against moto): the precompute from its EventBridge
//! fixture, then the HTTP API through the router the Lambda serves (from an
//! API Gateway fixture too), on the generated Chinese catalogue. Counts the
//! table reads of each request.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::body::Body;
use chrono::{DateTime, Duration, Utc};
use http::{Request, StatusCode};
use strata_domain::ReadOptions;
use strata_domain::consent::ConsentPolicy;
use strata_domain::customer::{ConsentInput, Customer, CustomerInput, Origin, Purpose};
use strata_domain::ids::{CustomerId, OrderId, ProductId, ReviewId};
use strata_domain::money::{Currency, Money};
use strata_domain::order::{Order, OrderLine, OrderStatus};
use strata_domain::ports::table::Table;
use strata_domain::product::Product;
use strata_domain::recommend::CategoryScope;
use strata_domain::review::Review;
use strata_recommend::api::{RecommendApi, router};
use strata_recommend::catalogue;
use strata_recommend::job::JobSettings;
use strata_recommend::lambda;
use strata_store::cold::ColdTier;
use strata_store::{
    ActivityRepository, BatchPolicy, CustomerRepository, ProductRepository, RecommendRepository,
};
use strata_tests::backend::Backend;
use strata_tests::counting::CountingTable;
use tower::ServiceExt;

fn fixture(name: &str) -> String {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The schedule fixture's time.
fn as_of() -> DateTime<Utc> {
    "2026-11-20T03:00:00Z".parse().unwrap()
}

fn now() -> DateTime<Utc> {
    as_of() + Duration::hours(1)
}

/// The customer the API Gateway fixture asks about.
const FIXTURE_CUSTOMER: &str = "0000000000000000000000000000000a";

fn customer(id: CustomerId, n: usize) -> Customer {
    let input = CustomerInput {
        email: Some(format!("r{n}@example.cn")),
        ..CustomerInput::default()
    };
    let at = as_of() - Duration::days(400);
    let valid = input.validate(&ReadOptions::default(), at).expect("valid");
    Customer::create(
        id,
        valid,
        &Origin {
            source: "api".into(),
            at,
        },
    )
}

struct Shop {
    products: Vec<Product>,
}

impl Shop {
    fn id(&self, name: &str) -> ProductId {
        self.products
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no product {name}"))
            .id
            .clone()
    }

    fn order(&self, customer: CustomerId, n: usize, days_before: i64, names: &[&str]) -> Order {
        let lines: Vec<OrderLine> = names
            .iter()
            .map(|name| OrderLine {
                product_id: self.id(name),
                quantity: 1,
                unit_price: yuan(59),
                total: yuan(59),
            })
            .collect();
        Order {
            id: OrderId::parse("id", &format!("R-{customer}-{n}")).unwrap(),
            customer_id: customer,
            placed_at: as_of() - Duration::days(days_before),
            status: OrderStatus::Paid,
            item_count: lines.len() as u32,
            total: yuan(59 * lines.len() as i64),
            lines,
            coupon: None,
        }
    }
}

fn yuan(n: i64) -> Money {
    Money {
        minor: n * 100,
        currency: Currency::CNY,
    }
}

struct Seeded {
    shop: Shop,
    /// Buys rice (福临门) again and again, a rice cooker lately, and gave
    /// 金龙鱼 rice one star.
    regular: CustomerId,
    /// Bought the only microwave anyone bought, two days ago.
    microwave_owner: CustomerId,
    newcomer: CustomerId,
    customers: u64,
}

const RICE: [&str; 6] = [
    "金龙鱼 大米标准装",
    "福临门 大米标准装",
    "五常 大米标准装",
    "金龙鱼 大米家庭装",
    "福临门 大米家庭装",
    "五常 大米家庭装",
];
const OIL: [&str; 3] = ["鲁花 油标准装", "胡姬花 油标准装", "金龙鱼 油标准装"];
const NOODLES: [&str; 2] = ["陈克明 面标准装", "金沙河 面家庭装"];

async fn seed(b: &Backend) -> Seeded {
    let shop = Shop {
        products: catalogue::chinese(),
    };
    ProductRepository::new(b.table.clone())
        .put_many(&shop.products, BatchPolicy::default())
        .await
        .expect("products");
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    let activity = ActivityRepository::new(b.table.clone()).with_privacy(b.privacy.clone());
    let mut orders = Vec::new();
    // Rice buyers who buy oil with it, some noodles, tea now and then.
    for n in 0..24 {
        let c = customer(CustomerId::generate(), n);
        customers.create(&c).await.expect("create");
        let mut basket = vec![RICE[n % 6], OIL[n % 3]];
        if n % 4 == 0 {
            basket.push(NOODLES[n % 2]);
        }
        orders.push(shop.order(c.id, 0, 40 + n as i64 * 9, &basket));
        if n % 3 == 0 {
            orders.push(shop.order(c.id, 1, 20 + n as i64, &["立顿 茶标准装"]));
        }
    }
    let regular = customer(CustomerId::parse("id", FIXTURE_CUSTOMER).unwrap(), 100);
    customers.create(&regular).await.expect("create");
    orders.push(shop.order(regular.id, 0, 200, &["福临门 大米标准装"]));
    orders.push(shop.order(regular.id, 1, 90, &["福临门 大米标准装", "五常 大米标准装"]));
    orders.push(shop.order(regular.id, 2, 10, &["福临门 大米标准装"]));
    orders.push(shop.order(regular.id, 3, 5, &["美的 电饭煲标准装"]));
    let owner = customer(CustomerId::generate(), 101);
    customers.create(&owner).await.expect("create");
    orders.push(shop.order(owner.id, 0, 2, &["格兰仕 微波炉标准装"]));
    let newcomer = customer(CustomerId::generate(), 102);
    customers.create(&newcomer).await.expect("create");
    activity
        .put_orders(&orders, BatchPolicy::default())
        .await
        .expect("orders");
    let bad_review = Review {
        id: ReviewId::generate(),
        customer_id: regular.id,
        product_id: shop.id("金龙鱼 大米标准装"),
        rating: 1,
        text: Some("米有虫".into()),
        product_satisfaction: None,
        service_satisfaction: None,
        at: as_of() - Duration::days(30),
    };
    activity
        .put_many(&[], &[bad_review], BatchPolicy::default())
        .await
        .expect("review");
    Seeded {
        shop,
        regular: regular.id,
        microwave_owner: owner.id,
        newcomer: newcomer.id,
        customers: 27,
    }
}

async fn precompute(b: &Backend) -> strata_recommend::job::JobReport {
    precompute_with(b, ConsentPolicy::default()).await
}

/// The job from the schedule fixture, in small scan pages and write chunks.
async fn precompute_with(b: &Backend, consent: ConsentPolicy) -> strata_recommend::job::JobReport {
    let event: EventBridgeEvent =
        serde_json::from_str(&fixture("recommend-schedule.json")).expect("EventBridge event");
    let settings = JobSettings {
        segments: 3,
        page_size: 7,
        write_chunk: 10,
        consent,
        ..JobSettings::default()
    };
    lambda::on_schedule(
        b.table.clone(),
        ColdTier::new(b.blobs.clone()),
        settings,
        event,
    )
    .await
    .expect("precompute")
}

async fn call(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, String, serde_json::Value) {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// An API Gateway HTTP API (v2) event, as the Lambda receives it.
fn gateway(name: &str) -> Request<Body> {
    let request = lambda_http::request::from_str(&fixture(name)).expect("API Gateway event");
    let (parts, body) = request.into_parts();
    Request::from_parts(parts, Body::from(body.to_vec()))
}

fn api(table: Arc<dyn Table>) -> axum::Router {
    router(Arc::new(RecommendApi {
        clock: now,
        ..RecommendApi::new(table)
    }))
}

fn names(answer: &serde_json::Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect()
}

pub async fn precompute_writes_lists_profiles_and_similar_products(b: &Backend) {
    let seeded = seed(b).await;
    let report = precompute(b).await;
    assert_eq!(
        report.customers, seeded.customers,
        "every customer partition once"
    );
    assert_eq!(report.products, seeded.shop.products.len());
    assert_eq!(report.without_history, 1, "the newcomer");
    assert_eq!(report.profiles, seeded.customers - 1);
    let scopes: BTreeSet<CategoryScope> = seeded
        .shop
        .products
        .iter()
        .flat_map(|p| (0..=3).map(|d| CategoryScope::of(&p.category, d)))
        .collect();
    assert_eq!(
        report.lists,
        scopes.len(),
        "one list per node, the root included"
    );
    assert_eq!(report.grey_levels.values().sum::<u64>(), report.profiles);

    let repository = RecommendRepository::new(b.table.clone());
    let rice = repository
        .list(&CategoryScope::parse("c", "美食饮品 > 粮油 > 大米").unwrap())
        .await
        .expect("read")
        .expect("the rice list");
    assert_eq!(rice.levels.len(), 4, "大米, 粮油, 美食饮品, best sellers");
    assert!(
        rice.levels[0]
            .products
            .iter()
            .all(|p| p.category.l3 == "大米")
    );
    assert!(rice.levels[3].scope.depth() == 0 && !rice.levels[3].products.is_empty());
    let similar = repository
        .similar(&seeded.shop.id("福临门 大米标准装"))
        .await
        .expect("read")
        .expect("similar products");
    assert!(
        similar.similar.iter().any(|(id, _)| seeded
            .shop
            .products
            .iter()
            .any(|p| &p.id == id && p.category.l3 == "油")),
        "rice buyers buy oil: {similar:?}"
    );
    let profile = repository
        .profile(seeded.regular)
        .await
        .expect("read")
        .expect("profile");
    assert_eq!(profile.categories[0].scope.leaf(), Some("大米"));
    assert!(profile.disliked_brands.contains("金龙鱼"));
    assert!(
        profile
            .exclude
            .contains(&seeded.shop.id("美的 电饭煲标准装"))
    );
    assert!(
        !profile
            .exclude
            .contains(&seeded.shop.id("福临门 大米标准装")),
        "rice is consumable"
    );
}

pub async fn recommendations_fall_back_by_level_with_reasons_in_two_reads(b: &Backend) {
    let seeded = seed(b).await;
    precompute(b).await;
    let metered = Arc::new(CountingTable::new(b.table.clone()));
    let app = api(metered.clone());

    let (status, _, answer) = call(
        &app,
        gateway("apigw-http-get-customer-recommendations.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        metered.counts().reads(),
        2,
        "the recommendation item (profile and consent stamp) and one candidate list"
    );
    assert_eq!(metered.counts().writes(), 0);
    assert_eq!(answer["customer_id"], seeded.regular.to_string());
    assert_eq!(answer["outcome"], "served");
    assert_eq!(answer["served_by"], "level3");
    let items = answer["items"].as_array().expect("items");
    assert_eq!(items.len(), 5, "the fixture's limit");
    assert!(
        answer["grey"]["grade"]
            .as_f64()
            .is_some_and(|g| g > 0.0 && g <= 1.0)
    );
    assert_eq!(
        items[0]["category"]["l3"], "大米",
        "the strongest level 3 first: {answer}"
    );
    let rank = |level: &str| {
        ["level3", "level2", "level1", "best_sellers"]
            .iter()
            .position(|l| *l == level)
    };
    let levels: Vec<usize> = items
        .iter()
        .map(|i| rank(i["level"].as_str().expect("level")).expect("a known level"))
        .collect();
    assert!(
        levels.windows(2).all(|w| w[0] <= w[1]),
        "deeper levels first: {levels:?}"
    );
    assert!(
        items
            .iter()
            .all(|i| !i["reason"].as_str().unwrap_or_default().is_empty())
    );

    // More than level 3 holds: the fallback widens to 粮油 and beyond.
    metered.reset();
    let uri = format!("/v1/customers/{}/recommendations?limit=40", seeded.regular);
    let (status, _, all) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metered.counts().reads(), 2);
    let served: Vec<String> = names(&all);
    assert!(
        served.iter().all(|n| !n.starts_with("金龙鱼")),
        "a one-star brand is never pushed: {served:?}"
    );
    assert!(
        !served.contains(&"美的 电饭煲标准装".to_owned()),
        "bought five days ago"
    );
    assert!(
        served.contains(&"福临门 大米标准装".to_owned()),
        "rice is bought again and again"
    );
    let levels: BTreeSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["level"].as_str().unwrap())
        .collect();
    assert!(
        levels.contains("level2") && levels.contains("level1"),
        "{levels:?}"
    );
    let oil = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["category"]["l3"] == "油")
        .expect("oil, bought with rice");
    assert_eq!(oil["level"], "level2");
    assert!(oil["reason"].as_str().unwrap().contains("粮油"), "{oil}");

    // A category filter keeps to that category.
    metered.reset();
    let uri = format!(
        "/v1/customers/{}/recommendations?category=%E5%AE%B6%E7%94%A8%E7%94%B5%E5%99%A8",
        seeded.regular
    );
    let (status, _, appliances) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{appliances}");
    assert_eq!(metered.counts().reads(), 2);
    assert!(!names(&appliances).is_empty());
    assert!(
        appliances["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["category"]["l1"] == "家用电器")
    );
}

pub async fn new_customers_get_an_empty_list_and_misses_are_recorded(b: &Backend) {
    let seeded = seed(b).await;
    precompute(b).await;
    let metered = Arc::new(CountingTable::new(b.table.clone()));
    let app = api(metered.clone());

    let uri = format!("/v1/customers/{}/recommendations", seeded.newcomer);
    let (status, _, empty) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["outcome"], "no_history");
    assert_eq!(empty["items"], serde_json::json!([]));
    assert!(empty["served_by"].is_null());
    assert_eq!(
        metered.counts().reads(),
        2,
        "no recommendation item, so the customer's profile: no list is read"
    );

    // The only microwave anyone bought is theirs since two days ago.
    metered.reset();
    let microwaves = "%E5%AE%B6%E7%94%A8%E7%94%B5%E5%99%A8%20%3E%20%E5%8E%A8%E6%88%BF%E7%94%B5%E5%99%A8%20%3E%20%E5%BE%AE%E6%B3%A2%E7%82%89";
    let uri = format!(
        "/v1/customers/{}/recommendations?category={microwaves}",
        seeded.microwave_owner
    );
    let (status, _, miss) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{miss}");
    assert_eq!(miss["outcome"], "miss");
    assert_eq!(miss["items"], serde_json::json!([]));
    assert_eq!(metered.counts().reads(), 2);
    assert_eq!(metered.counts().writes(), 1, "the miss is recorded");
    let misses = RecommendRepository::new(b.table.clone())
        .misses(now().date_naive())
        .await
        .expect("misses");
    assert_eq!(misses.len(), 1);
    assert_eq!(misses[0].customer_id, seeded.microwave_owner);
    assert_eq!(misses[0].scope.leaf(), Some("微波炉"));

    // Without the filter their wider categories and the best sellers serve.
    let uri = format!(
        "/v1/customers/{}/recommendations?limit=50",
        seeded.microwave_owner
    );
    let (status, _, wider) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{wider}");
    assert_eq!(
        wider["served_by"], "level2",
        "the rice cooker, in 厨房电器: {wider}"
    );
    assert!(
        wider["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["level"] == "best_sellers")
    );
    assert!(!names(&wider).contains(&"格兰仕 微波炉标准装".to_owned()));

    let unknown = format!("/v1/customers/{}/recommendations", CustomerId::generate());
    let (status, content_type, problem) = call(&app, get(&unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 404);
    for bad in [
        "limit=0",
        "limit=51",
        "limit=ten",
        "category=a%20%3E%20%20%3E%20b",
    ] {
        let uri = format!("/v1/customers/{}/recommendations?{bad}", seeded.regular);
        let (status, content_type, problem) = call(&app, get(&uri)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert_eq!(content_type, "application/problem+json");
    }
}

fn personalisation(granted: bool, at: DateTime<Utc>) -> CustomerInput {
    CustomerInput {
        email: Some("r100@example.cn".into()),
        consents: vec![ConsentInput {
            purpose: Purpose::Personalisation,
            granted,
            at: at.to_rfc3339(),
            version: "terms-4".into(),
            source: "preference-centre".into(),
        }],
        ..CustomerInput::default()
    }
}

/// Merges a decision on personalisation into a stored profile and saves it.
async fn decide(customers: &CustomerRepository, id: CustomerId, granted: bool, at: DateTime<Utc>) {
    let mut profile = customers.get(id).await.expect("read").expect("profile");
    let valid = personalisation(granted, at)
        .validate(&ReadOptions::default(), at)
        .expect("valid");
    let origin = Origin {
        source: "api".into(),
        at,
    };
    assert!(!profile.merge(valid, &origin).is_empty());
    customers.save(&profile).await.expect("save");
}

/// A customer who withdrew personalisation gets no recommendations at once,
/// whatever the last precompute left for them and even if a precompute that
/// read them before the withdrawal writes their profile after it; the next
/// precompute drops the profile; a new grant serves again.
pub async fn withdrawn_personalisation_serves_nothing(b: &Backend) {
    let seeded = seed(b).await;
    precompute(b).await;
    let repository = RecommendRepository::new(b.table.clone());
    let before = repository
        .profile(seeded.regular)
        .await
        .expect("read")
        .expect("precomputed");
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    decide(
        &customers,
        seeded.regular,
        false,
        now() - Duration::minutes(5),
    )
    .await;

    let metered = Arc::new(CountingTable::new(b.table.clone()));
    let app = api(metered.clone());
    let uri = format!("/v1/customers/{}/recommendations", seeded.regular);
    let withheld = |answer: &serde_json::Value| {
        assert_eq!(answer["outcome"], "no_consent", "{answer}");
        assert_eq!(answer["items"], serde_json::json!([]));
        assert!(
            answer.get("grey").is_none(),
            "nothing derived from profiling"
        );
    };
    let (status, _, answer) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    withheld(&answer);
    assert_eq!(
        metered.counts().reads(),
        1,
        "the stamped recommendation item only"
    );
    assert_eq!(metered.counts().writes(), 0, "not a miss");

    // A precompute that read the customer before the withdrawal writes late.
    repository
        .put_profiles(std::slice::from_ref(&before))
        .await
        .expect("late write");
    metered.reset();
    let (_, _, answer) = call(&app, get(&uri)).await;
    withheld(&answer);
    assert_eq!(metered.counts().reads(), 1);

    let report = precompute(b).await;
    assert_eq!(report.not_personalised, 1);
    assert_eq!(
        report.profiles, 25,
        "the 26 with history but the withdrawn one"
    );
    assert_eq!(
        repository.profile(seeded.regular).await.expect("read"),
        None,
        "the derived profile is dropped"
    );
    let (_, _, answer) = call(&app, get(&uri)).await;
    withheld(&answer);

    // Granted again: the next precompute serves them.
    decide(
        &customers,
        seeded.regular,
        true,
        now() - Duration::minutes(1),
    )
    .await;
    let (_, _, answer) = call(&app, get(&uri)).await;
    assert_eq!(
        answer["outcome"], "no_history",
        "until the next precompute: {answer}"
    );
    precompute(b).await;
    metered.reset();
    let (_, _, answer) = call(&app, get(&uri)).await;
    assert_eq!(answer["outcome"], "served", "{answer}");
    assert_eq!(metered.counts().reads(), 2);

    // Created with a withdrawal: stopped before any precompute.
    let at = now();
    let valid = CustomerInput {
        email: Some("r103@example.cn".into()),
        ..personalisation(false, at)
    }
    .validate(&ReadOptions::default(), at)
    .expect("valid");
    let origin = Origin {
        source: "api".into(),
        at,
    };
    let refusing = Customer::create(CustomerId::generate(), valid, &origin);
    customers.create(&refusing).await.expect("create");
    metered.reset();
    let uri = format!("/v1/customers/{}/recommendations", refusing.id);
    let (_, _, answer) = call(&app, get(&uri)).await;
    withheld(&answer);
    assert_eq!(metered.counts().reads(), 1);
}

/// Under the opt-in policy only customers who granted personalisation get
/// recommendations; the precompute keeps profiles for them alone.
pub async fn grant_required_serves_only_those_who_granted(b: &Backend) {
    let seeded = seed(b).await;
    let customers = CustomerRepository::new(b.table.clone(), b.privacy.clone());
    decide(
        &customers,
        seeded.regular,
        true,
        now() - Duration::minutes(5),
    )
    .await;
    let report = precompute_with(b, ConsentPolicy::GrantRequired).await;
    assert_eq!(report.profiles, 1, "only the customer who granted");
    assert_eq!(report.not_personalised, seeded.customers - 1);

    let app = router(Arc::new(RecommendApi {
        clock: now,
        consent: ConsentPolicy::GrantRequired,
        ..RecommendApi::new(b.table.clone())
    }));
    let outcome = |id: CustomerId| {
        let app = app.clone();
        async move {
            let uri = format!("/v1/customers/{id}/recommendations");
            let (status, _, answer) = call(&app, get(&uri)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["outcome"].as_str().unwrap_or_default().to_owned()
        }
    };
    assert_eq!(outcome(seeded.regular).await, "served");
    assert_eq!(outcome(seeded.microwave_owner).await, "no_consent");
    assert_eq!(outcome(seeded.newcomer).await, "no_consent");
}

strata_tests::on_every_adapter!(
    grant_required_serves_only_those_who_granted,
    withdrawn_personalisation_serves_nothing,
    precompute_writes_lists_profiles_and_similar_products,
    recommendations_fall_back_by_level_with_reasons_in_two_reads,
    new_customers_get_an_empty_list_and_misses_are_recorded,
);
