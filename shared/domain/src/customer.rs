//! The customer profile: one per real person.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::{ActivitySummary, RowMark};
use crate::channel::Channel;
use crate::contact::{self, DocumentKind, Email, IdDocument, Phone};
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::CustomerId;
use crate::options::ReadOptions;
use crate::text::{self, MAX_LINE_CHARS};
use crate::value::ValueAssessment;

/// Personal data that identifies the person. Kept in one structure, apart
/// from everything else, so that it can be sealed per customer as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub birth_date: Option<NaiveDate>,
    pub id_document: Option<IdDocument>,
    pub address: Option<Address>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// ISO 3166 alpha-2.
    pub country: Option<String>,
    /// Province, state or region.
    pub region: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub street: Option<String>,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// Category names or paths the customer said they like.
    pub categories: Vec<String>,
    pub contact_channel: Option<Channel>,
    /// BCP 47 language tag, e.g. `zh-CN`.
    pub language: Option<String>,
}

/// Where a profile came from, with the id the source system uses for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    /// The source system, lower-case (`shopify`, `cdnow`, `superstore`).
    pub source: String,
    pub external_id: String,
}

/// Purposes a customer may consent to, one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Marketing messages by any channel.
    Marketing,
    /// Building a profile: tiers, segments, churn scores.
    Profiling,
    /// Personalised product recommendations.
    Personalisation,
    /// Aggregate analytics.
    Analytics,
    /// Sharing with third parties.
    ThirdPartySharing,
}

/// One consent decision, as recorded; the latest per purpose is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub purpose: Purpose,
    pub granted: bool,
    pub at: DateTime<Utc>,
    /// Version of the notice or terms the customer saw.
    pub version: String,
    /// Where the decision was captured (a form, an import, a call).
    pub source: String,
}

/// Network traces kept apart from identity; personal data under GDPR/PIPL
/// but not used to identify the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkActivity {
    pub ip: Option<IpAddr>,
    pub device_id: Option<String>,
    pub user_agent: Option<String>,
    pub seen_at: DateTime<Utc>,
}

/// Value tiers from the points coefficient (`value`), best first: high,
/// upper-middle, middle, lower-middle and entry-level points customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Diamond,
    Platinum,
    Gold,
    Silver,
    Bronze,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Diamond,
        Tier::Platinum,
        Tier::Gold,
        Tier::Silver,
        Tier::Bronze,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Diamond => "diamond",
            Tier::Platinum => "platinum",
            Tier::Gold => "gold",
            Tier::Silver => "silver",
            Tier::Bronze => "bronze",
        }
    }

    /// The tier a request names, or an error naming `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Tier, FieldError> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name() == raw)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "invalid",
                    "must be one of diamond, platinum, gold, silver, bronze",
                )
            })
    }
}

/// A value by which two records are known to be the same person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    Email(Email),
    Phone(Phone),
    External(SourceRef),
}

/// Where and when a value came from; kept per field so merges are explainable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `api`, or `import:<source>` for bulk imports.
    pub source: String,
    pub at: DateTime<Utc>,
}

/// Network traces kept per profile; older ones are dropped first.
pub const MAX_NETWORK_TRACES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    /// Defaults when absent: a store may keep personal fields apart (sealed).
    #[serde(default)]
    pub identity: Identity,
    pub preferences: Preferences,
    pub acquisition_channel: Option<Channel>,
    #[serde(default)]
    pub sources: Vec<SourceRef>,
    /// The consent decision in force per purpose (`consent::current` of the
    /// ledger); every decision is kept in the consent ledger.
    pub consents: Vec<Consent>,
    #[serde(default)]
    pub network: Vec<NetworkActivity>,
    /// The tier of `value` (indexed, so kept beside it); `None` until the
    /// customer's first purchase.
    pub tier: Option<Tier>,
    /// The points coefficient, its components, tier and premium flag, as of
    /// the last assessment (`value::ValuePolicy::assess`).
    #[serde(default)]
    pub value: Option<ValueAssessment>,
    pub segment: Option<String>,
    /// Derived from the stored history on every write.
    #[serde(default)]
    pub activity: ActivitySummary,
    /// Which imported rows `activity` counts (see `RowMark`), newest last.
    /// Import bookkeeping: stored, never shown by the API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary_marks: Vec<RowMark>,
    /// The import row that created the profile, if an import did: a chunk
    /// applied again after a crash finds the profile its failed attempt
    /// created and still counts it as created. Import bookkeeping, like
    /// `summary_marks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_import: Option<RowMark>,
    /// Field name → where its current value came from.
    #[serde(default)]
    pub provenance: BTreeMap<String, Origin>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every stored change; writes are conditional on it.
    pub version: u64,
}

