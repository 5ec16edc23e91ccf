//! Who may do what. A verified token becomes a `Principal` (its subject,
//! role and, for customers and sales staff, whom they are); each HTTP route
//! is one `Operation`; `decide` is the whole rule book.
//!
//! The customer an operation concerns always comes from the request path and
//! is checked against the token: a customer's token names the one customer
//! it may touch, a salesperson's reaches the customers assigned to them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, SalespersonId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Ops,
    Sales,
    Customer,
}

impl Role {
    /// Most privileged first: a token naming several roles gets the first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Ops, Role::Sales, Role::Customer];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Sales => "sales",
            Role::Customer => "customer",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who is asking, as a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    pub role: Role,
    /// For a customer: the customer they are.
    pub customer: Option<CustomerId>,
    /// For sales staff: the salesperson customers are assigned to.
    pub salesperson: Option<SalespersonId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("the token has no subject")]
    NoSubject,
    #[error("a customer's token must name the customer it belongs to")]
    NoCustomer,
    #[error("a salesperson's token must name the salesperson")]
    NoSalesperson,
}

impl Principal {
    /// A principal whose role carries what that role needs to be checked.
    pub fn new(
        subject: impl Into<String>,
        role: Role,
        customer: Option<CustomerId>,
        salesperson: Option<SalespersonId>,
    ) -> Result<Principal, PrincipalError> {
        let subject = subject.into();
        if subject.trim().is_empty() {
            return Err(PrincipalError::NoSubject);
        }
        match role {
            Role::Customer if customer.is_none() => return Err(PrincipalError::NoCustomer),
            Role::Sales if salesperson.is_none() => return Err(PrincipalError::NoSalesperson),
            _ => {}
        }
        // Only the identity a role uses is kept, so nothing else can widen it.
        Ok(Principal {
            subject,
            role,
            customer: customer.filter(|_| role == Role::Customer),
            salesperson: salesperson.filter(|_| role == Role::Sales),
        })
    }
}

/// What a route does, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Create or update a customer from a body (identity resolution decides which).
    UpsertCustomer,
    /// A customer's profile, history or merge log.
    ReadCustomer,
    RecordOrder,
    RecordInteraction,
    RecordReview,
    /// A customer's recommendations.
    ReadRecommendations,
    /// A customer's churn score or conversion likelihood.
    ReadScores,
    /// Lists and counts across customers (early warning, monthly counts), the model card.
    ReadAnalytics,
    /// Many records at once (`/v1/batch`).
    BulkWrite,
    ReadImports,
    ReadConfig,
    WriteConfig,
    /// Assign a customer to a salesperson.
    AssignCustomer,
    ReadAudit,
    /// Everything held about one customer, as one document (right of access).
    ExportCustomer,
    /// Erase a customer (right to erasure).
    EraseCustomer,
    /// The customers assigned to one salesperson, named in the path.
    ListAssignedCustomers,
    /// A customer's consent ledger.
    ReadConsents,
    /// Record a consent decision (a grant or a withdrawal) for a customer.
    RecordConsent,
    /// The customers of one value tier: everyone's for admins and ops, a
    /// salesperson's own (the handler narrows the list) for sales staff.
    ListTierCustomers,
    /// A customer's points balance and ledger, coupons and referral code.
    ReadRewards,
    /// The customer's own reward actions: spend points, redeem a coupon,
    /// enter the code of whoever referred them.
    UseRewards,
    /// Give or take points and issue a coupon to one customer (staff).
    IssueRewards,
    /// Issue a coupon to every customer of a tier, and follow such issues.
    IssueCoupons,
    /// Find a customer by e-mail, phone or source id: anyone for admins and
    /// ops, a salesperson's own (the handler narrows the answer).
    FindCustomer,
}

impl Operation {
    pub const ALL: [Operation; 25] = [
        Operation::UpsertCustomer,
        Operation::ReadCustomer,
        Operation::RecordOrder,
        Operation::RecordInteraction,
        Operation::RecordReview,
        Operation::ReadRecommendations,
        Operation::ReadScores,
        Operation::ReadAnalytics,
        Operation::BulkWrite,
        Operation::ReadImports,
        Operation::ReadConfig,
        Operation::WriteConfig,
        Operation::AssignCustomer,
        Operation::ReadAudit,
        Operation::ExportCustomer,
        Operation::EraseCustomer,
        Operation::ListAssignedCustomers,
        Operation::ReadConsents,
        Operation::RecordConsent,
        Operation::ListTierCustomers,
        Operation::ReadRewards,
        Operation::UseRewards,
        Operation::IssueRewards,
        Operation::IssueCoupons,
        Operation::FindCustomer,
    ];

