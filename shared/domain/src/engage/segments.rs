//! Segments: an ordered list of named rules. A customer belongs to the
//! first segment whose rule matches — a partition, so each customer has
//! one segment and one marketing strategy. The list is the shop's
//! configuration (`GET|PUT /v1/segments/definition`, versioned); until a
//! shop saves its own, [`SegmentList::default`] is in force.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Value, json};

use super::facts::Facts;
use super::rule::Rule;
use crate::error::{Collector, FieldError, Invalid};

/// Segments one list may hold.
pub const MAX_SEGMENTS: usize = 50;
const MAX_ID: usize = 40;
const MAX_NAME: usize = 80;
const MAX_DESCRIPTION: usize = 500;

/// A segment's id: lower-case letters, digits, `_` and `-`; in keys and
/// URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SegmentId(String);

impl SegmentId {
    pub fn parse(field: &str, raw: &str) -> Result<SegmentId, FieldError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_ID
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(SegmentId(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_id",
                format!("must be 1 to {MAX_ID} of a-z, 0-9, _ and -"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SegmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub id: SegmentId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub rule: Rule,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentList {
    pub segments: Vec<Segment>,
}

impl SegmentList {
    /// Parses and checks a list an admin sent; every error names its path
    /// (`segments[2].rule.any[0].value`).
    pub fn parse(value: &Value) -> Result<SegmentList, Invalid> {
        let mut errors = Collector::default();
        let Some(object) = value.as_object() else {
            errors.push(FieldError::new(
                "",
                "invalid_type",
                "must be {\"segments\": […]}",
            ));
            return Err(errors.finish(|| ()).unwrap_err());
        };
        for key in object.keys().filter(|k| *k != "segments") {
            errors.push(FieldError::new(
                key.clone(),
                "unknown_field",
                "is not part of a segment list",
            ));
        }
        let Some(items) = object.get("segments").and_then(Value::as_array) else {
            errors.push(FieldError::new(
                "segments",
                "invalid_type",
                "must be a list of segments",
            ));
            return Err(errors.finish(|| ()).unwrap_err());
        };
        if items.len() > MAX_SEGMENTS {
            errors.push(FieldError::new(
                "segments",
                "too_many",
                format!("holds {}; at most {MAX_SEGMENTS}", items.len()),
            ));
        }
        let mut seen = HashSet::new();
        let mut segments = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("segments[{i}]");
            if let Some(segment) = parse_segment(item, &path, &mut errors) {
                if !seen.insert(segment.id.clone()) {
                    errors.push(FieldError::new(
                        format!("{path}.id"),
                        "duplicate",
                        format!("`{}` names an earlier segment too", segment.id),
                    ));
                }
                segments.push(segment);
            }
        }
        errors.finish(|| SegmentList { segments })
    }

    /// The first segment whose rule the customer matches.
    pub fn classify(&self, facts: &Facts) -> Option<&Segment> {
        self.segments.iter().find(|s| s.rule.matches(facts))
    }

    pub fn get(&self, id: &SegmentId) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == *id)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Default for SegmentList {
    /// The segments a shop starts with, most urgent first: customers at
    /// high churn risk, the most valuable recent buyers, repeat buyers,
    /// recent first-time buyers, those gone quiet for a year, intent
    /// customers ready to convert, and everyone else.
    fn default() -> Self {
        let list = json!({"segments": [
            {"id": "at_risk", "name": "At risk",
             "description": "Buyers the churn model puts at high risk: win them back before they go.",
             "rule": {"all": [
                {"attr": "stage", "op": "in", "value": ["new", "returning"]},
                {"attr": "churn_band", "op": "eq", "value": "high"}]}},
            {"id": "champions", "name": "Champions",
             "description": "Diamond and platinum customers who bought in the last 180 days.",
             "rule": {"all": [
                {"attr": "tier", "op": "in", "value": ["diamond", "platinum"]},
                {"attr": "days_since_last_purchase", "op": "lte", "value": 180}]}},
            {"id": "loyal", "name": "Loyal",
             "description": "Returning customers who bought in the last year.",
             "rule": {"all": [
                {"attr": "stage", "op": "eq", "value": "returning"},
                {"attr": "days_since_last_purchase", "op": "lte", "value": 365}]}},
            {"id": "new", "name": "New",
             "description": "First purchase in the last 90 days.",
             "rule": {"all": [
                {"attr": "stage", "op": "eq", "value": "new"},
                {"attr": "days_since_last_purchase", "op": "lte", "value": 90}]}},
            {"id": "lapsed", "name": "Lapsed",
             "description": "Buyers with no purchase for a year, or past the churn horizon.",
             "rule": {"any": [
                {"attr": "churn_band", "op": "eq", "value": "lapsed"},
                {"attr": "days_since_last_purchase", "op": "gt", "value": 365}]}},
            {"id": "convertible_intent", "name": "Convertible intent",
             "description": "Customers who asked but never bought, and whose signals pass the conversion criteria.",
             "rule": {"all": [
                {"attr": "stage", "op": "eq", "value": "intent"},
                {"attr": "convertible", "op": "eq", "value": true}]}},
            {"id": "other", "name": "Other", "description": "Everyone else.",
             "rule": {"all": []}}
        ]});
        SegmentList::parse(&list).expect("the default segments are valid")
    }
}

fn parse_segment(item: &Value, path: &str, errors: &mut Collector) -> Option<Segment> {
    let Some(object) = item.as_object() else {
        errors.push(FieldError::new(
            path,
            "invalid_type",
            "must be an object with id, name and rule",
        ));
        return None;
    };
    for key in object.keys() {
        if !["id", "name", "description", "rule"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                "unknown_field",
                "is not part of a segment",
            ));
        }
    }
    let text = |key: &str, max: usize, errors: &mut Collector| -> Option<String> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
                Some(s.trim().to_owned())
            }
            Some(_) => {
                errors.push(FieldError::new(
                    format!("{path}.{key}"),
                    "invalid_text",
                    format!("must be text of 1 to {max} characters"),
                ));
                None
            }
        }
    };
    let id = match object.get("id").and_then(Value::as_str) {
        Some(raw) => errors.take(SegmentId::parse(&format!("{path}.id"), raw)),
        None => {
            errors.push(FieldError::required(format!("{path}.id")));
            None
        }
    };
    let name = text("name", MAX_NAME, errors);
    if object.get("name").is_none() {
        errors.push(FieldError::required(format!("{path}.name")));
    }
    let description = text("description", MAX_DESCRIPTION, errors);
    let rule = match object.get("rule") {
        Some(rule) => match Rule::parse(rule, &format!("{path}.rule")) {
            Ok(rule) => Some(rule),
            Err(invalid) => {
                invalid.errors.into_iter().for_each(|e| errors.push(e));
                None
            }
        },
        None => {
            errors.push(FieldError::required(format!("{path}.rule")));
            None
        }
    };
    Some(Segment {
        id: id?,
        name: name?,
        description,
        rule: rule?,
    })
}

