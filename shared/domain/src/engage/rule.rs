//! Segment rules: JSON an admin writes, checked against the attribute
//! catalogue when saved (every error names its path, e.g.
//! `rule.any[2].value`), then evaluated against a customer's [`Facts`].
//!
//! ```json
//! {"all": [
//!   {"attr": "stage", "op": "in", "value": ["new", "returning"]},
//!   {"any": [{"attr": "churn_band", "op": "eq", "value": "high"},
//!            {"attr": "complaints_90d", "op": "gte", "value": 2}]},
//!   {"not": {"attr": "consents", "op": "contains", "value": "marketing"}}
//! ]}
//! ```
//!
//! `all` of nothing holds for everyone (a catch-all segment); `any` of
//! nothing is refused. A comparison on an absent value (no tier yet, never
//! scored) does not hold, whatever the operator; `present` asks for it.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::facts::{Attribute, FactValue, Facts, Kind};
use crate::error::{Collector, FieldError, Invalid};

/// How deep rules may nest: deeper is a mistake, not a segment.
const MAX_DEPTH: usize = 8;
/// Comparisons in one rule.
const MAX_TESTS: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Test(Test),
}

/// One comparison of an attribute with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub attribute: Attribute,
    pub op: Op,
    pub value: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    /// The value is one of a list.
    In,
    /// A list attribute holds the value.
    Contains,
    /// The attribute is known (`true`) or not (`false`).
    Present,
}

impl Op {
    const ALL: [Op; 9] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::Contains,
        Op::Present,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Contains => "contains",
            Op::Present => "present",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Bool(bool),
    Number(f64),
    Text(String),
    Texts(Vec<String>),
}

impl Rule {
    /// Parses and checks a rule; `path` names where it sits (`rule`,
    /// `segments[3].rule`) in every error.
    pub fn parse(value: &Value, path: &str) -> Result<Rule, Invalid> {
        let mut errors = Collector::default();
        let mut tests = 0;
        let rule = parse(value, path, 0, &mut tests, &mut errors);
        if tests > MAX_TESTS {
            errors.push(FieldError::new(
                path,
                "too_large",
                format!("has {tests} comparisons; at most {MAX_TESTS}"),
            ));
        }
        errors.finish(|| rule.expect("no errors means a rule"))
    }

    /// Whether the customer matches.
    pub fn matches(&self, facts: &Facts) -> bool {
        match self {
            Rule::All(rules) => rules.iter().all(|r| r.matches(facts)),
            Rule::Any(rules) => rules.iter().any(|r| r.matches(facts)),
            Rule::Not(rule) => !rule.matches(facts),
            Rule::Test(test) => test.holds(&facts.get(test.attribute)),
        }
    }

    /// Every attribute the rule reads.
    pub fn attributes(&self, out: &mut Vec<Attribute>) {
        match self {
            Rule::All(rules) | Rule::Any(rules) => rules.iter().for_each(|r| r.attributes(out)),
            Rule::Not(rule) => rule.attributes(out),
            Rule::Test(test) => out.push(test.attribute),
        }
    }

