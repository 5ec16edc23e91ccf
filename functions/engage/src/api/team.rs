//! The sales team's directory: salespeople and teams, kept by admins.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use strata_domain::engage::team::{SalespersonInput, TeamInput};
use strata_domain::ids::{SalespersonId, TeamId};
use strata_lambda_kit::Problem;
use strata_lambda_kit::json::parse;

use super::{EngageApi, field, store};

type Api = State<Arc<EngageApi>>;

fn not_found(title: &'static str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", title)
}

pub(super) async fn people(State(api): Api) -> Result<Response, Problem> {
    let people = api.team.people().await.map_err(store)?;
    Ok(Json(json!({ "salespeople": people })).into_response())
}

pub(super) async fn person(State(api): Api, Path(raw): Path<String>) -> Result<Response, Problem> {
    let id = SalespersonId::parse("salesperson", &raw).map_err(field)?;
    let person = api
        .team
        .person(&id)
        .await
        .map_err(store)?
        .ok_or_else(|| not_found("No such salesperson"))?;
    Ok(Json(person).into_response())
}

/// Creates or replaces a salesperson (201 when new). Their team must
/// exist.
pub(super) async fn put_person(
    State(api): Api,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let id = SalespersonId::parse("salesperson", &raw).map_err(field)?;
    let input: SalespersonInput = parse(&body)?;
    let person = input.validate(id).map_err(Problem::from)?;
    if let Some(team) = &person.team
        && api.team.team(team).await.map_err(store)?.is_none()
    {
        return Err(Problem::from(strata_domain::Invalid::from(
            strata_domain::FieldError::new("team", "unknown_team", format!("no team `{team}`")),
        )));
    }
    let existed = api.team.person(&person.id).await.map_err(store)?.is_some();
    api.team.put_person(&person).await.map_err(store)?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(person)).into_response())
}

pub(super) async fn teams(State(api): Api) -> Result<Response, Problem> {
    let teams = api.team.teams().await.map_err(store)?;
    Ok(Json(json!({ "teams": teams })).into_response())
}

/// A team with its members.
pub(super) async fn team(State(api): Api, Path(raw): Path<String>) -> Result<Response, Problem> {
    let id = TeamId::parse("team", &raw).map_err(field)?;
    let team = api
        .team
        .team(&id)
        .await
        .map_err(store)?
        .ok_or_else(|| not_found("No such team"))?;
    let members: Vec<_> = api
        .team
        .people()
        .await
        .map_err(store)?
        .into_iter()
        .filter(|p| p.team.as_ref() == Some(&id))
        .collect();
    Ok(Json(json!({ "team": team, "members": members })).into_response())
}

/// Creates or replaces a team (201 when new). Its lead must be a known
/// salesperson.
pub(super) async fn put_team(
    State(api): Api,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let id = TeamId::parse("team", &raw).map_err(field)?;
    let input: TeamInput = parse(&body)?;
    let team = input.validate(id).map_err(Problem::from)?;
    if let Some(lead) = &team.lead
        && api.team.person(lead).await.map_err(store)?.is_none()
    {
        return Err(Problem::from(strata_domain::Invalid::from(
            strata_domain::FieldError::new(
                "lead",
                "unknown_salesperson",
                format!("no salesperson `{lead}`"),
            ),
        )));
    }
    let existed = api.team.team(&team.id).await.map_err(store)?.is_some();
    api.team.put_team(&team).await.map_err(store)?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(team)).into_response())
}
