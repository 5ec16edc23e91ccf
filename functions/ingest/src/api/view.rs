//! The customer as the API shows it: the stored profile without the import
//! bookkeeping the importer keeps on it (`summary_marks`,
//! `created_by_import`), which the store's codec still reads and writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use strata_domain::activity::ActivitySummary;
use strata_domain::channel::Channel;
use strata_domain::customer::{
    Consent, Customer, Identity, NetworkActivity, Origin, Preferences, SourceRef, Tier,
};
use strata_domain::ids::CustomerId;
use strata_domain::value::ValueAssessment;

/// `infra/openapi.yaml`'s `Customer`.
#[derive(Debug, Serialize)]
pub struct PublicCustomer<'a> {
    id: &'a CustomerId,
    identity: &'a Identity,
    preferences: &'a Preferences,
    acquisition_channel: &'a Option<Channel>,
    sources: &'a [SourceRef],
    consents: &'a [Consent],
    network: &'a [NetworkActivity],
    tier: &'a Option<Tier>,
    /// The points coefficient, its four components and the premium flag.
    value: &'a Option<ValueAssessment>,
    segment: &'a Option<String>,
    activity: &'a ActivitySummary,
    provenance: &'a BTreeMap<String, Origin>,
    created_at: &'a DateTime<Utc>,
    updated_at: &'a DateTime<Utc>,
    version: u64,
}

impl<'a> From<&'a Customer> for PublicCustomer<'a> {
    fn from(customer: &'a Customer) -> Self {
        // Every field named (no `..`): a field added to the profile does not
        // compile until it is shown here or left out on purpose.
        let Customer {
            id,
            identity,
            preferences,
            acquisition_channel,
            sources,
            consents,
            network,
            tier,
            value,
            segment,
            activity,
            summary_marks: _,
            created_by_import: _,
            provenance,
            created_at,
            updated_at,
            version,
        } = customer;
        PublicCustomer {
            id,
            identity,
            preferences,
            acquisition_channel,
            sources,
            consents,
            network,
            tier,
            value,
            segment,
            activity,
            provenance,
            created_at,
            updated_at,
            version: *version,
        }
    }
}

#[cfg(test)]
mod tests {
    use strata_domain::activity::RowMark;
    use strata_domain::customer::{CustomerInput, Origin};
    use strata_domain::options::ReadOptions;

    use super::*;

    #[test]
    fn the_import_bookkeeping_stays_out_and_everything_else_is_shown() {
        let origin = Origin {
            source: "import:strata".into(),
            at: Utc::now(),
        };
        let input = CustomerInput {
            email: Some("view@example.com".into()),
            ..CustomerInput::default()
        }
        .validate(&ReadOptions::default(), origin.at)
        .unwrap();
        let mut customer = Customer::create(CustomerId::generate(), input, &origin);
        let mark = RowMark {
            import: "i1".into(),
            row: 7,
        };
        customer.summary_marks.push(mark.clone());
        customer.created_by_import = Some(mark);

        let stored = serde_json::to_value(&customer).unwrap();
        let shown = serde_json::to_value(PublicCustomer::from(&customer)).unwrap();
        let mut expected = stored.as_object().unwrap().clone();
        assert!(expected.remove("summary_marks").is_some());
        assert!(expected.remove("created_by_import").is_some());
        assert_eq!(shown, serde_json::Value::Object(expected));
    }
}