    /// The rule as JSON, in the form it was written.
    pub fn to_json(&self) -> Value {
        match self {
            Rule::All(rules) => json!({"all": rules.iter().map(Rule::to_json).collect::<Vec<_>>()}),
            Rule::Any(rules) => json!({"any": rules.iter().map(Rule::to_json).collect::<Vec<_>>()}),
            Rule::Not(rule) => json!({"not": rule.to_json()}),
            Rule::Test(test) => {
                let value = match &test.value {
                    Operand::Bool(b) => json!(b),
                    Operand::Number(n) => json!(n),
                    Operand::Text(t) => json!(t),
                    Operand::Texts(t) => json!(t),
                };
                json!({"attr": test.attribute.name(), "op": test.op.name(), "value": value})
            }
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl Test {
    fn holds(&self, fact: &FactValue) -> bool {
        use std::cmp::Ordering::*;
        if self.op == Op::Present {
            return matches!(self.value, Operand::Bool(want) if want == (*fact != FactValue::Absent));
        }
        match (fact, &self.value) {
            (FactValue::Absent, _) => false,
            (FactValue::Bool(have), Operand::Bool(want)) => match self.op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                _ => false,
            },
            (FactValue::Number(have), Operand::Number(want)) => {
                let order = have.partial_cmp(want);
                match self.op {
                    Op::Eq => order == Some(Equal),
                    Op::Ne => order != Some(Equal),
                    Op::Lt => order == Some(Less),
                    Op::Lte => matches!(order, Some(Less | Equal)),
                    Op::Gt => order == Some(Greater),
                    Op::Gte => matches!(order, Some(Greater | Equal)),
                    _ => false,
                }
            }
            (FactValue::Text(have), Operand::Text(want)) => match self.op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                _ => false,
            },
            (FactValue::Text(have), Operand::Texts(wanted)) => match self.op {
                Op::In => wanted.contains(have),
                _ => false,
            },
            (FactValue::Texts(have), Operand::Text(want)) => match self.op {
                Op::Contains => have.contains(want),
                _ => false,
            },
            _ => false,
        }
    }
}

fn parse(
    value: &Value,
    path: &str,
    depth: usize,
    tests: &mut usize,
    errors: &mut Collector,
) -> Option<Rule> {
    let Some(object) = value.as_object() else {
        errors.push(FieldError::new(
            path,
            "invalid_rule",
            "must be an object: {\"all\": […]}, {\"any\": […]}, {\"not\": …} or {\"attr\", \"op\", \"value\"}",
        ));
        return None;
    };
    if depth >= MAX_DEPTH {
        errors.push(FieldError::new(
            path,
            "too_deep",
            format!("rules nest at most {MAX_DEPTH} deep"),
        ));
        return None;
    }
    let only = |key: &str| object.len() == 1 && object.contains_key(key);
    if only("all") || only("any") {
        let (key, empty_ok) = if only("all") {
            ("all", true)
        } else {
            ("any", false)
        };
        let here = format!("{path}.{key}");
        let Some(items) = object[key].as_array() else {
            errors.push(FieldError::new(
                here,
                "invalid_rule",
                "must be a list of rules",
            ));
            return None;
        };
        if items.is_empty() && !empty_ok {
            errors.push(FieldError::new(
                here,
                "invalid_rule",
                "must hold at least one rule",
            ));
            return None;
        }
        let rules: Vec<Option<Rule>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse(item, &format!("{here}[{i}]"), depth + 1, tests, errors))
            .collect();
        let rules: Option<Vec<Rule>> = rules.into_iter().collect();
        return rules.map(|rules| {
            if key == "all" {
                Rule::All(rules)
            } else {
                Rule::Any(rules)
            }
        });
    }
    if only("not") {
        return parse(
            &object["not"],
            &format!("{path}.not"),
            depth + 1,
            tests,
            errors,
        )
        .map(|rule| Rule::Not(Box::new(rule)));
    }
    *tests += 1;
    parse_test(object, path, errors).map(Rule::Test)
}

fn parse_test(object: &Map<String, Value>, path: &str, errors: &mut Collector) -> Option<Test> {
    let mut ok = true;
    for key in object.keys() {
        if !["attr", "op", "value"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                "unknown_field",
                "is not part of a rule: a comparison has attr, op and value; a group is all, any or not",
            ));
            ok = false;
        }
    }
    let attribute = match object.get("attr").map(|a| a.as_str()) {
        None => {
            errors.push(FieldError::required(format!("{path}.attr")));
            None
        }
        Some(None) => {
            errors.push(FieldError::new(
                format!("{path}.attr"),
                "invalid_type",
                "must be text",
            ));
            None
        }
        Some(Some(name)) => {
            let found = Attribute::from_name(name);
            if found.is_some_and(Attribute::is_personal) {
                // Rules are evaluated on profiles read without their personal
                // fields: refused rather than a rule that never matches.
                errors.push(FieldError::new(
                    format!("{path}.attr"),
                    "unavailable",
                    format!("`{name}` is a personal field, which segment rules do not read yet"),
                ));
                return None;
            }
            if found.is_none() {
                let known: Vec<&str> = Attribute::ALL.iter().map(|a| a.name()).collect();
                errors.push(FieldError::new(
                    format!("{path}.attr"),
                    "unknown_attribute",
                    format!("`{name}` is not an attribute; known: {}", known.join(", ")),
                ));
            }
            found
        }
    };
    let op = match object.get("op").map(|o| o.as_str()) {
        None => {
            errors.push(FieldError::required(format!("{path}.op")));
            None
        }
        Some(name) => {
            let found = name.and_then(|n| Op::ALL.into_iter().find(|op| op.name() == n));
            if found.is_none() {
                let known: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
                errors.push(FieldError::new(
                    format!("{path}.op"),
                    "unknown_operator",
                    format!("must be one of {}", known.join(", ")),
                ));
            }
            found
        }
    };
    let Some(raw) = object.get("value") else {
        errors.push(FieldError::required(format!("{path}.value")));
        return None;
    };
    let (attribute, op) = (attribute?, op?);
    if !ok {
        return None;
    }
    let value = operand(
        attribute,
        op,
        raw,
        &format!("{path}.value"),
        &format!("{path}.op"),
        errors,
    )?;
    Some(Test {
        attribute,
        op,
        value,
    })
}