/// A field a merge changed, with the value's origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedField {
    pub field: String,
    pub origin: Origin,
}

impl Customer {
    /// Sets the value assessment and the tier kept beside it for the index.
    pub fn set_value(&mut self, value: Option<ValueAssessment>) {
        self.tier = value.map(|v| v.tier);
        self.value = value;
    }

    /// A new profile from validated input.
    pub fn create(id: CustomerId, input: ValidCustomer, origin: &Origin) -> Customer {
        let mut customer = Customer {
            id,
            identity: Identity::default(),
            preferences: Preferences::default(),
            acquisition_channel: input.acquisition_channel,
            sources: Vec::new(),
            consents: Vec::new(),
            network: Vec::new(),
            tier: None,
            value: None,
            segment: None,
            activity: ActivitySummary::default(),
            summary_marks: Vec::new(),
            created_by_import: None,
            provenance: BTreeMap::new(),
            created_at: origin.at,
            updated_at: origin.at,
            version: 0,
        };
        customer.merge(input, origin);
        customer
    }

    /// Folds newer data about the same person into the profile. Per field, the
    /// newest non-empty value wins (by the origin's time); sources, consent
    /// decisions and preferred categories accumulate; the acquisition channel
    /// stays the first one known. Returns what changed, for the merge log.
    pub fn merge(&mut self, incoming: ValidCustomer, origin: &Origin) -> Vec<MergedField> {
        let mut changed = Vec::new();
        let mut take = |field: &'static str, provenance: &mut BTreeMap<String, Origin>| {
            let newer = provenance
                .get(field)
                .is_none_or(|held| held.at <= origin.at);
            if newer {
                provenance.insert(field.to_owned(), origin.clone());
                changed.push(MergedField {
                    field: field.to_owned(),
                    origin: origin.clone(),
                });
            }
            newer
        };
        let ValidCustomer {
            identity,
            preferences,
            acquisition_channel,
            source,
            consents,
            network,
        } = incoming;
        macro_rules! newest {
            ($field:literal, $slot:expr, $value:expr) => {
                if let Some(value) = $value {
                    if $slot.as_ref() != Some(&value) && take($field, &mut self.provenance) {
                        $slot = Some(value);
                    }
                }
            };
        }
        newest!("identity.name", self.identity.name, identity.name);
        newest!("identity.email", self.identity.email, identity.email);
        newest!("identity.phone", self.identity.phone, identity.phone);
        newest!(
            "identity.birth_date",
            self.identity.birth_date,
            identity.birth_date
        );
        newest!(
            "identity.id_document",
            self.identity.id_document,
            identity.id_document
        );
        newest!("identity.address", self.identity.address, identity.address);
        newest!(
            "preferences.contact_channel",
            self.preferences.contact_channel,
            preferences.contact_channel
        );
        newest!(
            "preferences.language",
            self.preferences.language,
            preferences.language
        );
        if self.acquisition_channel.is_none() {
            newest!(
                "acquisition_channel",
                self.acquisition_channel,
                acquisition_channel
            );
        }
        for category in preferences.categories {
            if !self.preferences.categories.contains(&category) {
                self.preferences.categories.push(category);
                changed.push(MergedField {
                    field: "preferences.categories".into(),
                    origin: origin.clone(),
                });
            }
        }
        if let Some(source) = source.filter(|s| !self.sources.contains(s)) {
            self.sources.push(source);
            changed.push(MergedField {
                field: "sources".into(),
                origin: origin.clone(),
            });
        }
        // The profile keeps the decision in force per purpose; every decision
        // itself goes to the consent ledger (see `consent`).
        let mut decisions = self.consents.clone();
        decisions.extend(consents);
        let in_force = crate::consent::current(&decisions);
        if in_force != self.consents {
            self.consents = in_force;
            changed.push(MergedField {
                field: "consents".into(),
                origin: origin.clone(),
            });
        }
        if let Some(trace) = network.filter(|n| !self.network.contains(n)) {
            self.network.push(trace);
            self.network.sort_by_key(|n| n.seen_at);
            let excess = self.network.len().saturating_sub(MAX_NETWORK_TRACES);
            self.network.drain(..excess);
            changed.push(MergedField {
                field: "network".into(),
                origin: origin.clone(),
            });
        }
        if !changed.is_empty() {
            self.updated_at = self.updated_at.max(origin.at);
        }
        changed
    }

    /// Every value by which this person can be found again.
    pub fn identifiers(&self) -> Vec<Identifier> {
        let mut ids = Vec::new();
        ids.extend(self.identity.email.clone().map(Identifier::Email));
        ids.extend(self.identity.phone.clone().map(Identifier::Phone));
        ids.extend(self.sources.iter().cloned().map(Identifier::External));
        ids
    }

    /// Whether the latest decision for the purpose is a grant.
    pub fn has_consent(&self, purpose: Purpose) -> bool {
        crate::consent::current(&self.consents)
            .iter()
            .any(|c| c.purpose == purpose && c.granted)
    }

    /// Whether the customer's consent permits this use (see `consent`).
    pub fn permits(
        &self,
        use_: crate::consent::Use,
        policy: crate::consent::ConsentPolicy,
    ) -> Result<(), crate::consent::MissingConsent> {
        crate::consent::permits(&self.consents, use_, policy)
    }
}

