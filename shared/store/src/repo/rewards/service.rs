//! The rewards service every writer shares: what a chunk of orders and
//! reviews earns (ingest), what reaching a tier grants (ingest and the
//! value refresh), redemptions, adjustments and claw-backs (the API), and
//! the expiry run (the value job). The rules are the domain's
//! (`strata_domain::rewards`); this composes them with the repositories.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::customer::Tier;
use strata_domain::ids::CustomerId;
use strata_domain::money::Currency;
use strata_domain::order::Order;
use strata_domain::ports::table::{Cursor, Table};
use strata_domain::review::Review;
use strata_domain::rewards::RewardsPolicy;
use strata_domain::rewards::coupon::CouponRefusal;
use strata_domain::rewards::ledger::{self, EntryKind, LedgerEntry};

use super::{
    CouponIssue, CouponRepository, Issued, PointsLedger, Posted, ReferralRepository,
    RewardsPolicies,
};
use crate::error::StoreError;
use crate::repo::customers::CustomerRepository;
use crate::repo::value::TierChangeRecord;

/// Customers of a tier a bulk issue reads per page.
const ISSUE_PAGE: u32 = 100;

/// What a chunk earned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Earned {
    pub entries: u64,
    pub points: i64,
}

/// What an expiry run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Expired {
    pub customers: u64,
    pub points: i64,
    pub coupons: u64,
}

#[derive(Clone)]
pub struct Rewards {
    pub policies: RewardsPolicies,
    pub ledger: PointsLedger,
    pub coupons: CouponRepository,
    pub referrals: ReferralRepository,
    /// The shop's currency: only orders in it earn points.
    pub currency: Currency,
}

fn entry(kind: EntryKind, points: i64, at: DateTime<Utc>, source: &str) -> LedgerEntry {
    LedgerEntry {
        id: uuid::Uuid::now_v7().simple().to_string(),
        kind,
        points,
        at,
        source: source.to_owned(),
        expires_at: None,
        unrecovered: None,
        note: None,
    }
}

impl Rewards {
    pub fn new(table: Arc<dyn Table>, currency: Currency) -> Self {
        Rewards {
            policies: RewardsPolicies::new(table.clone()),
            ledger: PointsLedger::new(table.clone()),
            coupons: CouponRepository::new(table.clone()),
            referrals: ReferralRepository::new(table),
            currency,
        }
    }

    /// Credits what a chunk's stored orders and reviews earn: each purchase
    /// at its customer's tier (`tiers`, after the chunk), each review, and
    /// each referrer whose referred customer bought. Every credit is
    /// idempotent by its source, so a chunk applied again earns nothing
    /// twice; refunded and cancelled orders earn nothing.
    pub async fn earn(
        &self,
        policy: &RewardsPolicy,
        orders: &[Order],
        reviews: &[Review],
        tiers: &HashMap<CustomerId, Option<Tier>>,
    ) -> Result<Earned, StoreError> {
        let mut credits: HashMap<CustomerId, Vec<LedgerEntry>> = HashMap::new();
        let mut buyers = Vec::new();
        for order in orders.iter().filter(|o| o.status.is_purchase()) {
            let tier = tiers.get(&order.customer_id).copied().flatten();
            let points = policy.purchase_points(
                order.total.minor,
                order.total.currency,
                self.currency,
                tier,
            );
            if !buyers.contains(&order.customer_id) {
                buyers.push(order.customer_id);
            }
            if points > 0 {
                let mut credit = entry(
                    EntryKind::Purchase,
                    points,
                    order.placed_at,
                    order.id.as_str(),
                );
                credit.expires_at = Some(policy.expiry_of(order.placed_at));
                credits.entry(order.customer_id).or_default().push(credit);
            }
        }
        if policy.review_points > 0 {
            for review in reviews {
                let mut credit = entry(
                    EntryKind::Review,
                    i64::from(policy.review_points),
                    review.at,
                    &review.id.to_string(),
                );
                credit.expires_at = Some(policy.expiry_of(review.at));
                credits.entry(review.customer_id).or_default().push(credit);
            }
        }
        let mut earned = Earned::default();
        if policy.referral_points > 0 {
            let first_buys: HashMap<CustomerId, DateTime<Utc>> = orders
                .iter()
                .filter(|o| o.status.is_purchase())
                .fold(HashMap::new(), |mut first, o| {
                    let at = first.entry(o.customer_id).or_insert(o.placed_at);
                    *at = (*at).min(o.placed_at);
                    first
                });
            for (referred, link) in self.referrals.links_of(&buyers).await? {
                if link.rewarded_at.is_some() {
                    continue;
                }
                let at = first_buys
                    .get(&referred)
                    .copied()
                    .unwrap_or_else(Utc::now)
                    .max(link.linked_at);
                let mut credit = entry(
                    EntryKind::Referral,
                    i64::from(policy.referral_points),
                    at,
                    &referred.to_string(),
                );
                credit.expires_at = Some(policy.expiry_of(at));
                // Posted once (its guard); then the link says so, and later
                // purchases do not try again.
                if self.ledger.credit(link.referrer, &credit).await? == Posted::Recorded {
                    earned.entries += 1;
                    earned.points += credit.points;
                }
                self.referrals.mark_rewarded(referred, at).await?;
            }
        }
        let credits: Vec<(CustomerId, Vec<LedgerEntry>)> = credits.into_iter().collect();
        let recorded = self.ledger.credit_customers(&credits).await?;
        for ((_, entries), recorded) in credits.iter().zip(recorded) {
            earned.entries += recorded;
            if recorded == entries.len() as u64 {
                earned.points += entries.iter().map(|e| e.points).sum::<i64>();
            }
        }
        Ok(earned)
    }

