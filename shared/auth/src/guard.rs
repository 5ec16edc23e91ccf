//! The layer in front of every route: who is asking (401 if no one we can
//! verify), may they (403), then the handler, then the audit entry for
//! customer data it read or changed.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderValue, StatusCode, header};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use strata_domain::access::{self, Decision, Operation, Principal};
use strata_domain::audit::AuditEntry;
use strata_domain::engage::SalespersonStatus;
use strata_domain::ids::{CustomerId, SalespersonId};
use strata_domain::ports::table::Table;
use strata_lambda_kit::Problem;
use strata_store::{AssignmentRepository, AuditLog, SalesTeam};

use crate::claims::{self, Claims};
use crate::local::{LocalIssuer, TokenError};
use crate::routes;

/// Who checks the token.
#[derive(Clone)]
pub enum Authenticator {
    /// In Lambda: API Gateway's JWT authorizer verified the token; its
    /// claims arrive in the request context. No context, no entry.
    Gateway,
    /// Locally: the bearer token is verified here with the local key.
    Local(Arc<LocalIssuer>),
}

/// The request's id, for the audit log: API Gateway's in Lambda, a fresh
/// one locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Set by a handler on its response when the customers it touched are not
/// the one in the path (an upsert, a batch), so the audit names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditedCustomers(pub Vec<CustomerId>);

#[derive(Clone)]
pub struct Guard {
    authenticator: Authenticator,
    assignments: AssignmentRepository,
    team: SalesTeam,
    audit: AuditLog,
}

impl Guard {
    pub fn new(
        authenticator: Authenticator,
        table: Arc<dyn Table>,
        audit_retention: chrono::Duration,
    ) -> Guard {
        Guard {
            authenticator,
            assignments: AssignmentRepository::new(table.clone()),
            team: SalesTeam::new(table.clone()),
            audit: AuditLog::new(table, audit_retention),
        }
    }

    /// Puts every route of `router` behind the guard. Call it on the whole
    /// router (after every `.route`): routes added later are unguarded.
    pub fn protect(self, router: Router) -> Router {
        router.route_layer(middleware::from_fn_with_state(self, check))
    }
}

fn unauthenticated(detail: &str, token_given: bool) -> Response {
    let challenge = if token_given {
        "Bearer realm=\"strata\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"strata\""
    };
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Sign in: send a valid bearer token",
    )
    .detail(detail.to_owned())
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

fn forbidden(detail: &str) -> Response {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
        .detail(detail.to_owned())
        .into_response()
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

fn gateway_context(
    request: &Request,
) -> Option<&lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(context),
        _ => None,
    }
}

/// Why a request is not signed in: what the 401 says.
struct Unauthenticated {
    detail: &'static str,
    token_given: bool,
}

/// The verified claims.
fn authenticate(
    authenticator: &Authenticator,
    request: &Request,
) -> Result<Claims, Unauthenticated> {
    match authenticator {
        Authenticator::Gateway => gateway_context(request)
            .and_then(|c| c.authorizer.as_ref())
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| {
                jwt.claims
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .ok_or(Unauthenticated {
                detail: "the request carries no verified claims from the authorizer",
                token_given: false,
            }),
        Authenticator::Local(issuer) => {
            let token = bearer(request).ok_or(Unauthenticated {
                detail: "no bearer token in Authorization",
                token_given: false,
            })?;
            issuer.verify(token).map_err(|e| Unauthenticated {
                detail: match e {
                    TokenError::Expired => "the token has expired",
                    _ => "the token is not one this API issued",
                },
                token_given: true,
            })
        }
    }
}

fn request_id(authenticator: &Authenticator, request: &Request) -> RequestId {
    let from_gateway = match authenticator {
        Authenticator::Gateway => gateway_context(request).and_then(|c| c.request_id.clone()),
        Authenticator::Local(_) => None,
    };
    // Never a client's header: the id is part of an audit entry's key.
    RequestId(from_gateway.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()))
}