/// A customer as a source or API client sends it. Unknown fields are refused
/// so that a typo never silently drops data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<String>,
    pub id_document: Option<IdDocumentInput>,
    pub address: Option<AddressInput>,
    #[serde(default)]
    pub preferences: PreferencesInput,
    pub acquisition_channel: Option<Channel>,
    pub source: Option<SourceInput>,
    #[serde(default)]
    pub consents: Vec<ConsentInput>,
    pub network: Option<NetworkInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdDocumentInput {
    pub kind: DocumentKind,
    pub country: String,
    pub number: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub street: Option<String>,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesInput {
    #[serde(default)]
    pub categories: Vec<String>,
    pub contact_channel: Option<Channel>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    pub source: String,
    pub external_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub purpose: Purpose,
    pub granted: bool,
    pub at: String,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInput {
    pub ip: Option<String>,
    pub device_id: Option<String>,
    pub user_agent: Option<String>,
    pub seen_at: Option<String>,
}

/// Customer input that passed validation, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCustomer {
    pub identity: Identity,
    pub preferences: Preferences,
    pub acquisition_channel: Option<Channel>,
    pub source: Option<SourceRef>,
    pub consents: Vec<Consent>,
    pub network: Option<NetworkActivity>,
}

const MAX_PREFERRED_CATEGORIES: usize = 50;
const MAX_CONSENTS_PER_INPUT: usize = 20;

impl CustomerInput {
    /// Validates and normalises every field, reporting all bad fields at once.
    /// `now` stamps network activity that carries no time of its own.
    pub fn validate(
        &self,
        options: &ReadOptions,
        now: DateTime<Utc>,
    ) -> Result<ValidCustomer, Invalid> {
        let mut errors = Collector::default();
        let identity = Identity {
            name: opt(&mut errors, &self.name, |raw| {
                text::line("name", raw, MAX_LINE_CHARS)
            }),
            email: opt(&mut errors, &self.email, |raw| {
                non_blank(raw).map(|r| Email::parse("email", r)).transpose()
            }),
            phone: opt(&mut errors, &self.phone, |raw| {
                non_blank(raw)
                    .map(|r| Phone::parse("phone", r, options.phone_region))
                    .transpose()
            }),
            birth_date: opt(&mut errors, &self.birth_date, |raw| {
                non_blank(raw)
                    .map(|r| birth_date(r, options, now))
                    .transpose()
            }),
            id_document: self.id_document.as_ref().and_then(|doc| {
                errors.take(IdDocument::parse(
                    "id_document",
                    doc.kind,
                    &doc.country,
                    &doc.number,
                ))
            }),
            address: self
                .address
                .as_ref()
                .and_then(|a| errors.take(a.validate()))
                .flatten(),
        };
        let preferences = errors.take(self.preferences.validate()).unwrap_or_default();
        let source = self.source.as_ref().and_then(|s| errors.take(s.validate()));
        if self.consents.len() > MAX_CONSENTS_PER_INPUT {
            errors.push(FieldError::new(
                "consents",
                "too_many",
                format!("at most {MAX_CONSENTS_PER_INPUT} per request"),
            ));
        }
        let consents: Vec<Consent> = self
            .consents
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                errors.take(
                    c.validate(options)
                        .map_err(|e| e.under(&format!("consents[{i}]"))),
                )
            })
            .collect();
        let network = self
            .network
            .as_ref()
            .and_then(|n| errors.take(n.validate(options, now)));
        let blank = |raw: &Option<String>| raw.as_deref().and_then(non_blank).is_none();
        if blank(&self.email) && blank(&self.phone) && self.source.is_none() {
            errors.push(FieldError::new(
                "email",
                "no_identifier",
                "a customer needs an e-mail, a phone number or a source id to be told apart",
            ));
        }
        errors.finish(|| ValidCustomer {
            identity,
            preferences,
            acquisition_channel: self.acquisition_channel,
            source,
            consents,
            network,
        })
    }
}

