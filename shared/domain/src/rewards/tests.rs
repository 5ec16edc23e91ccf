use chrono::{DateTime, Duration, TimeZone, Utc};

use super::coupon::{self, CouponRefusal, CouponTemplate, Discount};
use super::ledger::{self, EntryKind, LedgerEntry};
use super::referral::{self, ReferralRefusal};
use super::*;
use crate::customer::Tier;
use crate::ids::CustomerId;
use crate::money::Currency;

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(n)
}

fn entry(id: &str, kind: EntryKind, points: i64, at: i64, source: &str) -> LedgerEntry {
    LedgerEntry {
        id: id.into(),
        kind,
        points,
        at: day(at),
        source: source.into(),
        expires_at: (points > 0).then(|| day(at + 365)),
        unrecovered: None,
        note: None,
    }
}

fn usd() -> Currency {
    Currency::parse("currency", "USD").unwrap()
}

#[test]
fn purchases_earn_per_whole_unit_times_the_tier_multiplier() {
    let policy = RewardsPolicy::default();
    assert_eq!(policy.purchase_points(12_999, usd(), usd(), None), 129);
    assert_eq!(
        policy.purchase_points(12_999, usd(), usd(), Some(Tier::Diamond)),
        259
    );
    assert_eq!(
        policy.purchase_points(12_999, usd(), usd(), Some(Tier::Gold)),
        162
    );
    let eur = Currency::parse("currency", "EUR").unwrap();
    assert_eq!(policy.purchase_points(12_999, eur, usd(), None), 0);
    let jpy = Currency::parse("currency", "JPY").unwrap();
    assert_eq!(policy.purchase_points(1_500, jpy, jpy, None), 1_500);
    assert_eq!(policy.purchase_points(-500, usd(), usd(), None), 0);
}

#[test]
fn a_bad_policy_names_each_field() {
    let mut policy = RewardsPolicy {
        expiry_months: 0,
        ..RewardsPolicy::default()
    };
    policy.tiers.remove(&Tier::Gold);
    policy
        .tiers
        .get_mut(&Tier::Diamond)
        .unwrap()
        .multiplier_permille = 20_000;
    policy
        .tiers
        .get_mut(&Tier::Silver)
        .unwrap()
        .coupons
        .push("Not An Id".into());
    let fields: Vec<String> = policy
        .validate()
        .unwrap_err()
        .errors
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "expiry_months",
            "tiers.diamond.multiplier_permille",
            "tiers.gold",
            "tiers.silver.coupons[0]"
        ]
    );
    assert!(RewardsPolicy::default().validate().is_ok());
}

#[test]
fn redemptions_take_the_lots_that_expire_first() {
    let entries = vec![
        entry("1", EntryKind::Purchase, 100, 0, "A"),
        entry("2", EntryKind::Review, 20, 10, "R"),
        entry("3", EntryKind::Redemption, -110, 20, "checkout-1"),
    ];
    let lots = ledger::lots(&entries);
    assert_eq!(
        lots.iter().map(|l| l.remaining).collect::<Vec<_>>(),
        [0, 10]
    );
    assert_eq!(ledger::balance(&entries), 10);
    // The review's lot expires on day 375: 10 points are due then, not before.
    assert!(ledger::due_expiries(&entries, day(374)).is_empty());
    let due = ledger::due_expiries(&entries, day(375));
    assert_eq!(
        (due.len(), due[0].entry.as_str(), due[0].remaining),
        (1, "2", 10)
    );
}

#[test]
fn an_expiry_takes_only_what_is_left_of_its_lot() {
    let mut entries = vec![
        entry("1", EntryKind::Purchase, 100, 0, "A"),
        entry("2", EntryKind::Purchase, 50, 100, "B"),
        entry("3", EntryKind::Redemption, -30, 200, "x"),
    ];
    let due = ledger::due_expiries(&entries, day(365));
    assert_eq!((due[0].entry.as_str(), due[0].remaining), ("1", 70));
    entries.push(entry("4", EntryKind::Expiry, -70, 365, "1"));
    assert!(ledger::due_expiries(&entries, day(400)).is_empty());
    assert_eq!(ledger::balance(&entries), 50);
    // A redemption after the first lot expired does not touch it.
    entries.push(entry("5", EntryKind::Redemption, -20, 401, "y"));
    let lots = ledger::lots(&entries);
    assert_eq!(lots[1].remaining, 30);
}

#[test]
fn a_clawback_takes_its_orders_lot_first() {
    let entries = vec![
        entry("1", EntryKind::Purchase, 100, 0, "A"),
        entry("2", EntryKind::Purchase, 40, 1, "B"),
        entry("3", EntryKind::Clawback, -40, 2, "B"),
    ];
    let lots = ledger::lots(&entries);
    assert_eq!(
        lots.iter().map(|l| l.remaining).collect::<Vec<_>>(),
        [100, 0]
    );
    assert_eq!(ledger::earned_by_order(&entries, "B"), Some(40));
    assert_eq!(ledger::left_of_order(&entries, "A"), 100);
}