    /// Issues the coupons each upward move grants (the tier's templates),
    /// once per tier, template and benefit period: the code is derived
    /// from all three. Returns the coupons issued now.
    pub async fn grant_tier_benefits(
        &self,
        policy: &RewardsPolicy,
        changes: &[TierChangeRecord],
    ) -> Result<u64, StoreError> {
        let mut issued = 0;
        for record in changes {
            let change = &record.change;
            let Some(to) = change.to else { continue };
            if change.from.is_some_and(|from| from <= to) {
                // Tier order is best first: `from <= to` is not a move up.
                continue;
            }
            let period = policy.benefit_period.name(change.at);
            for template in policy.coupons_of(to) {
                let grant = format!("tier:{}:{period}:{template}", to.name());
                match self
                    .issue_coupon(
                        record.customer_id,
                        template,
                        Some(to),
                        change.at,
                        Some(&grant),
                    )
                    .await?
                {
                    Ok(Issued::New(_)) => issued += 1,
                    Ok(Issued::Already(_)) => {}
                    // A template removed or ended since the policy named it.
                    Err(refusal) => {
                        tracing::warn!(customer = %record.customer_id, template, %refusal, "tier coupon not granted")
                    }
                }
            }
        }
        Ok(issued)
    }

    /// Issues one coupon of a template to a customer of `tier`. With a
    /// `grant` (a bulk issue or a tier benefit) the code is derived from it,
    /// so issuing again issues nothing new; without, it is random.
    pub async fn issue_coupon(
        &self,
        customer: CustomerId,
        template_id: &str,
        tier: Option<Tier>,
        at: DateTime<Utc>,
        grant: Option<&str>,
    ) -> Result<Result<Issued, CouponRefusal>, StoreError> {
        let Some(stored) = self.coupons.template(template_id).await? else {
            return Err(StoreError::NotFound {
                what: format!("coupon template {template_id}"),
            });
        };
        if let Err(refusal) = stored.template.issuable(tier, at) {
            return Ok(Err(refusal));
        }
        let code = match grant {
            Some(grant) => CouponRepository::derived_code(grant, customer),
            None => strata_domain::rewards::coupon::code_from(rand_seed()),
        };
        let coupon =
            stored
                .template
                .issue(template_id, code, customer, at, grant.map(str::to_owned));
        Ok(Ok(self.coupons.issue(&coupon).await?))
    }