fn non_blank(raw: &str) -> Option<&str> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

fn opt<T>(
    errors: &mut Collector,
    raw: &Option<String>,
    read: impl FnOnce(&str) -> Result<Option<T>, FieldError>,
) -> Option<T> {
    raw.as_deref().and_then(|r| errors.take(read(r)).flatten())
}

fn birth_date(
    raw: &str,
    options: &ReadOptions,
    now: DateTime<Utc>,
) -> Result<NaiveDate, FieldError> {
    let date = contact::parse_date("birth_date", raw, options.date_order)?;
    let today = now.date_naive();
    let oldest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if date > today || date < oldest {
        return Err(FieldError::new(
            "birth_date",
            "out_of_range",
            "must be between 1900-01-01 and today",
        ));
    }
    Ok(date)
}

impl AddressInput {
    fn validate(&self) -> Result<Option<Address>, FieldError> {
        let field = |name: &str, raw: &Option<String>| -> Result<Option<String>, FieldError> {
            raw.as_deref()
                .map(|r| text::line(&format!("address.{name}"), r, MAX_LINE_CHARS))
                .transpose()
                .map(Option::flatten)
        };
        let country = match field("country", &self.country)? {
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_uppercase())
            }
            Some(_) => {
                return Err(FieldError::new(
                    "address.country",
                    "invalid_country",
                    "must be an ISO 3166 alpha-2 code",
                ));
            }
            None => None,
        };
        let address = Address {
            country,
            region: field("region", &self.region)?,
            city: field("city", &self.city)?,
            district: field("district", &self.district)?,
            street: field("street", &self.street)?,
            postal_code: field("postal_code", &self.postal_code)?,
        };
        Ok((address != Address::default()).then_some(address))
    }
}

