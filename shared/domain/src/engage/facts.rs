//! What segment rules read about a customer: attributes derived from the
//! profile (stage, value, spend, orders, preferences, consents), the
//! stored churn score and the recent history (complaints, conversion).
//! Each attribute has a type, so a rule is checked against it when saved.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::activity::Stage;
use crate::churn::model::{ChurnScore, RiskBand};
use crate::consent;
use crate::customer::{Customer, Purpose, Tier};
use crate::interaction::{Interaction, InteractionKind};
use crate::money::Currency;

/// Days back that `complaints_90d` counts.
pub const COMPLAINT_WINDOW_DAYS: i64 = 90;

/// A customer as segment rules see them, as of one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub stage: Stage,
    /// An intent customer whose signals pass the conversion criteria.
    pub convertible: bool,
    pub tier: Option<Tier>,
    pub premium: bool,
    pub coefficient: Option<u32>,
    pub churn_band: Option<RiskBand>,
    pub churn_probability: Option<f64>,
    pub days_since_last_purchase: Option<u32>,
    /// Net amount bought in the shop's currency, in major units.
    pub spend: f64,
    pub orders: u32,
    pub returns: u32,
    pub complaints_90d: u32,
    pub preferred_categories: Vec<String>,
    /// Province, state or region of the address, when the profile was read
    /// with its personal fields.
    pub region: Option<String>,
    /// Purposes the customer consents to now.
    pub consents: Vec<Purpose>,
}

impl Facts {
    /// The facts of a customer: their profile, the complaints among
    /// `recent` interactions (any window that covers the last 90 days), the
    /// stored churn score and whether they are convertible.
    pub fn of(
        customer: &Customer,
        recent: &[Interaction],
        score: Option<&ChurnScore>,
        convertible: bool,
        currency: Currency,
        as_of: DateTime<Utc>,
    ) -> Facts {
        let summary = &customer.activity;
        let window_start = as_of - chrono::Duration::days(COMPLAINT_WINDOW_DAYS);
        let complaints_90d = recent
            .iter()
            .filter(|i| {
                i.kind == InteractionKind::Complaint && i.at > window_start && i.at <= as_of
            })
            .count() as u32;
        let spent = summary.spent_in(currency);
        let scale = 10f64.powi(currency.exponent() as i32);
        Facts {
            stage: summary.stage(),
            convertible,
            tier: customer.tier,
            premium: customer.value.is_some_and(|v| v.premium),
            coefficient: customer.value.map(|v| v.coefficient),
            churn_band: score.map(|s| s.band),
            churn_probability: score.map(|s| s.probability),
            days_since_last_purchase: summary
                .last_purchase_at
                .map(|at| (as_of - at).num_days().max(0) as u32),
            spend: spent.minor.max(0) as f64 / scale,
            orders: summary.purchases,
            returns: summary.returns,
            complaints_90d,
            preferred_categories: customer.preferences.categories.clone(),
            region: customer
                .identity
                .address
                .as_ref()
                .and_then(|a| a.region.clone()),
            consents: consent::current(&customer.consents)
                .into_iter()
                .filter(|c| c.granted)
                .map(|c| c.purpose)
                .collect(),
        }
    }

    /// One attribute's value.
    pub fn get(&self, attribute: Attribute) -> FactValue {
        use FactValue::*;
        let number = |n: Option<f64>| n.map_or(Absent, Number);
        match attribute {
            Attribute::Stage => Text(stage_name(self.stage).to_owned()),
            Attribute::Convertible => Bool(self.convertible),
            Attribute::Tier => self.tier.map_or(Absent, |t| Text(t.name().to_owned())),
            Attribute::Premium => Bool(self.premium),
            Attribute::Coefficient => number(self.coefficient.map(f64::from)),
            Attribute::ChurnBand => self
                .churn_band
                .map_or(Absent, |b| Text(b.name().to_owned())),
            Attribute::ChurnProbability => number(self.churn_probability),
            Attribute::DaysSinceLastPurchase => {
                number(self.days_since_last_purchase.map(f64::from))
            }
            Attribute::Spend => Number(self.spend),
            Attribute::Orders => Number(f64::from(self.orders)),
            Attribute::Returns => Number(f64::from(self.returns)),
            Attribute::Complaints90d => Number(f64::from(self.complaints_90d)),
            Attribute::PreferredCategories => Texts(self.preferred_categories.clone()),
            Attribute::Region => self.region.clone().map_or(Absent, Text),
            Attribute::Consents => Texts(
                self.consents
                    .iter()
                    .map(|p| purpose_name(*p).to_owned())
                    .collect(),
            ),
        }
    }
}