    /// Runs a bulk issue on from where it got to, page by page (saving its
    /// place after each), until it is done or `budget` is spent.
    pub async fn run_issue(
        &self,
        mut issue: CouponIssue,
        profiles: &CustomerRepository,
        budget: Duration,
    ) -> Result<CouponIssue, StoreError> {
        let started = Instant::now();
        let grant = format!("issue:{}", issue.id);
        while !issue.done && started.elapsed() < budget {
            let page = profiles
                .list_by_tier(issue.tier, issue.cursor.clone().map(Cursor), ISSUE_PAGE)
                .await?;
            for profile in &page.customers {
                issue.progress.customers += 1;
                match self
                    .issue_coupon(
                        profile.id,
                        &issue.template,
                        profile.tier,
                        issue.started_at,
                        Some(&grant),
                    )
                    .await?
                {
                    Ok(Issued::New(_)) => issue.progress.issued += 1,
                    Ok(Issued::Already(_)) => issue.progress.already += 1,
                    // Moved out of the tier since the index was read.
                    Err(_) => {}
                }
            }
            issue.cursor = page.next.map(|c| c.0);
            if issue.cursor.is_none() {
                issue.done = true;
                issue.finished_at = Some(Utc::now());
            }
            self.coupons.save_issue(&issue).await?;
        }
        Ok(issue)
    }

    /// Spends points for `reference` (a checkout), once: what expired by
    /// `now` goes first, so expired points are never spent.
    pub async fn redeem_points(
        &self,
        customer: CustomerId,
        points: i64,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<(Posted, LedgerEntry), StoreError> {
        self.ledger.expire_due(customer, now).await?;
        let debit = entry(EntryKind::Redemption, -points, now, reference);
        let posted = self.ledger.debit(customer, &debit).await?;
        Ok((posted, debit))
    }

    /// Points given (`points > 0`) or taken (`< 0`) by staff, once per reference.
    pub async fn adjust(
        &self,
        policy: &RewardsPolicy,
        customer: CustomerId,
        points: i64,
        reference: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(Posted, LedgerEntry), StoreError> {
        let mut adjustment = entry(EntryKind::Adjustment, points, now, reference);
        adjustment.note = note;
        // What expired goes first, so the balance answered is what can be spent.
        self.ledger.expire_due(customer, now).await?;
        let posted = if points > 0 {
            adjustment.expires_at = Some(policy.expiry_of(now));
            self.ledger.credit(customer, &adjustment).await?
        } else {
            self.ledger.debit(customer, &adjustment).await?
        };
        Ok((posted, adjustment))
    }

    /// Takes back what a refunded or cancelled order earned, once: as much
    /// as the balance still holds; what was spent already is recorded as
    /// unrecovered. `None` when the order earned nothing.
    pub async fn clawback(
        &self,
        customer: CustomerId,
        order: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        for _ in 0..4 {
            let entries = self.ledger.entries(customer).await?;
            let Some(earned) = ledger::earned_by_order(&entries, order) else {
                return Ok(None);
            };
            if let Some(done) = entries
                .iter()
                .find(|e| e.kind == EntryKind::Clawback && e.source == order)
            {
                return Ok(Some(done.clone()));
            }
            let available = ledger::balance(&entries).max(0);
            let take = earned.min(available);
            let mut clawback = entry(EntryKind::Clawback, -take, now, order);
            clawback.unrecovered = (take < earned).then_some(earned - take);
            if take == 0 {
                // Everything was spent: there is nothing to post, and the
                // answer (all unrecovered) is the same each time it is asked.
                return Ok(Some(clawback));
            }
            match self.ledger.debit(customer, &clawback).await {
                Ok(_) => return Ok(Some(clawback)),
                // Spent meanwhile: take what is left now.
                Err(StoreError::InsufficientPoints { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict {
            what: format!("the points balance of customer {customer}"),
        })
    }

    /// Expires what is due by `as_of`: every customer's expired lots and
    /// every issued coupon past its end.
    pub async fn expire(&self, as_of: DateTime<Utc>) -> Result<Expired, StoreError> {
        let mut report = Expired::default();
        for customer in self.ledger.customers_with_due_lots(as_of).await? {
            report.customers += 1;
            report.points += self.ledger.expire_due(customer, as_of).await?;
        }
        report.coupons = self.coupons.expire_due(as_of).await?;
        Ok(report)
    }
}

fn rand_seed() -> u64 {
    // The low 64 bits of a v7 id are (but for two variant bits) random.
    uuid::Uuid::now_v7().as_u128() as u64
}