impl PreferencesInput {
    fn validate(&self) -> Result<Preferences, FieldError> {
        if self.categories.len() > MAX_PREFERRED_CATEGORIES {
            return Err(FieldError::new(
                "preferences.categories",
                "too_many",
                format!("at most {MAX_PREFERRED_CATEGORIES} categories"),
            ));
        }
        let mut categories = Vec::with_capacity(self.categories.len());
        for (i, raw) in self.categories.iter().enumerate() {
            if let Some(c) =
                text::line(&format!("preferences.categories[{i}]"), raw, MAX_LINE_CHARS)?
                && !categories.contains(&c)
            {
                categories.push(c);
            }
        }
        let language = match self
            .language
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            Some(tag) if is_language_tag(tag) => Some(tag.to_owned()),
            Some(_) => {
                return Err(FieldError::new(
                    "preferences.language",
                    "invalid_language",
                    "must be a BCP 47 tag such as zh-CN",
                ));
            }
            None => None,
        };
        Ok(Preferences {
            categories,
            contact_channel: self.contact_channel,
            language,
        })
    }
}

fn is_language_tag(tag: &str) -> bool {
    tag.len() <= 35
        && tag.split('-').all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

impl SourceInput {
    fn validate(&self) -> Result<SourceRef, FieldError> {
        let source = text::identifier("source.source", &self.source)?.to_lowercase();
        let external_id = text::identifier("source.external_id", &self.external_id)?;
        Ok(SourceRef {
            source,
            external_id,
        })
    }
}

impl ConsentInput {
    pub(crate) fn validate(&self, options: &ReadOptions) -> Result<Consent, FieldError> {
        Ok(Consent {
            purpose: self.purpose,
            granted: self.granted,
            at: contact::parse_instant("at", &self.at, options.date_order)?,
            version: text::identifier("version", &self.version)?,
            source: text::identifier("source", &self.source)?,
        })
    }
}

impl NetworkInput {
    fn validate(
        &self,
        options: &ReadOptions,
        now: DateTime<Utc>,
    ) -> Result<NetworkActivity, FieldError> {
        let ip = match self.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => Some(raw.parse::<IpAddr>().map_err(|_| {
                FieldError::new("network.ip", "invalid_ip", "is not an IP address")
            })?),
            None => None,
        };
        let device_id = self
            .device_id
            .as_deref()
            .map(|d| text::identifier("network.device_id", d))
            .transpose()?;
        let user_agent = self
            .user_agent
            .as_deref()
            .map(|ua| text::line("network.user_agent", ua, 512))
            .transpose()?
            .flatten();
        let seen_at = match self.seen_at.as_deref() {
            Some(raw) => contact::parse_instant("network.seen_at", raw, options.date_order)?,
            None => now,
        };
        Ok(NetworkActivity {
            ip,
            device_id,
            user_agent,
            seen_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn origin(at: DateTime<Utc>) -> Origin {
        Origin {
            source: "test".into(),
            at,
        }
    }

    fn valid(input: CustomerInput) -> ValidCustomer {
        input.validate(&ReadOptions::default(), now()).unwrap()
    }

    #[test]
    fn newest_non_empty_value_wins_per_field() {
        let first = CustomerInput {
            name: Some("王芳".into()),
            email: Some("fang@shop.cn".into()),
            ..Default::default()
        };
        let mut customer = Customer::create(CustomerId::generate(), valid(first), &origin(now()));
        let older = CustomerInput {
            name: Some("Wang Fang".into()),
            phone: Some("13912345678".into()),
            ..Default::default()
        };
        let yesterday = origin(now() - chrono::Duration::days(1));
        let changed = customer.merge(valid(older), &yesterday);
        assert_eq!(
            customer.identity.name.as_deref(),
            Some("王芳"),
            "an older value does not replace a newer one"
        );
        assert_eq!(
            customer.identity.phone.as_ref().unwrap().as_str(),
            "+8613912345678",
            "an empty field takes any value"
        );
        assert_eq!(
            changed.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            ["identity.phone"]
        );
        assert_eq!(customer.provenance["identity.phone"], yesterday);

        let newer = CustomerInput {
            email: Some("fang@new.cn".into()),
            ..Default::default()
        };
        let tomorrow = origin(now() + chrono::Duration::days(1));
        customer.merge(valid(newer.clone()), &tomorrow);
        assert_eq!(
            customer.identity.email.as_ref().unwrap().as_str(),
            "fang@new.cn"
        );
        assert_eq!(customer.updated_at, tomorrow.at);
        assert!(
            customer.merge(valid(newer), &tomorrow).is_empty(),
            "merging the same data again changes nothing"
        );
    }

    #[test]
    fn normalises_a_full_profile() {
        let input = CustomerInput {
            name: Some("  张 伟 ".into()),
            email: Some("Zhang.Wei@Example.CN".into()),
            phone: Some("138-1234-5678".into()),
            birth_date: Some("1990/05/17".into()),
            source: Some(SourceInput {
                source: "Shopify".into(),
                external_id: " 42 ".into(),
            }),
            consents: vec![ConsentInput {
                purpose: Purpose::Marketing,
                granted: true,
                at: "2026-01-02T03:04:05Z".into(),
                version: "v3".into(),
                source: "signup-form".into(),
            }],
            network: Some(NetworkInput {
                ip: Some("2001:db8::1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let valid = input.validate(&ReadOptions::default(), now()).unwrap();
        assert_eq!(valid.identity.name.as_deref(), Some("张 伟"));
        assert_eq!(
            valid.identity.email.as_ref().unwrap().as_str(),
            "zhang.wei@example.cn"
        );
        assert_eq!(
            valid.identity.phone.as_ref().unwrap().as_str(),
            "+8613812345678"
        );
        assert_eq!(valid.source.as_ref().unwrap().source, "shopify");
        assert_eq!(valid.network.as_ref().unwrap().seen_at, now());
        let customer = Customer::create(CustomerId::generate(), valid, &origin(now()));
        assert!(customer.has_consent(Purpose::Marketing));
        assert!(!customer.has_consent(Purpose::Profiling));
        assert_eq!(customer.identifiers().len(), 3);
    }

    #[test]
    fn reports_every_bad_field_by_name() {
        let input = CustomerInput {
            email: Some("not-an-email".into()),
            phone: Some("123".into()),
            birth_date: Some("2990-01-01".into()),
            address: Some(AddressInput {
                country: Some("China".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let invalid = input.validate(&ReadOptions::default(), now()).unwrap_err();
        let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "phone", "birth_date", "address.country"]);
    }

    #[test]
    fn needs_something_to_tell_people_apart() {
        let input = CustomerInput {
            name: Some("Anonymous".into()),
            ..Default::default()
        };
        let invalid = input.validate(&ReadOptions::default(), now()).unwrap_err();
        assert_eq!(invalid.errors[0].code, "no_identifier");
    }

    #[test]
    fn refuses_unknown_fields() {
        let json = r#"{"email":"a@b.cn","tier":"diamond"}"#;
        let err = serde_json::from_str::<CustomerInput>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `tier`"), "{err}");
    }

    #[test]
    fn latest_consent_decision_wins() {
        let valid = CustomerInput {
            email: Some("a@b.cn".into()),
            ..Default::default()
        }
        .validate(&ReadOptions::default(), now())
        .unwrap();
        let mut customer = Customer::create(CustomerId::generate(), valid, &origin(now()));
        let decision = |granted| Consent {
            purpose: Purpose::Profiling,
            granted,
            at: now(),
            version: "1".into(),
            source: "t".into(),
        };
        customer.consents = vec![decision(true), decision(false)];
        assert!(!customer.has_consent(Purpose::Profiling));
    }
}