    /// Operations on one customer named in the path.
    pub fn on_customer(self) -> bool {
        matches!(
            self,
            Operation::ReadCustomer
                | Operation::RecordOrder
                | Operation::RecordInteraction
                | Operation::RecordReview
                | Operation::ReadRecommendations
                | Operation::ReadScores
                | Operation::AssignCustomer
                | Operation::ExportCustomer
                | Operation::EraseCustomer
                | Operation::ReadConsents
                | Operation::RecordConsent
                | Operation::ReadRewards
                | Operation::UseRewards
                | Operation::IssueRewards
        )
    }

    /// Operations on one salesperson named in the path.
    pub fn on_salesperson(self) -> bool {
        self == Operation::ListAssignedCustomers
    }

    /// What the audit log records when this touches a customer's data.
    pub fn audit_action(self) -> Option<crate::audit::AuditAction> {
        use crate::audit::AuditAction;
        match self {
            Operation::ReadCustomer
            | Operation::ReadRecommendations
            | Operation::ReadScores
            | Operation::ReadConsents
            | Operation::ReadRewards
            | Operation::FindCustomer => Some(AuditAction::Read),
            Operation::UpsertCustomer
            | Operation::RecordOrder
            | Operation::RecordInteraction
            | Operation::RecordReview
            | Operation::BulkWrite
            | Operation::AssignCustomer
            | Operation::RecordConsent
            | Operation::UseRewards
            | Operation::IssueRewards => Some(AuditAction::Change),
            Operation::ExportCustomer => Some(AuditAction::Export),
            Operation::EraseCustomer => Some(AuditAction::Erase),
            // Ids and assignment times only; reading a customer's data is audited there.
            Operation::ListAssignedCustomers
            | Operation::ListTierCustomers
            | Operation::IssueCoupons
            | Operation::ReadAnalytics
            | Operation::ReadImports
            | Operation::ReadConfig
            | Operation::WriteConfig
            | Operation::ReadAudit => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(&'static str),
}

/// Whether deciding needs to know whom `target` is assigned to: only a
/// salesperson's access to one customer does.
pub fn needs_assignment(principal: &Principal, operation: Operation) -> bool {
    principal.role == Role::Sales && operation.on_customer()
}

/// The rule book. `target` is the customer the path names (None when the
/// route names none or the id did not parse); `assignee` is the salesperson
/// whose customers are concerned: the one `target` is assigned to, looked up
/// when `needs_assignment` says so, or the one the path names for
/// `ListAssignedCustomers`.
pub fn decide(
    principal: &Principal,
    operation: Operation,
    target: Option<CustomerId>,
    assignee: Option<&SalespersonId>,
) -> Decision {
    use Operation::*;
    match principal.role {
        Role::Admin => Decision::Allow,
        Role::Ops => match operation {
            WriteConfig => Decision::Deny("changing configuration is for admins"),
            ReadAudit => Decision::Deny("the audit log is for admins"),
            ExportCustomer => Decision::Deny("exports are for admins and the customer themself"),
            EraseCustomer => Decision::Deny("erasure is for admins"),
            _ => Decision::Allow,
        },
        Role::Sales => match operation {
            ReadCustomer | ReadRecommendations | ReadScores | RecordInteraction | ReadConsents
            | ReadRewards => {
                let assigned = principal.salesperson.is_some()
                    && target.is_some()
                    && assignee == principal.salesperson.as_ref();
                if assigned {
                    Decision::Allow
                } else {
                    Decision::Deny("the customer is not assigned to you")
                }
            }
            ListAssignedCustomers => {
                if principal.salesperson.is_some() && assignee == principal.salesperson.as_ref() {
                    Decision::Allow
                } else {
                    Decision::Deny("sales staff list only their own customers")
                }
            }
            // Narrowed to the salesperson's own customers by the handler.
            ListTierCustomers | FindCustomer if principal.salesperson.is_some() => Decision::Allow,
            _ => Decision::Deny("sales staff reach only the customers assigned to them"),
        },
        Role::Customer => match operation {
            ReadCustomer | ReadRecommendations | RecordInteraction | RecordReview
            | ExportCustomer | ReadConsents | RecordConsent | ReadRewards | UseRewards => {
                if target.is_some() && target == principal.customer {
                    Decision::Allow
                } else {
                    Decision::Deny("a customer reaches only their own data")
                }
            }
            _ => Decision::Deny("not open to customers"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CustomerId {
        CustomerId::parse("id", &format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap()
    }

    fn rep(name: &str) -> SalespersonId {
        SalespersonId::parse("salesperson", name).unwrap()
    }

    fn principal(role: Role) -> Principal {
        Principal::new("user-1", role, Some(id(1)), Some(rep("s-1"))).unwrap()
    }

    #[test]
    fn a_principal_keeps_only_the_identity_its_role_uses() {
        let admin = principal(Role::Admin);
        assert_eq!((admin.customer, admin.salesperson), (None, None));
        assert_eq!(principal(Role::Customer).customer, Some(id(1)));
        assert_eq!(
            Principal::new("u", Role::Customer, None, None),
            Err(PrincipalError::NoCustomer)
        );
        assert_eq!(
            Principal::new("u", Role::Sales, Some(id(1)), None),
            Err(PrincipalError::NoSalesperson)
        );
        assert_eq!(
            Principal::new(" ", Role::Admin, None, None),
            Err(PrincipalError::NoSubject)
        );
    }

    #[test]
    fn admins_may_do_everything_and_ops_all_but_configuration_and_audit() {
        for operation in Operation::ALL {
            assert_eq!(
                decide(&principal(Role::Admin), operation, None, None),
                Decision::Allow
            );
            let ops = decide(&principal(Role::Ops), operation, Some(id(2)), None);
            let expected = !matches!(
                operation,
                Operation::WriteConfig
                    | Operation::ReadAudit
                    | Operation::ExportCustomer
                    | Operation::EraseCustomer
            );
            assert_eq!(ops == Decision::Allow, expected, "{operation:?}");
        }
    }

    #[test]
    fn a_customer_reaches_only_their_own_data() {
        let me = principal(Role::Customer);
        for operation in Operation::ALL {
            let own = decide(&me, operation, Some(id(1)), None) == Decision::Allow;
            let expected = matches!(
                operation,
                Operation::ReadCustomer
                    | Operation::ReadRecommendations
                    | Operation::RecordInteraction
                    | Operation::RecordReview
                    | Operation::ExportCustomer
                    | Operation::ReadConsents
                    | Operation::RecordConsent
                    | Operation::ReadRewards
                    | Operation::UseRewards
            );
            assert_eq!(own, expected, "{operation:?}");
            assert_ne!(decide(&me, operation, Some(id(2)), None), Decision::Allow);
            assert_ne!(decide(&me, operation, None, None), Decision::Allow);
        }
    }

    #[test]
    fn a_salesperson_reaches_only_assigned_customers() {
        let sales = principal(Role::Sales);
        assert!(needs_assignment(&sales, Operation::ReadCustomer));
        assert!(!needs_assignment(
            &principal(Role::Ops),
            Operation::ReadCustomer
        ));
        let mine = rep("s-1");
        let theirs = rep("s-2");
        for operation in Operation::ALL {
            // Allowed to every salesperson, narrowed by its handler (below).
            if matches!(
                operation,
                Operation::ListTierCustomers | Operation::FindCustomer
            ) {
                continue;
            }
            let assigned = decide(&sales, operation, Some(id(2)), Some(&mine)) == Decision::Allow;
            let expected = matches!(
                operation,
                Operation::ReadCustomer
                    | Operation::ReadRecommendations
                    | Operation::ReadScores
                    | Operation::RecordInteraction
                    | Operation::ListAssignedCustomers
                    | Operation::ReadConsents
                    | Operation::ReadRewards
            );
            assert_eq!(assigned, expected, "{operation:?}");
            assert_ne!(
                decide(&sales, operation, Some(id(2)), Some(&theirs)),
                Decision::Allow
            );
            assert_ne!(
                decide(&sales, operation, Some(id(2)), None),
                Decision::Allow
            );
        }
    }

    #[test]
    fn a_tier_list_is_open_to_sales_staff_and_closed_to_customers() {
        let list = Operation::ListTierCustomers;
        assert_eq!(
            decide(&principal(Role::Sales), list, None, None),
            Decision::Allow
        );
        assert_ne!(
            decide(&principal(Role::Customer), list, None, None),
            Decision::Allow
        );
        assert_eq!(list.audit_action(), None);
    }

    #[test]
    fn a_salesperson_lists_only_their_own_customers() {
        let sales = principal(Role::Sales);
        let list = Operation::ListAssignedCustomers;
        assert!(
            !needs_assignment(&sales, list),
            "the path names the salesperson"
        );
        assert_eq!(
            decide(&sales, list, None, Some(&rep("s-1"))),
            Decision::Allow
        );
        assert_ne!(
            decide(&sales, list, None, Some(&rep("s-2"))),
            Decision::Allow
        );
        assert_ne!(decide(&sales, list, None, None), Decision::Allow);
        for role in [Role::Admin, Role::Ops] {
            assert_eq!(
                decide(&principal(role), list, None, Some(&rep("s-2"))),
                Decision::Allow
            );
        }
        assert_ne!(
            decide(&principal(Role::Customer), list, None, Some(&rep("s-1"))),
            Decision::Allow
        );
    }

    #[test]
    fn exports_and_erasure_write_their_own_audit_actions() {
        use crate::audit::AuditAction;
        assert_eq!(
            Operation::ExportCustomer.audit_action(),
            Some(AuditAction::Export)
        );
        assert_eq!(
            Operation::EraseCustomer.audit_action(),
            Some(AuditAction::Erase)
        );
    }

    #[test]
    fn roles_read_back_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("root"), None);
    }
}
