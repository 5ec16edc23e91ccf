//! The audit log's entries: who (subject and role) read, changed, exported
//! or erased which customer's data, when, through which route, in which
//! request. Entries are appended, never changed; they hold no personal data
//! beyond the customer id.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::ids::CustomerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Read,
    Change,
    Export,
    Erase,
}

impl AuditAction {
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Change => "change",
            AuditAction::Export => "export",
            AuditAction::Erase => "erase",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub customer_id: CustomerId,
    pub at: DateTime<Utc>,
    /// The token's subject.
    pub subject: String,
    pub role: Role,
    pub action: AuditAction,
    /// The route, as `METHOD /path/{template}`, or the job that acted.
    pub route: String,
    /// API Gateway's request id in AWS; a fresh id locally.
    pub request_id: String,
    /// The HTTP status answered.
    pub status: u16,
}
