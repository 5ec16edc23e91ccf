use chrono::{Duration, TimeZone};

use super::*;

fn at(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(days)
}

/// A history of `purchases` evenly spread from day 0 to `last_day`.
fn history(purchases: u32, last_day: i64, spent_minor: i64, items: u64) -> ActivitySummary {
    let mut summary = ActivitySummary {
        purchases,
        first_purchase_at: Some(at(0)),
        last_purchase_at: Some(at(last_day)),
        items_bought: items,
        ..ActivitySummary::default()
    };
    summary.spent.insert(Currency::USD, spent_minor);
    summary
}

#[test]
fn the_default_policy_is_valid() {
    ValuePolicy::default().validate().expect("valid");
}

#[test]
fn no_purchase_no_tier() {
    let policy = ValuePolicy::default();
    assert_eq!(
        policy.assess(&ActivitySummary::default(), Currency::USD, at(10)),
        None
    );
    // Every order returned: no purchase left.
    let returned = ActivitySummary {
        returns: 2,
        ..ActivitySummary::default()
    };
    assert_eq!(policy.assess(&returned, Currency::USD, at(10)), None);
}

#[test]
fn a_loyal_big_spender_is_diamond_and_premium_and_a_one_off_small_buyer_bronze() {
    let policy = ValuePolicy::default();
    let loyal = policy
        .assess(&history(40, 720, 900_000, 180), Currency::USD, at(730))
        .unwrap();
    assert_eq!(loyal.tier, Tier::Diamond, "{loyal:?}");
    assert!(loyal.premium);
    assert!(loyal.components.tenure == FULL && loyal.components.activity > 850);

    let one_off = policy
        .assess(&history(1, 0, 1_500, 1), Currency::USD, at(400))
        .unwrap();
    assert_eq!(one_off.tier, Tier::Bronze, "{one_off:?}");
    assert!(!one_off.premium);
    assert_eq!(one_off.as_of, at(400));
}

#[test]
fn more_of_any_component_never_lowers_the_coefficient() {
    let policy = ValuePolicy::default();
    let base = history(3, 100, 20_000, 6);
    let coefficient =
        |s: &ActivitySummary, as_of| policy.assess(s, Currency::USD, as_of).unwrap().coefficient;
    let c = coefficient(&base, at(120));
    assert!(
        coefficient(&history(3, 100, 80_000, 6), at(120)) > c,
        "spend"
    );
    assert!(
        coefficient(&history(3, 100, 20_000, 30), at(120)) > c,
        "items"
    );
    assert!(
        coefficient(&history(6, 100, 20_000, 6), at(120)) > c,
        "interval"
    );
    // Time passing without a purchase: tenure grows, recency decays; after a
    // long silence the decay wins.
    assert!(coefficient(&base, at(900)) < c, "decay");
}

#[test]
fn spend_in_other_currencies_does_not_count() {
    let policy = ValuePolicy::default();
    let mut summary = history(2, 30, 50_000, 4);
    let usd = policy.assess(&summary, Currency::USD, at(40)).unwrap();
    summary.spent.insert(Currency::CNY, 9_000_000);
    assert_eq!(policy.assess(&summary, Currency::USD, at(40)), Some(usd));
}

#[test]
fn returned_orders_cost_points() {
    let policy = ValuePolicy::default();
    let kept = history(4, 90, 60_000, 8);
    let with_returns = ActivitySummary {
        returns: 4,
        ..kept.clone()
    };
    let before = policy.assess(&kept, Currency::USD, at(100)).unwrap();
    let after = policy
        .assess(&with_returns, Currency::USD, at(100))
        .unwrap();
    // Half the orders returned, penalty 500‰: a quarter off (both sides
    // rounded once, so within a point).
    let expected = (f64::from(before.coefficient) * 0.75).round() as i64;
    assert!(
        (i64::from(after.coefficient) - expected).abs() <= 1,
        "{before:?} → {after:?}"
    );
    assert_eq!(after.components, before.components);
}

#[test]
fn tiers_follow_the_bounds() {
    let policy = ValuePolicy::default();
    let t = policy.tiers;
    assert_eq!(policy.tier_of(FULL), Tier::Diamond);
    assert_eq!(policy.tier_of(t.diamond), Tier::Diamond);
    assert_eq!(policy.tier_of(t.diamond - 1), Tier::Platinum);
    assert_eq!(policy.tier_of(t.gold), Tier::Gold);
    assert_eq!(policy.tier_of(t.silver), Tier::Silver);
    assert_eq!(policy.tier_of(t.silver - 1), Tier::Bronze);
    assert_eq!(policy.tier_of(0), Tier::Bronze);
}

#[test]
fn a_bad_policy_names_each_field() {
    let mut policy = ValuePolicy {
        weights: Weights {
            tenure: 0,
            activity: 0,
            spend: 0,
            quantity: 0,
        },
        ..ValuePolicy::default()
    };
    policy.normalisation.recency_half_life_days = 0;
    policy.normalisation.spend_full_minor = policy.normalisation.spend_unit_minor;
    policy.normalisation.returns_penalty_permille = 1001;
    policy.tiers.gold = policy.tiers.platinum;
    policy.premium_at = 0;
    let invalid = policy.validate().unwrap_err();
    let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "weights",
            "normalisation.recency_half_life_days",
            "normalisation.spend_full_minor",
            "normalisation.returns_penalty_permille",
            "tiers.gold",
            "premium_at",
        ]
    );
}

#[test]
fn huge_weights_are_refused_not_summed_over() {
    let policy = ValuePolicy {
        weights: Weights {
            tenure: u32::MAX,
            activity: u32::MAX,
            spend: 1,
            quantity: 1,
        },
        ..ValuePolicy::default()
    };
    let invalid = policy.validate().unwrap_err();
    let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["weights.tenure", "weights.activity"]);
}

#[test]
fn an_unknown_policy_field_is_refused() {
    let mut json = serde_json::to_value(ValuePolicy::default()).unwrap();
    json["tiers"]["copper"] = 10.into();
    let error = serde_json::from_value::<ValuePolicy>(json).unwrap_err();
    assert!(error.to_string().contains("copper"), "{error}");
}

#[test]
fn changes_are_recorded_only_when_the_standing_moves() {
    let policy = ValuePolicy::default();
    let low = policy
        .assess(&history(1, 0, 1_500, 1), Currency::USD, at(10))
        .unwrap();
    let lower_coefficient = ValueAssessment {
        coefficient: low.coefficient - 1,
        ..low
    };
    assert!(low.same_standing(&lower_coefficient));
    assert_eq!(
        TierChange::between(
            Some(&low),
            Some(&lower_coefficient),
            at(11),
            AssessmentCause::Refresh
        ),
        None
    );
    let high = policy
        .assess(&history(40, 720, 900_000, 180), Currency::USD, at(730))
        .unwrap();
    let up =
        TierChange::between(Some(&low), Some(&high), at(730), AssessmentCause::Purchases).unwrap();
    assert_eq!((up.from, up.to), (Some(Tier::Bronze), Some(Tier::Diamond)));
    assert!(up.premium_after && !up.premium_before);
    assert_eq!(up.direction(), std::cmp::Ordering::Greater);
    let out = TierChange::between(Some(&high), None, at(731), AssessmentCause::Purchases).unwrap();
    assert_eq!(out.direction(), std::cmp::Ordering::Less);
    assert_eq!(out.coefficient, None);
}