/// The value a comparison needs for this attribute and operator.
fn operand(
    attribute: Attribute,
    op: Op,
    raw: &Value,
    path: &str,
    op_path: &str,
    errors: &mut Collector,
) -> Option<Operand> {
    let kind = attribute.kind();
    let bad_op = |errors: &mut Collector, allowed: &str| {
        errors.push(FieldError::new(
            op_path,
            "invalid_operator",
            format!("{} takes {allowed}", attribute.name()),
        ));
        None
    };
    let one_of = |errors: &mut Collector, name: &str, choices: &[&str]| -> bool {
        if choices.contains(&name) {
            true
        } else {
            errors.push(FieldError::new(
                path,
                "unknown_value",
                format!(
                    "`{name}` is not a {}; one of {}",
                    attribute.name(),
                    choices.join(", ")
                ),
            ));
            false
        }
    };
    let wrong = |errors: &mut Collector, want: &str| {
        errors.push(FieldError::new(
            path,
            "invalid_type",
            format!("must be {want}"),
        ));
        None
    };
    if op == Op::Present {
        return match raw.as_bool() {
            Some(b) => Some(Operand::Bool(b)),
            None => wrong(errors, "true or false"),
        };
    }
    match kind {
        Kind::Bool => match op {
            Op::Eq | Op::Ne => raw
                .as_bool()
                .map(Operand::Bool)
                .or_else(|| wrong(errors, "true or false")),
            _ => bad_op(errors, "eq, ne or present"),
        },
        Kind::Number => match op {
            Op::In | Op::Contains => bad_op(errors, "eq, ne, lt, lte, gt, gte or present"),
            _ => match raw.as_f64() {
                Some(n) if n.is_finite() => Some(Operand::Number(n)),
                _ => wrong(errors, "a number"),
            },
        },
        Kind::Choice(choices) => match op {
            Op::Eq | Op::Ne => match raw.as_str() {
                Some(name) => one_of(errors, name, choices).then(|| Operand::Text(name.to_owned())),
                None => wrong(errors, "text"),
            },
            Op::In => {
                let Some(items) = raw.as_array().filter(|items| !items.is_empty()) else {
                    return wrong(errors, "a non-empty list");
                };
                let mut names = Vec::new();
                let mut good = true;
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(name) if choices.contains(&name) => names.push(name.to_owned()),
                        Some(name) => {
                            errors.push(FieldError::new(
                                format!("{path}[{i}]"),
                                "unknown_value",
                                format!(
                                    "`{name}` is not a {}; one of {}",
                                    attribute.name(),
                                    choices.join(", ")
                                ),
                            ));
                            good = false;
                        }
                        None => {
                            errors.push(FieldError::new(
                                format!("{path}[{i}]"),
                                "invalid_type",
                                "must be text",
                            ));
                            good = false;
                        }
                    }
                }
                good.then_some(Operand::Texts(names))
            }
            _ => bad_op(errors, "eq, ne, in or present"),
        },
        Kind::Text => match op {
            Op::Eq | Op::Ne => match raw.as_str() {
                Some(text) => Some(Operand::Text(text.to_owned())),
                None => wrong(errors, "text"),
            },
            Op::In => match raw.as_array().filter(|items| !items.is_empty()) {
                Some(items) if items.iter().all(Value::is_string) => Some(Operand::Texts(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect(),
                )),
                _ => wrong(errors, "a non-empty list of text"),
            },
            _ => bad_op(errors, "eq, ne, in or present"),
        },
        Kind::List(choices) => match op {
            Op::Contains => match raw.as_str() {
                Some(name) => match choices {
                    Some(choices) => {
                        one_of(errors, name, choices).then(|| Operand::Text(name.to_owned()))
                    }
                    None => Some(Operand::Text(name.to_owned())),
                },
                None => wrong(errors, "text"),
            },
            _ => bad_op(errors, "contains or present"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Stage;
    use crate::churn::model::RiskBand;
    use crate::customer::{Purpose, Tier};

    fn facts() -> Facts {
        Facts {
            stage: Stage::Returning,
            convertible: false,
            tier: Some(Tier::Gold),
            premium: false,
            coefficient: Some(450),
            churn_band: Some(RiskBand::High),
            churn_probability: Some(0.71),
            days_since_last_purchase: Some(64),
            spend: 310.5,
            orders: 4,
            returns: 0,
            complaints_90d: 2,
            preferred_categories: vec!["tea".into()],
            region: None,
            consents: vec![Purpose::Marketing],
        }
    }

    fn rule(value: Value) -> Rule {
        Rule::parse(&value, "rule").expect("valid")
    }

    fn fields(value: Value) -> Vec<String> {
        Rule::parse(&value, "rule")
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn groups_and_comparisons_match() {
        let at_risk = rule(json!({"all": [
            {"attr": "stage", "op": "in", "value": ["new", "returning"]},
            {"any": [{"attr": "churn_band", "op": "eq", "value": "high"},
                     {"attr": "complaints_90d", "op": "gte", "value": 3}]},
            {"attr": "consents", "op": "contains", "value": "marketing"},
            {"not": {"attr": "premium", "op": "eq", "value": true}}
        ]}));
        assert!(at_risk.matches(&facts()));
        let mut calm = facts();
        calm.churn_band = Some(RiskBand::Low);
        assert!(!at_risk.matches(&calm));
        calm.complaints_90d = 3;
        assert!(at_risk.matches(&calm));
        assert!(rule(json!({"all": []})).matches(&facts()), "catch-all");
        assert_eq!(rule(at_risk.to_json()), at_risk, "round trip");
    }

    #[test]
    fn absent_values_match_no_comparison() {
        let mut prospect = facts();
        prospect.tier = None;
        prospect.days_since_last_purchase = None;
        for value in [
            json!({"attr": "tier", "op": "ne", "value": "gold"}),
            json!({"attr": "days_since_last_purchase", "op": "lt", "value": 30}),
            json!({"attr": "days_since_last_purchase", "op": "gte", "value": 30}),
        ] {
            assert!(!rule(value.clone()).matches(&prospect), "{value}");
        }
        assert!(rule(json!({"attr": "tier", "op": "present", "value": false})).matches(&prospect));
        assert!(
            rule(json!({"not": {"attr": "tier", "op": "present", "value": true}}))
                .matches(&prospect)
        );
    }

    #[test]
    fn every_error_names_its_path() {
        assert_eq!(
            fields(json!({"any": [
                {"attr": "stage", "op": "eq", "value": "new"},
                {"attr": "stage", "op": "eq", "value": "vip"},
                {"attr": "favourite_colour", "op": "eq", "value": "red"},
                {"attr": "spend", "op": "contains", "value": 3},
                {"attr": "spend", "op": "gt", "value": "lots"},
                {"attr": "tier", "op": "in", "value": ["gold", "tin"]},
                {"attr": "orders", "op": "gt"},
                {"not": [1]},
                {"attr": "orders", "op": "gt", "value": 1, "extra": 1}
            ]})),
            [
                "rule.any[1].value",
                "rule.any[2].attr",
                "rule.any[3].op",
                "rule.any[4].value",
                "rule.any[5].value[1]",
                "rule.any[6].value",
                "rule.any[7].not",
                "rule.any[8].extra",
            ]
        );
        assert_eq!(fields(json!({"any": []})), ["rule.any"]);
        assert_eq!(
            fields(json!({"attr": "region", "op": "eq", "value": "Zhejiang"})),
            ["rule.attr"]
        );
        assert_eq!(fields(json!("everyone")), ["rule"]);
        let mut deep = json!({"attr": "orders", "op": "gt", "value": 1});
        for _ in 0..10 {
            deep = json!({ "not": deep });
        }
        assert_eq!(fields(deep).len(), 1);
    }
}
