//! `infra/template.yaml` as a YAML tree whose `!Ref`, `!Sub`, `!GetAtt` and
//! `!If` stay tagged values, and resolution of those tags to example strings
//! the way CloudFormation would resolve them with the parameters' defaults.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

pub struct Template {
    pub root: Value,
}

/// Pseudo parameters, as in a stack in us-east-1.
const PSEUDO: [(&str, &str); 5] = [
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "amazonaws.com"),
    ("AWS::StackName", "strata"),
];

impl Template {
    pub fn load() -> Template {
        let path = super::repo_path("infra/template.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Template {
            root: serde_yaml::from_str(&text).expect("infra/template.yaml is YAML"),
        }
    }

    pub fn resource(&self, logical: &str) -> &Value {
        let resource = &self.root["Resources"][logical];
        assert!(!resource.is_null(), "no resource {logical}");
        resource
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .expect("Resources")
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Serverless functions by logical id, with the binary their CodeUri
    /// (`../target/lambda/<binary>`) names.
    pub fn functions(&self) -> BTreeMap<String, String> {
        self.resources()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .map(|(logical, r)| {
                let uri = r["Properties"]["CodeUri"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{logical}: CodeUri is not a path"));
                let binary = uri.strip_prefix("../target/lambda/").unwrap_or_else(|| {
                    panic!("{logical}: CodeUri {uri} is not ../target/lambda/<binary>")
                });
                (logical.to_owned(), binary.trim_end_matches('/').to_owned())
            })
            .collect()
    }

    /// The function's environment (globals and its own), resolved; a
    /// variable whose value is `AWS::NoValue` in every branch is absent.
    pub fn environment(&self, logical: &str) -> BTreeMap<String, String> {
        let globals = &self.root["Globals"]["Function"]["Environment"]["Variables"];
        let own = &self.resource(logical)["Properties"]["Environment"]["Variables"];
        let mut env = BTreeMap::new();
        for vars in [globals, own] {
            if let Some(vars) = vars.as_mapping() {
                for (name, value) in vars {
                    let name = name.as_str().expect("variable name").to_owned();
                    if let Some(value) = resolve(self, value) {
                        env.insert(name, value);
                    }
                }
            }
        }
        env
    }

    /// `METHOD /path` of every HttpApi event of every function.
    pub fn http_routes(&self) -> BTreeSet<String> {
        let mut routes = BTreeSet::new();
        for (_, resource) in self.resources() {
            if let Some(events) = resource["Properties"]["Events"].as_mapping() {
                for event in events.values().filter(|e| e["Type"] == "HttpApi") {
                    let props = &event["Properties"];
                    routes.insert(format!(
                        "{} {}",
                        props["Method"].as_str().expect("Method").to_uppercase(),
                        props["Path"].as_str().expect("Path")
                    ));
                }
            }
        }
        routes
    }

    fn parameter_value(&self, name: &str) -> Option<String> {
        let parameter = &self.root["Parameters"][name];
        if parameter.is_null() {
            return None;
        }
        Some(match &parameter["Default"] {
            Value::Null => format!("example-{}", name.to_lowercase()),
            other => scalar(other).unwrap_or_default(),
        })
    }

    fn reference(&self, name: &str) -> Option<String> {
        if name == "AWS::NoValue" {
            return None;
        }
        if let Some((_, value)) = PSEUDO.iter().find(|(n, _)| *n == name) {
            return Some((*value).to_owned());
        }
        if let Some(value) = self.parameter_value(name) {
            return Some(value);
        }
        self.resource(name);
        Some(format!("{}-physical-id", name.to_lowercase()))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> String {
        self.resource(resource);
        format!("arn:aws:resource:::{resource}/{attribute}")
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("unclosed ${ in !Sub");
            let name = &after[..end];
            out.push_str(&match name.split_once('.') {
                Some((resource, attribute)) if !name.starts_with("AWS::") => {
                    self.attribute(resource, attribute)
                }
                _ => self.reference(name).unwrap_or_default(),
            });
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value as CloudFormation would pass it to the function; `None` for
/// `AWS::NoValue`. `!If` takes the first branch that yields a value.
pub fn resolve(template: &Template, value: &Value) -> Option<String> {
    let Value::Tagged(tagged) = value else {
        return scalar(value);
    };
    let tag = tagged.tag.to_string();
    let inner = &tagged.value;
    match tag.as_str() {
        "!Ref" => template.reference(inner.as_str().expect("!Ref names a string")),
        "!Sub" => Some(template.substitute(inner.as_str().expect("!Sub of a string"))),
        "!GetAtt" => {
            let (resource, attribute) = match inner {
                Value::String(s) => s.split_once('.').expect("!GetAtt Resource.Attribute"),
                Value::Sequence(parts) => (
                    parts[0].as_str().expect("resource"),
                    parts[1].as_str().expect("attribute"),
                ),
                other => panic!("!GetAtt of {other:?}"),
            };
            Some(template.attribute(resource, attribute))
        }
        "!If" => {
            let branches = inner.as_sequence().expect("!If [condition, then, else]");
            branches[1..]
                .iter()
                .find_map(|branch| resolve(template, branch))
        }
        other => panic!("the template test does not know the tag {other}"),
    }
}
