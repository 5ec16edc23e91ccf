//! Which operation each HTTP route is. A route missing here is refused to
//! everyone (403): access is granted by listing, never by default.

use strata_domain::access::Operation::{self, *};

/// `(method, route template, operation)` for every route of the HTTP API.
pub const ROUTES: &[(&str, &str, Operation)] = &[
    ("POST", "/v1/customers", UpsertCustomer),
    ("GET", "/v1/customers", FindCustomer),
    ("GET", "/v1/customers/{id}", ReadCustomer),
    ("GET", "/v1/customers/{id}/history", ReadCustomer),
    ("GET", "/v1/customers/{id}/merges", ReadCustomer),
    ("POST", "/v1/customers/{id}/orders", RecordOrder),
    ("POST", "/v1/customers/{id}/interactions", RecordInteraction),
    ("POST", "/v1/customers/{id}/reviews", RecordReview),
    ("PUT", "/v1/customers/{id}/assignment", AssignCustomer),
    ("GET", "/v1/customers/{id}/consents", ReadConsents),
    ("POST", "/v1/customers/{id}/consents", RecordConsent),
    ("POST", "/v1/batch", BulkWrite),
    ("GET", "/v1/imports", ReadImports),
    ("GET", "/v1/imports/{id}", ReadImports),
    ("GET", "/v1/customers/{id}/churn", ReadScores),
    ("GET", "/v1/customers/{id}/conversion", ReadScores),
    ("GET", "/v1/churn/early-warning", ReadAnalytics),
    ("GET", "/v1/churn/monthly", ReadAnalytics),
    ("GET", "/v1/churn/model", ReadAnalytics),
    ("GET", "/v1/conversion/criteria", ReadConfig),
    ("PUT", "/v1/conversion/criteria", WriteConfig),
    ("GET", "/v1/tiers/policy", ReadConfig),
    ("PUT", "/v1/tiers/policy", WriteConfig),
    ("GET", "/v1/tiers", ReadAnalytics),
    ("GET", "/v1/tiers/movements", ReadAnalytics),
    ("GET", "/v1/tiers/{tier}/customers", ListTierCustomers),
    ("GET", "/v1/customers/{id}/tier-history", ReadCustomer),
    (
        "PUT",
        "/v1/customers/{id}/orders/{order}/status",
        RecordOrder,
    ),
    ("GET", "/v1/rewards/policy", ReadConfig),
    ("PUT", "/v1/rewards/policy", WriteConfig),
    ("GET", "/v1/coupons/templates", ReadConfig),
    ("GET", "/v1/coupons/templates/{template}", ReadConfig),
    ("PUT", "/v1/coupons/templates/{template}", WriteConfig),
    ("POST", "/v1/coupons/issues", IssueCoupons),
    ("GET", "/v1/coupons/issues/{issue}", IssueCoupons),
    ("GET", "/v1/customers/{id}/points", ReadRewards),
    ("POST", "/v1/customers/{id}/points/redemptions", UseRewards),
    (
        "POST",
        "/v1/customers/{id}/points/adjustments",
        IssueRewards,
    ),
    ("GET", "/v1/customers/{id}/coupons", ReadRewards),
    ("POST", "/v1/customers/{id}/coupons", IssueRewards),
    (
        "POST",
        "/v1/customers/{id}/coupons/{code}/redemptions",
        UseRewards,
    ),
    ("GET", "/v1/customers/{id}/referral", ReadRewards),
    ("PUT", "/v1/customers/{id}/referral", UseRewards),
    (
        "GET",
        "/v1/customers/{id}/recommendations",
        ReadRecommendations,
    ),
    ("GET", "/v1/audit", ReadAudit),
    ("GET", "/v1/customers/{id}/export", ExportCustomer),
    ("DELETE", "/v1/customers/{id}", EraseCustomer),
    (
        "GET",
        "/v1/salespeople/{salesperson}/customers",
        ListAssignedCustomers,
    ),
    ("GET", "/v1/salespeople", ReadConfig),
    ("GET", "/v1/salespeople/{salesperson}", ReadConfig),
    ("PUT", "/v1/salespeople/{salesperson}", WriteConfig),
    ("GET", "/v1/teams", ReadConfig),
    ("GET", "/v1/teams/{team}", ReadConfig),
    ("PUT", "/v1/teams/{team}", WriteConfig),
    ("GET", "/v1/segments", ReadAnalytics),
    ("GET", "/v1/segments/definition", ReadConfig),
    ("PUT", "/v1/segments/definition", WriteConfig),
    ("POST", "/v1/segments/preview", ReadAnalytics),
    ("GET", "/v1/segments/{segment}/customers", ReadAnalytics),
    ("GET", "/v1/strategies", ReadConfig),
    ("GET", "/v1/strategies/{segment}", ReadConfig),
    ("PUT", "/v1/strategies/{segment}", WriteConfig),
];

pub fn operation(method: &str, route: &str) -> Option<Operation> {
    ROUTES
        .iter()
        .find(|(m, r, _)| m.eq_ignore_ascii_case(method) && *r == route)
        .map(|(_, _, op)| *op)
}
