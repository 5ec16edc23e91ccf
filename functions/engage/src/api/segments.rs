//! Segments: the ordered list (`definition`, under its revision with
//! `ETag`/`If-Match`), its sizes now, a draft's sizes before it is saved,
//! and one segment's members.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use strata_domain::engage::{SegmentId, SegmentList};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::parse;
use strata_lambda_kit::paging::{cursor_in, cursor_out, page_limit};
use strata_lambda_kit::revision::{if_match, with_etag};
use strata_store::{StoreError, StoredSegments};

use super::{EngageApi, field, store};

type Api = State<Arc<EngageApi>>;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
/// How long a preview reads customers before answering with what it has.
const PREVIEW_BUDGET: Duration = Duration::from_secs(20);

fn stored_json(stored: &StoredSegments) -> Value {
    json!({
        "definition": stored.list,
        "revision": stored.revision,
        "updated_at": stored.updated_at,
    })
}

/// The segments in order with their sizes now: the last nightly run's
/// counts plus the changes writes recorded since (`null` before any run).
pub(super) async fn overview(State(api): Api) -> Result<Response, Problem> {
    let stored = api.segments.definition().await.map_err(store)?;
    let sizes = api.segments.sizes_now().await.map_err(store)?;
    let segments: Vec<Value> = stored
        .list
        .segments
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "size": sizes.as_ref().map(|z| z.sizes.get(&s.id).copied().unwrap_or(0)),
            })
        })
        .collect();
    Ok(Json(json!({
        "revision": stored.revision,
        "segments": segments,
        "unsegmented": sizes.as_ref().map(|z| z.unsegmented),
        "counted_at": sizes.as_ref().and_then(|z| z.taken_at),
        "counted_revision": sizes.as_ref().map(|z| z.revision),
        "as_of": (api.clock)(),
    }))
    .into_response())
}

pub(super) async fn definition(State(api): Api) -> Result<Response, Problem> {
    let stored = api.segments.definition().await.map_err(store)?;
    Ok(with_etag(
        stored.revision,
        Json(stored_json(&stored)).into_response(),
    ))
}

/// A list from a body, every bad field named by its path.
fn list_of(body: &[u8]) -> Result<SegmentList, Problem> {
    let value: Value = parse(body)?;
    SegmentList::parse(&value).map_err(Problem::from)
}

/// Replaces the list, under its revision (`If-Match`, or the one read just
/// before). Customers move at the next nightly run.
pub(super) async fn put_definition(
    State(api): Api,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let list = list_of(&body)?;
    let expected = match if_match(&headers)? {
        Some(revision) => revision,
        None => api.segments.definition().await.map_err(store)?.revision,
    };
    let stored = api
        .segments
        .put_definition(list, expected, (api.clock)())
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-revision",
                "The segment list was changed meanwhile",
            )
            .detail("read it again and send the new ETag in If-Match"),
            other => store(other),
        })?;
    Ok(with_etag(
        stored.revision,
        Json(stored_json(&stored)).into_response(),
    ))
}

/// A draft list's sizes on the current data (nothing saved).
pub(super) async fn preview(State(api): Api, body: axum::body::Bytes) -> Result<Response, Problem> {
    let list = list_of(&body)?;
    let preview = api
        .segmenter
        .preview(list, api.settings, (api.clock)(), PREVIEW_BUDGET)
        .await
        .map_err(|e| match e {
            crate::segmenter::SegmentError::Store(e) => store(e),
        })?;
    Ok(Json(preview).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One segment's members, paged (profiles without personal fields).
pub(super) async fn customers(
    State(api): Api,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, Problem> {
    let id = SegmentId::parse("segment", &raw).map_err(field)?;
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let start = cursor_in(query.cursor.as_deref())?;
    let stored = api.segments.definition().await.map_err(store)?;
    if stored.list.get(&id).is_none() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such segment",
        ));
    }
    let page = api
        .profiles
        .list_by_segment(id.as_str(), start, limit)
        .await
        .map_err(store)?;
    let customers: Vec<Value> = page
        .customers
        .iter()
        .map(|c| {
            json!({
                "customer_id": c.id,
                "stage": c.activity.stage(),
                "tier": c.tier,
                "last_purchase_at": c.activity.last_purchase_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "segment": id,
        "customers": customers,
        "next": page.next.as_ref().map(cursor_out),
    }))
    .into_response())
}
