//! Sign-in and access control for every HTTP route, in one layer.
//!
//! - `claims`: the one mapping from JWT claims to a `Principal` (role from
//!   `cognito:groups`, customer and salesperson ids from `strata:` claims),
//!   used whoever verified the token.
//! - `local`: a local signing key (HS256) that mints and verifies tokens for
//!   `strata serve`.
//! - `guard`: the axum layer. In Lambda it trusts the claims API Gateway's
//!   JWT authorizer verified; locally it verifies the token itself. Then it
//!   applies `strata_domain::access` to the route and records customer-data
//!   access in the audit log.
//! - `routes`: which `Operation` each route is.

pub mod claims;
pub mod guard;
pub mod local;
pub mod routes;

pub use guard::{AuditedCustomers, Authenticator, Guard, RequestId};
pub use local::LocalIssuer;

/// How long audit entries are kept unless `STRATA_AUDIT_RETENTION_DAYS` says.
pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 400;

/// `STRATA_AUDIT_RETENTION_DAYS` (optional, whole days ≥ 1).
pub fn audit_retention(env: &mut strata_lambda_kit::EnvReader) -> chrono::Duration {
    let days = env.parsed_or("STRATA_AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS);
    chrono::Duration::days(days.max(1))
}