#[test]
fn points_and_references_are_checked() {
    assert!(check_points("points", 1).is_ok());
    for bad in [0, -5, MAX_POINTS + 1] {
        assert_eq!(check_points("points", bad).unwrap_err().field, "points");
    }
    assert_eq!(not_whole_points("points").code, "not_an_integer");
    assert!(check_reference("reference", "  checkout-17 ").is_ok());
    assert!(check_reference("reference", "").is_err());
    assert!(check_reference("reference", "a#b").is_err());
}

fn template() -> CouponTemplate {
    CouponTemplate {
        name: "Ten off".into(),
        discount: Discount::Amount { minor: 1000 },
        min_spend_minor: 5000,
        valid_days: 30,
        valid_from: None,
        valid_until: Some(day(20)),
        tiers: vec![Tier::Gold, Tier::Diamond],
    }
}

#[test]
fn coupons_follow_their_templates_terms() {
    let template = template();
    assert!(template.validate().is_ok());
    assert_eq!(
        template.issuable(Some(Tier::Silver), day(0)),
        Err(CouponRefusal::NotEligible)
    );
    assert_eq!(
        template.issuable(None, day(0)),
        Err(CouponRefusal::NotEligible)
    );
    assert_eq!(
        template.issuable(Some(Tier::Gold), day(20)),
        Err(CouponRefusal::TemplateEnded)
    );
    let customer = CustomerId::generate();
    let coupon = template.issue("ten-off", coupon::code_from(7), customer, day(0), None);
    // The template's end cuts the 30 days short.
    assert_eq!(coupon.expires_at, day(20));
    assert_eq!(
        coupon.redeemable(day(1), "o-1", Some(4999)),
        Err(CouponRefusal::BelowMinimumSpend)
    );
    assert_eq!(coupon.redeemable(day(1), "o-1", Some(5000)), Ok(()));
    assert_eq!(
        coupon.redeemable(day(20), "o-1", Some(5000)),
        Err(CouponRefusal::Expired)
    );
    let redeemed = coupon::IssuedCoupon {
        state: CouponState::Redeemed,
        redeemed_for: Some("o-1".into()),
        ..coupon.clone()
    };
    assert_eq!(redeemed.redeemable(day(1), "o-1", Some(5000)), Ok(()));
    assert_eq!(
        redeemed.redeemable(day(1), "o-2", Some(5000)),
        Err(CouponRefusal::AlreadyRedeemed)
    );
    assert_eq!(coupon.discount_on(700), 700);
    let percent = coupon::IssuedCoupon {
        discount: Discount::Percent { percent: 15 },
        ..coupon
    };
    assert_eq!(percent.discount_on(10_000), 1_500);
}

#[test]
fn bad_templates_name_each_field() {
    let bad = CouponTemplate {
        name: " ".into(),
        discount: Discount::Percent { percent: 0 },
        min_spend_minor: -1,
        valid_days: 0,
        valid_from: Some(day(5)),
        valid_until: Some(day(5)),
        tiers: Vec::new(),
    };
    let fields: Vec<String> = bad
        .validate()
        .unwrap_err()
        .errors
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "discount.percent",
            "min_spend_minor",
            "valid_days",
            "valid_until"
        ]
    );
    assert!(coupon::check_template_id("spring-10").is_ok());
    assert!(coupon::check_template_id("Spring").is_err());
    assert_eq!(coupon::check_code("code", " ab12cd ").unwrap(), "AB12CD");
    assert!(coupon::check_code("code", "ab-12").is_err());
}

#[test]
fn referrals_refuse_self_loops_repeats_and_buyers() {
    let (a, b, c) = (
        CustomerId::generate(),
        CustomerId::generate(),
        CustomerId::generate(),
    );
    assert_eq!(referral::check(a, 0, None, b, &[]), Ok(()));
    assert_eq!(
        referral::check(a, 0, None, a, &[]),
        Err(ReferralRefusal::SelfReferral)
    );
    // c referred b, b referred a: a cannot refer c.
    assert_eq!(
        referral::check(c, 0, None, a, &[b, c]),
        Err(ReferralRefusal::Loop)
    );
    assert_eq!(
        referral::check(a, 0, Some(c), b, &[]),
        Err(ReferralRefusal::AlreadyReferred)
    );
    assert_eq!(referral::check(a, 3, Some(b), b, &[]), Ok(()));
    assert_eq!(
        referral::check(a, 1, None, b, &[]),
        Err(ReferralRefusal::NotNew)
    );
    assert_eq!(referral::code_from(u64::MAX).len(), 10);
}

#[test]
fn benefit_periods_name_the_period() {
    let at = Utc.with_ymd_and_hms(2026, 11, 5, 0, 0, 0).unwrap();
    assert_eq!(BenefitPeriod::Year.name(at), "2026");
    assert_eq!(BenefitPeriod::Quarter.name(at), "2026-q4");
    assert_eq!(BenefitPeriod::Month.name(at), "2026-11");
}
