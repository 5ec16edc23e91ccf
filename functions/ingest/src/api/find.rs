//! Finding a customer by what staff know of them: an exact e-mail, phone or
//! source id, looked up through the blind index (the lookup items hold an
//! HMAC of the normalised value, never the value). Sales staff find only
//! the customers assigned to them: anyone else is not in their answer, so
//! the answer does not tell them whether the shop knows the person.

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use strata_auth::AuditedCustomers;
use strata_domain::access::{Principal, Role};
use strata_domain::contact::{Email, Phone};
use strata_domain::customer::{Identifier, SourceRef};
use strata_domain::{FieldError, Invalid};
use strata_lambda_kit::Problem;

use super::ApiState;
use super::view::PublicCustomer;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FindQuery {
    email: Option<String>,
    phone: Option<String>,
    source: Option<String>,
    external_id: Option<String>,
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::from(Invalid::from(FieldError::new(field, "invalid", message)))
}

/// The one identifier the query names.
fn identifier(query: FindQuery, state: &ApiState) -> Result<Identifier, Problem> {
    let given = [
        query.email.is_some(),
        query.phone.is_some(),
        query.source.is_some() || query.external_id.is_some(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given != 1 {
        return Err(invalid(
            "email",
            "name exactly one of email, phone, or source with external_id",
        ));
    }
    let field = |e: FieldError| Problem::from(Invalid::from(e));
    if let Some(raw) = query.email {
        return Email::parse("email", &raw)
            .map(Identifier::Email)
            .map_err(field);
    }
    if let Some(raw) = query.phone {
        return Phone::parse("phone", &raw, state.ingestor.options().phone_region)
            .map(Identifier::Phone)
            .map_err(field);
    }
    match (query.source, query.external_id) {
        (Some(source), Some(external_id))
            if !source.trim().is_empty() && !external_id.trim().is_empty() =>
        {
            Ok(Identifier::External(SourceRef {
                source: source.trim().to_lowercase(),
                external_id: external_id.trim().to_owned(),
            }))
        }
        (None, _) | (Some(_), Some(_)) => Err(invalid("source", "must name the source system")),
        (Some(_), None) => Err(invalid("external_id", "must name the source's id")),
    }
}

/// `GET /v1/customers?email=` (or `phone=`, or `source=&external_id=`): the
/// customers known by it — none or one — with their stage.
pub(super) async fn find_customer(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    Query(query): Query<FindQuery>,
) -> Result<Response, Problem> {
    let identifier = identifier(query, &state)?;
    let store = |e: strata_store::StoreError| Problem::from(&e);
    let mut found = state
        .ingestor
        .customers()
        .find(&identifier)
        .await
        .map_err(store)?;
    if let (Some(id), Some(Extension(principal))) = (found, principal.as_ref())
        && principal.role == Role::Sales
    {
        let assigned = state.assignments.of(id).await.map_err(store)?;
        if assigned.map(|a| a.salesperson) != principal.salesperson {
            found = None;
        }
    }
    let profile = match found {
        Some(id) => state.ingestor.customers().get(id).await.map_err(store)?,
        None => None,
    };
    let customers: Vec<_> = profile
        .iter()
        .map(|p| {
            let stage = p.activity.stage();
            json!({ "customer": PublicCustomer::from(p), "stage": stage, "formal": stage.is_formal() })
        })
        .collect();
    let mut response = Json(json!({ "customers": customers })).into_response();
    // The guard audits a read of whoever was found.
    response
        .extensions_mut()
        .insert(AuditedCustomers(profile.iter().map(|p| p.id).collect()));
    Ok(response)
}
