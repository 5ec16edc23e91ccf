//! Strategies: one per segment, each under its own revision
//! (`ETag`/`If-Match`). A strategy names a segment of the current list, and
//! its team and offer (a coupon template) must exist.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use strata_domain::engage::{SegmentId, Strategy};
use strata_domain::{FieldError, Invalid};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::parse;
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::StoreError;

use super::{EngageApi, field, store};

type Api = State<Arc<EngageApi>>;

fn no_strategy() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "The segment has no strategy",
    )
}

/// Every segment's strategy, in the list's order; segments without one
/// are listed with `null`.
pub(super) async fn all(State(api): Api) -> Result<Response, Problem> {
    let list = api.segments.definition().await.map_err(store)?.list;
    let stored = api.strategies.all().await.map_err(store)?;
    let strategies: Vec<_> = list
        .segments
        .iter()
        .map(|segment| {
            let strategy = stored.iter().find(|s| s.segment == segment.id);
            json!({ "segment": segment.id, "name": segment.name, "strategy": strategy })
        })
        .collect();
    Ok(Json(json!({ "strategies": strategies })).into_response())
}

pub(super) async fn one(State(api): Api, Path(raw): Path<String>) -> Result<Response, Problem> {
    let segment = SegmentId::parse("segment", &raw).map_err(field)?;
    let stored = api
        .strategies
        .get(&segment)
        .await
        .map_err(store)?
        .ok_or_else(no_strategy)?;
    Ok(with_etag(stored.revision, Json(stored).into_response()))
}

/// Creates or replaces a segment's strategy (201 when new), under its
/// revision (`If-Match`, or the one read just before).
pub(super) async fn put(
    State(api): Api,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let segment = SegmentId::parse("segment", &raw).map_err(field)?;
    let strategy: Strategy = parse(&body)?;
    let strategy = strategy.validate().map_err(Problem::from)?;
    let list = api.segments.definition().await.map_err(store)?.list;
    if list.get(&segment).is_none() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such segment in the list in force",
        ));
    }
    let mut unknown = Vec::new();
    if let Some(team) = &strategy.team
        && api.team.team(team).await.map_err(store)?.is_none()
    {
        unknown.push(FieldError::new(
            "team",
            "unknown_team",
            format!("no team `{team}`"),
        ));
    }
    if let Some(offer) = &strategy.offer
        && api.coupons.template(offer).await.map_err(store)?.is_none()
    {
        unknown.push(FieldError::new(
            "offer",
            "unknown_template",
            format!("no coupon template `{offer}`"),
        ));
    }
    if !unknown.is_empty() {
        return Err(Problem::from(Invalid { errors: unknown }));
    }
    let current = api.strategies.get(&segment).await.map_err(store)?;
    let expected = match if_match(&headers)? {
        Some(revision) => revision,
        None => current.as_ref().map_or(0, |s| s.revision),
    };
    let stored = api
        .strategies
        .put(segment, strategy, expected, (api.clock)())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "The strategy was changed meanwhile",
            )
            .detail("read it again and send the new ETag in If-Match"),
            other => store(other),
        })?;
    let status = if stored.revision == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(&stored)).into_response();
    response = with_etag(stored.revision, response);
    Ok(response)
}