/// Why a customer's segment was evaluated again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentCause {
    /// The nightly run: time passed, scores changed, or the list did.
    Nightly,
    /// A write to the customer (profile, purchases, interactions).
    Write,
}

/// A customer's entry into a segment and exit from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SegmentChange {
    /// `None`: in no segment before (new, or profiling consent newly given).
    pub from: Option<SegmentId>,
    /// `None`: in none now (no segment matches, or profiling consent
    /// withdrawn).
    pub to: Option<SegmentId>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub cause: SegmentCause,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Stage;
    use crate::churn::model::RiskBand;
    use crate::customer::Tier;

    fn buyer() -> Facts {
        Facts {
            stage: Stage::Returning,
            convertible: false,
            tier: Some(Tier::Silver),
            premium: false,
            coefficient: Some(300),
            churn_band: Some(RiskBand::Low),
            churn_probability: Some(0.1),
            days_since_last_purchase: Some(40),
            spend: 120.0,
            orders: 3,
            returns: 0,
            complaints_90d: 0,
            preferred_categories: Vec::new(),
            region: None,
            consents: Vec::new(),
        }
    }

    fn segment_of(facts: &Facts) -> String {
        SegmentList::default()
            .classify(facts)
            .expect("other catches everyone")
            .id
            .to_string()
    }

    #[test]
    fn the_first_matching_segment_wins() {
        let mut facts = buyer();
        assert_eq!(segment_of(&facts), "loyal");
        facts.tier = Some(Tier::Platinum);
        assert_eq!(segment_of(&facts), "champions");
        facts.churn_band = Some(RiskBand::High);
        assert_eq!(segment_of(&facts), "at_risk", "risk comes before value");
        let mut first = buyer();
        first.stage = Stage::New;
        first.orders = 1;
        assert_eq!(segment_of(&first), "new");
        first.days_since_last_purchase = Some(400);
        assert_eq!(segment_of(&first), "lapsed");
        let mut intent = buyer();
        intent.stage = Stage::Intent;
        intent.tier = None;
        intent.days_since_last_purchase = None;
        intent.churn_band = None;
        assert_eq!(segment_of(&intent), "other");
        intent.convertible = true;
        assert_eq!(segment_of(&intent), "convertible_intent");
    }

    #[test]
    fn a_bad_list_names_every_path() {
        let invalid = SegmentList::parse(&json!({"segments": [
            {"id": "ok", "name": "Fine", "rule": {"all": []}},
            {"id": "Bad Id", "name": "", "rule": {"any": [{"attr": "nope", "op": "eq", "value": 1}]}},
            {"id": "ok", "name": "Again", "rule": {"all": []}, "colour": "red"},
            {"name": "No id"}
        ]}))
        .unwrap_err();
        let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "segments[1].id",
                "segments[1].name",
                "segments[1].rule.any[0].attr",
                "segments[2].colour",
                "segments[2].id",
                "segments[3].id",
                "segments[3].rule",
            ]
        );
    }

    #[test]
    fn a_list_round_trips_through_json() {
        let list = SegmentList::default();
        assert_eq!(SegmentList::parse(&list.to_json()).unwrap(), list);
    }
}