/// The path parameter `name` of the request, parsed, if the route has it
/// and it parses.
async fn path_param<T>(
    request: Request,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> (Request, Option<T>) {
    let (mut parts, body) = request.into_parts();
    let value = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(param, _)| *param == name)
                .and_then(|(_, value)| parse(value))
        });
    (Request::from_parts(parts, body), value)
}

async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let claims = match authenticate(&guard.authenticator, &request) {
        Ok(claims) => claims,
        Err(refused) => return unauthenticated(refused.detail, refused.token_given),
    };
    let method = request.method().as_str().to_owned();
    let Some(route) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return forbidden("the route has no access rule");
    };
    let Some(operation) = routes::operation(&method, &route) else {
        return forbidden("the route has no access rule");
    };
    let principal = match claims::principal(&claims) {
        Ok(principal) => principal,
        Err(error) => return forbidden(&error.to_string()),
    };
    // A salesperson the directory lists as gone is refused whatever their
    // token says (one not listed: the shop keeps no directory).
    if let Some(salesperson) = &principal.salesperson {
        match guard.team.person(salesperson).await {
            Ok(Some(person)) if person.status == SalespersonStatus::Left => {
                return forbidden("the salesperson has left");
            }
            Ok(_) => {}
            Err(error) => return Problem::from(&error).into_response(),
        }
    }
    let (request, target) = if operation.on_customer() {
        path_param(request, "id", |raw| CustomerId::parse("id", raw).ok()).await
    } else {
        (request, None)
    };
    let (mut request, assignee) = if operation.on_salesperson() {
        path_param(request, "salesperson", |raw| {
            SalespersonId::parse("salesperson", raw).ok()
        })
        .await
    } else {
        let assignee = match target {
            Some(customer) if access::needs_assignment(&principal, operation) => {
                match guard.assignments.of(customer).await {
                    Ok(found) => found.map(|a| a.salesperson),
                    Err(error) => return Problem::from(&error).into_response(),
                }
            }
            _ => None,
        };
        (request, assignee)
    };
    if let Decision::Deny(reason) = access::decide(&principal, operation, target, assignee.as_ref())
    {
        return forbidden(reason);
    }
    let id = request_id(&guard.authenticator, &request);
    request.extensions_mut().insert(principal.clone());
    request.extensions_mut().insert(id.clone());
    let response = next.run(request).await;
    let mut touched: Vec<CustomerId> = target.into_iter().collect();
    if let Some(AuditedCustomers(more)) = response.extensions().get::<AuditedCustomers>() {
        touched.extend(more.iter().copied());
    }
    let outcome = Outcome {
        route: format!("{method} {route}"),
        status: response.status(),
        touched,
    };
    record(&guard, &principal, operation, &id, outcome).await;
    response
}

/// What the audit needs of an answered request.
struct Outcome {
    route: String,
    status: StatusCode,
    /// The customer in the path and any the handler named.
    touched: Vec<CustomerId>,
}

/// Appends an audit entry per customer whose data a successful request
/// read or changed. A failed append is logged and counted, not answered:
/// the data was already read or changed.
async fn record(
    guard: &Guard,
    principal: &Principal,
    operation: Operation,
    id: &RequestId,
    outcome: Outcome,
) {
    let Some(action) = operation.audit_action() else {
        return;
    };
    if !outcome.status.is_success() {
        return;
    }
    let mut customers = outcome.touched;
    customers.sort_by_key(|c| c.to_string());
    customers.dedup();
    let at = Utc::now();
    for customer_id in customers {
        let entry = AuditEntry {
            customer_id,
            at,
            subject: principal.subject.clone(),
            role: principal.role,
            action,
            route: outcome.route.clone(),
            request_id: id.0.clone(),
            status: outcome.status.as_u16(),
        };
        if let Err(error) = guard.audit.append(&entry).await {
            tracing::error!(%error, customer = %customer_id, request = %id.0, "audit entry not written");
            let mut metrics =
                strata_lambda_kit::metrics::Metrics::new("Strata").dimension("Function", "auth");
            metrics.add(
                "AuditWriteFailed",
                1.0,
                strata_lambda_kit::metrics::Unit::Count,
            );
            metrics.flush();
        }
    }
}
