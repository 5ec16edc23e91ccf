//! Coupon templates (admins), issuing (ops: one customer, or a whole tier
//! in a resumable bulk issue), a customer's coupons and redeeming one.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use strata_domain::FieldError;
use strata_domain::money::Money;
use strata_domain::rewards::check_reference;
use strata_domain::rewards::coupon::{self, CouponRefusal, CouponTemplate};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::{ApiJson, parse};
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::{CouponIssue, IssueProgress, Issued, Redeemed, StoreError};

use super::{Api, customer, field, stale, store, tier_named};

/// How long one request runs a bulk issue before answering 202; the rest
/// runs when the issue is posted again or by the daily job.
const ISSUE_BUDGET: Duration = Duration::from_secs(20);

fn template_id(raw: &str, name: &str) -> Result<String, Problem> {
    coupon::check_template_id(raw)
        .map(|()| raw.to_owned())
        .map_err(|e| field(e.under(name)))
}

pub(super) async fn templates(State(api): Api) -> Result<Response, Problem> {
    let templates = api.rewards.coupons.templates().await.map_err(store)?;
    Ok(Json(json!({ "templates": templates })).into_response())
}

pub(super) async fn template(State(api): Api, Path(id): Path<String>) -> Result<Response, Problem> {
    let id = template_id(&id, "template")?;
    match api.rewards.coupons.template(&id).await.map_err(store)? {
        Some(stored) => Ok(with_etag(stored.revision, Json(stored).into_response())),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such coupon template",
        )),
    }
}

/// Creates or replaces a template, under its revision (`If-Match`, or the
/// one read just before). Coupons issued already keep their terms.
pub(super) async fn put_template(
    State(api): Api,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let id = template_id(&id, "template")?;
    let template: CouponTemplate = parse(&body)?;
    template.validate().map_err(Problem::from)?;
    let expected = match if_match(&headers)? {
        Some(revision) => revision,
        None => api
            .rewards
            .coupons
            .template(&id)
            .await
            .map_err(store)?
            .map_or(0, |t| t.revision),
    };
    let created = expected == 0;
    let stored = api
        .rewards
        .coupons
        .put_template(&id, template, expected, (api.clock)())
        .await
        .map_err(stale)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(
        stored.revision,
        (status, Json(stored)).into_response(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssueBody {
    /// The caller's name for the issue: posting it again resumes it.
    id: String,
    template: String,
    tier: String,
}

/// Issues a template's coupon to every customer of a tier, once each:
/// posting the same id again resumes where it stopped (and issues no one
/// twice). Answers 200 when done, 202 while customers remain.
pub(super) async fn start_issue(
    State(api): Api,
    ApiJson(body): ApiJson<IssueBody>,
) -> Result<Response, Problem> {
    let id = template_id(&body.id, "id")?;
    let template = template_id(&body.template, "template")?;
    let tier = tier_named("tier", &body.tier)?;
    let Some(stored) = api
        .rewards
        .coupons
        .template(&template)
        .await
        .map_err(store)?
    else {
        return Err(field(FieldError::new(
            "template",
            "unknown_template",
            format!("no coupon template is called {template}"),
        )));
    };
    // Refused up front rather than skipping every customer of the tier.
    if let Err(refusal) = stored.template.issuable(Some(tier), (api.clock)()) {
        let name = if refusal == CouponRefusal::NotEligible {
            "tier"
        } else {
            "template"
        };
        return Err(refused(name, refusal));
    }
    let issue = api
        .rewards
        .coupons
        .start_issue(&CouponIssue {
            id,
            template: template.clone(),
            tier,
            started_at: (api.clock)(),
            progress: IssueProgress::default(),
            cursor: None,
            done: false,
            finished_at: None,
        })
        .await
        .map_err(store)?;
    if issue.template != template || issue.tier != tier {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "issue-exists",
            "An issue with this id exists for another template or tier",
        ));
    }
    let issue = api
        .rewards
        .run_issue(issue, &api.profiles, ISSUE_BUDGET)
        .await
        .map_err(store)?;
    let status = if issue.done {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(issue_view(&issue))).into_response())
}

fn issue_view(issue: &CouponIssue) -> serde_json::Value {
    json!({
        "id": issue.id,
        "template": issue.template,
        "tier": issue.tier,
        "started_at": issue.started_at,
        "done": issue.done,
        "finished_at": issue.finished_at,
        "customers": issue.progress.customers,
        "issued": issue.progress.issued,
        "issued_before": issue.progress.already,
    })
}

pub(super) async fn issue(State(api): Api, Path(id): Path<String>) -> Result<Response, Problem> {
    let id = template_id(&id, "issue")?;
    match api.rewards.coupons.issue_run(&id).await.map_err(store)? {
        Some(issue) => Ok(Json(issue_view(&issue)).into_response()),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such coupon issue",
        )),
    }
}

pub(super) async fn of_customer(
    State(api): Api,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let coupons = api
        .rewards
        .coupons
        .of_customer(customer.id)
        .await
        .map_err(store)?;
    Ok(Json(json!({ "customer_id": customer.id, "coupons": coupons })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssueOneBody {
    template: String,
}

fn refused(field_name: &str, refusal: CouponRefusal) -> Problem {
    field(refusal.on(field_name))
}

/// Issues one coupon of a template to the customer (their tier must be
/// one the template is for).
pub(super) async fn issue_one(
    State(api): Api,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IssueOneBody>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let template = template_id(&body.template, "template")?;
    let issued = api
        .rewards
        .issue_coupon(customer.id, &template, customer.tier, (api.clock)(), None)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { what } => field(FieldError::new(
                "template",
                "unknown_template",
                format!("{what} does not exist"),
            )),
            other => store(other),
        })?
        .map_err(|refusal| refused("template", refusal))?;
    let coupon = match issued {
        Issued::New(coupon) | Issued::Already(coupon) => coupon,
    };
    Ok((StatusCode::CREATED, Json(coupon)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeemBody {
    /// The checkout or order it is redeemed for: redeeming again for the
    /// same reference is the same redemption.
    reference: String,
    /// The order's total (decimal text in the shop's currency), checked
    /// against the coupon's minimum spend.
    #[serde(default)]
    order_total: Option<String>,
}

/// Redeems the customer's coupon, once: of two redemptions at once, one wins.
pub(super) async fn redeem(
    State(api): Api,
    Path((id, code)): Path<(String, String)>,
    ApiJson(body): ApiJson<RedeemBody>,
) -> Result<Response, Problem> {
    let customer = customer(&api, &id).await?;
    let code = coupon::check_code("code", &code).map_err(field)?;
    let reference = check_reference("reference", &body.reference).map_err(field)?;
    let spend = body
        .order_total
        .as_deref()
        .map(|raw| Money::parse("order_total", raw, api.rewards.currency).map(|m| m.minor))
        .transpose()
        .map_err(field)?;
    let redeemed = api
        .rewards
        .coupons
        .redeem(customer.id, &code, &reference, spend, (api.clock)())
        .await
        .map_err(store)?
        .map_err(|refusal| match refusal {
            CouponRefusal::BelowMinimumSpend => refused("order_total", refusal),
            other => refused("code", other),
        })?;
    let (status, coupon) = match redeemed {
        Redeemed::Now(coupon) => (StatusCode::CREATED, coupon),
        Redeemed::Already(coupon) => (StatusCode::OK, coupon),
    };
    let discount = spend.map(|spend| coupon.discount_on(spend));
    Ok((
        status,
        Json(json!({ "coupon": coupon, "discount_minor": discount })),
    )
        .into_response())
}
