//! JWT claims → `Principal`, the same mapping in Lambda and locally:
//!
//! | claim | meaning |
//! |---|---|
//! | `sub` | the subject |
//! | `cognito:groups` | the role: a group named `admin`, `ops`, `sales` or `customer` (with several, the most privileged) |
//! | `strata:customer_id` | for a customer, the customer id they are |
//! | `strata:salesperson_id` | for sales staff, the salesperson customers are assigned to |
//!
//! Strata's own Cognito user pool (infra/template.yaml) keeps the two ids in
//! the custom attributes `custom:customer_id` and `custom:salesperson_id`,
//! which its ID tokens carry and only administrators can set; they are read
//! the same way.
//!
//! API Gateway hands claims over as strings, an array as `[a b]`; locally
//! verified tokens are rendered the same way first.

use std::collections::BTreeMap;

use strata_domain::access::{Principal, Role};
use strata_domain::ids::{CustomerId, SalespersonId};

pub const SUBJECT: &str = "sub";
pub const GROUPS: &str = "cognito:groups";
pub const CUSTOMER_ID: &str = "strata:customer_id";
pub const SALESPERSON_ID: &str = "strata:salesperson_id";
/// The same ids as the own user pool's custom attributes.
pub const POOL_CUSTOMER_ID: &str = "custom:customer_id";
pub const POOL_SALESPERSON_ID: &str = "custom:salesperson_id";

/// Claims as API Gateway's JWT authorizer passes them on.
pub type Claims = BTreeMap<String, String>;

/// Why verified claims name no one we can let in (a 403: the token is
/// genuine, it just grants nothing here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("the token names none of the roles admin, ops, sales, customer in `cognito:groups`")]
    NoRole,
    #[error("`{0}` is not a valid id")]
    BadId(&'static str),
    #[error(transparent)]
    Incomplete(#[from] strata_domain::access::PrincipalError),
}

/// The groups of a `cognito:groups` value: `[a b]` (API Gateway), `a,b`, or `a`.
pub fn groups(raw: &str) -> Vec<&str> {
    let inner = raw.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(inner);
    inner
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
        .collect()
}

pub fn principal(claims: &Claims) -> Result<Principal, ClaimsError> {
    let subject = claims.get(SUBJECT).map(String::as_str).unwrap_or_default();
    let named = claims.get(GROUPS).map(|g| groups(g)).unwrap_or_default();
    let role = Role::ALL
        .into_iter()
        .find(|role| named.contains(&role.name()))
        .ok_or(ClaimsError::NoRole)?;
    let customer = claims
        .get(CUSTOMER_ID)
        .or_else(|| claims.get(POOL_CUSTOMER_ID))
        .map(|raw| CustomerId::parse(CUSTOMER_ID, raw))
        .transpose()
        .map_err(|_| ClaimsError::BadId(CUSTOMER_ID))?;
    let salesperson = claims
        .get(SALESPERSON_ID)
        .or_else(|| claims.get(POOL_SALESPERSON_ID))
        .map(|raw| SalespersonId::parse(SALESPERSON_ID, raw))
        .transpose()
        .map_err(|_| ClaimsError::BadId(SALESPERSON_ID))?;
    Ok(Principal::new(subject, role, customer, salesperson)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> Claims {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn groups_read_in_every_form_api_gateway_and_tokens_use() {
        assert_eq!(groups("[ops sales]"), ["ops", "sales"]);
        assert_eq!(groups("admin"), ["admin"]);
        assert_eq!(groups("ops,customer"), ["ops", "customer"]);
        assert!(groups("[]").is_empty());
    }

    #[test]
    fn the_own_user_pools_attributes_name_the_customer_and_salesperson() {
        let id = "0000000000000000000000000000000b";
        let customer = principal(&claims(&[
            ("sub", "u2"),
            (GROUPS, "[customer]"),
            (POOL_CUSTOMER_ID, id),
        ]))
        .unwrap();
        assert_eq!(
            customer.customer.map(|c| c.to_string().replace('-', "")),
            Some(id.into())
        );
        let sales = principal(&claims(&[
            ("sub", "u3"),
            (GROUPS, "[sales]"),
            (POOL_SALESPERSON_ID, "rep-7"),
        ]))
        .unwrap();
        assert_eq!(
            sales.salesperson.map(|s| s.to_string()),
            Some("rep-7".into())
        );
    }

    #[test]
    fn the_most_privileged_group_is_the_role() {
        let p = principal(&claims(&[("sub", "u1"), (GROUPS, "[sales ops]")])).unwrap();
        assert_eq!(p.role, Role::Ops);
    }

    #[test]
    fn a_customer_token_must_name_a_valid_customer() {
        let id = "0000000000000000000000000000000a";
        let p = principal(&claims(&[
            ("sub", "u1"),
            (GROUPS, "[customer]"),
            (CUSTOMER_ID, id),
        ]))
        .unwrap();
        assert_eq!(
            p.customer.map(|c| c.to_string().replace('-', "")),
            Some(id.into())
        );
        assert!(matches!(
            principal(&claims(&[("sub", "u1"), (GROUPS, "customer")])),
            Err(ClaimsError::Incomplete(_))
        ));
        assert_eq!(
            principal(&claims(&[
                ("sub", "u1"),
                (GROUPS, "customer"),
                (CUSTOMER_ID, "x")
            ])),
            Err(ClaimsError::BadId(CUSTOMER_ID))
        );
    }

    #[test]
    fn unknown_groups_grant_nothing() {
        assert_eq!(
            principal(&claims(&[("sub", "u1"), (GROUPS, "[root superuser]")])),
            Err(ClaimsError::NoRole)
        );
        assert_eq!(
            principal(&claims(&[("sub", "u1")])),
            Err(ClaimsError::NoRole)
        );
    }
}