/// A fact's value as rules compare it.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    Bool(bool),
    Number(f64),
    Text(String),
    Texts(Vec<String>),
    /// Not known (no tier yet, never scored, never bought).
    Absent,
}

/// What kind of value an attribute holds, and so which comparisons and
/// values a rule may use with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Number,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// Free text.
    Text,
    /// A list of names, each one of these (`None`: free text).
    List(Option<&'static [&'static str]>),
}

/// The attributes a rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    Stage,
    Convertible,
    Tier,
    Premium,
    Coefficient,
    ChurnBand,
    ChurnProbability,
    DaysSinceLastPurchase,
    Spend,
    Orders,
    Returns,
    Complaints90d,
    PreferredCategories,
    Region,
    Consents,
}

const STAGES: &[&str] = &["prospect", "intent", "new", "returning"];
const TIERS: &[&str] = &["diamond", "platinum", "gold", "silver", "bronze"];
const BANDS: &[&str] = &["lapsed", "high", "medium", "low"];
const PURPOSES: &[&str] = &[
    "marketing",
    "profiling",
    "personalisation",
    "analytics",
    "third_party_sharing",
];

impl Attribute {
    pub const ALL: [Attribute; 15] = [
        Attribute::Stage,
        Attribute::Convertible,
        Attribute::Tier,
        Attribute::Premium,
        Attribute::Coefficient,
        Attribute::ChurnBand,
        Attribute::ChurnProbability,
        Attribute::DaysSinceLastPurchase,
        Attribute::Spend,
        Attribute::Orders,
        Attribute::Returns,
        Attribute::Complaints90d,
        Attribute::PreferredCategories,
        Attribute::Region,
        Attribute::Consents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attribute::Stage => "stage",
            Attribute::Convertible => "convertible",
            Attribute::Tier => "tier",
            Attribute::Premium => "premium",
            Attribute::Coefficient => "coefficient",
            Attribute::ChurnBand => "churn_band",
            Attribute::ChurnProbability => "churn_probability",
            Attribute::DaysSinceLastPurchase => "days_since_last_purchase",
            Attribute::Spend => "spend",
            Attribute::Orders => "orders",
            Attribute::Returns => "returns",
            Attribute::Complaints90d => "complaints_90d",
            Attribute::PreferredCategories => "preferred_categories",
            Attribute::Region => "region",
            Attribute::Consents => "consents",
        }
    }

    pub fn from_name(name: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Attribute::Stage => Kind::Choice(STAGES),
            Attribute::Tier => Kind::Choice(TIERS),
            Attribute::ChurnBand => Kind::Choice(BANDS),
            Attribute::Convertible | Attribute::Premium => Kind::Bool,
            Attribute::Coefficient
            | Attribute::ChurnProbability
            | Attribute::DaysSinceLastPurchase
            | Attribute::Spend
            | Attribute::Orders
            | Attribute::Returns
            | Attribute::Complaints90d => Kind::Number,
            Attribute::Region => Kind::Text,
            Attribute::PreferredCategories => Kind::List(None),
            Attribute::Consents => Kind::List(Some(PURPOSES)),
        }
    }

    /// Whether the attribute is one of the profile's personal fields
    /// (sealed), which segment rules do not read yet.
    pub fn is_personal(self) -> bool {
        self == Attribute::Region
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Prospect => "prospect",
        Stage::Intent => "intent",
        Stage::New => "new",
        Stage::Returning => "returning",
    }
}

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Marketing => "marketing",
        Purpose::Profiling => "profiling",
        Purpose::Personalisation => "personalisation",
        Purpose::Analytics => "analytics",
        Purpose::ThirdPartySharing => "third_party_sharing",
    }
}
