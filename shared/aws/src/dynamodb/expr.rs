//! Expressions with placeholders. Attribute names always go through
//! `ExpressionAttributeNames` (`version`, `status`, `name` are reserved words
//! in DynamoDB) and values through `ExpressionAttributeValues`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use strata_domain::ports::table::{Condition, PK, SK, SortCondition, TableError, Update, Value};

use super::convert::to_sdk;

/// Placeholders of one request; every expression of a request shares them.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    /// Attribute name → `#nX`, so a name used twice gets one placeholder.
    names: BTreeMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// The placeholder maps in the shape the SDK builders take. DynamoDB
/// rejects empty maps, hence `None` when nothing was used.
pub(crate) struct Bindings {
    pub names: Option<HashMap<String, String>>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

impl Placeholders {
    fn name(&mut self, attr: &str) -> String {
        let next = self.names.len();
        self.names
            .entry(attr.to_owned())
            .or_insert_with(|| format!("#n{next}"))
            .clone()
    }

    fn value(&mut self, value: Value) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), to_sdk(value));
        placeholder
    }

    pub(crate) fn condition(&mut self, condition: Condition) -> String {
        match condition {
            Condition::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Condition::Exists => format!("attribute_exists({})", self.name(PK)),
            Condition::Equals(attr, value) => {
                format!("{} = {}", self.name(&attr), self.value(value))
            }
            Condition::AttributeAbsent(attr) => {
                format!("attribute_not_exists({})", self.name(&attr))
            }
            Condition::AtLeast(attr, floor) => {
                format!(
                    "{} >= {}",
                    self.name(&attr),
                    self.value(Value::number(floor))
                )
            }
            // An empty conjunction holds; DynamoDB has no literal `true`, and a
            // condition check in a transaction needs some expression.
            Condition::All(all) if all.is_empty() => {
                let pk = self.name(PK);
                format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
            }
            Condition::All(all) => all
                .into_iter()
                .map(|c| format!("({})", self.condition(c)))
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }

    /// An update must change something: UpdateItem without an expression
    /// is not allowed in transactions, and moto fails on it outside them.
    pub(crate) fn update(&mut self, update: Update) -> Result<String, TableError> {
        let Update { set, remove, add } = update;
        for attr in set
            .iter()
            .map(|(a, _)| a)
            .chain(&remove)
            .chain(add.iter().map(|(a, _)| a))
        {
            if attr == PK || attr == SK {
                return Err(TableError::InvalidRequest(format!(
                    "the key attribute `{attr}` cannot be updated"
                )));
            }
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            let sets: Vec<_> = set
                .into_iter()
                .map(|(attr, value)| format!("{} = {}", self.name(&attr), self.value(value)))
                .collect();
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !remove.is_empty() {
            let removes: Vec<_> = remove.iter().map(|attr| self.name(attr)).collect();
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        if !add.is_empty() {
            let adds: Vec<_> = add
                .into_iter()
                .map(|(attr, by)| format!("{} {}", self.name(&attr), self.value(Value::number(by))))
                .collect();
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        if clauses.is_empty() {
            return Err(TableError::InvalidRequest(
                "an update must set, remove or add an attribute".into(),
            ));
        }
        Ok(clauses.join(" "))
    }

    /// The key condition of a query on a partition of the table or an index.
    pub(crate) fn key_condition(
        &mut self,
        pk_attr: &str,
        sk_attr: &str,
        partition: String,
        sort: SortCondition,
    ) -> String {
        let partition = format!(
            "{} = {}",
            self.name(pk_attr),
            self.value(Value::S(partition))
        );
        let sort = match sort {
            SortCondition::All => return partition,
            SortCondition::Equals(v) => {
                format!("{} = {}", self.name(sk_attr), self.value(Value::S(v)))
            }
            SortCondition::BeginsWith(prefix) => {
                format!(
                    "begins_with({}, {})",
                    self.name(sk_attr),
                    self.value(Value::S(prefix))
                )
            }
            SortCondition::Between(lo, hi) => {
                let sk = self.name(sk_attr);
                format!(
                    "{sk} BETWEEN {} AND {}",
                    self.value(Value::S(lo)),
                    self.value(Value::S(hi))
                )
            }
        };
        format!("{partition} AND {sort}")
    }

    pub(crate) fn into_bindings(self) -> Bindings {
        let names: HashMap<_, _> = self
            .names
            .into_iter()
            .map(|(attr, placeholder)| (placeholder, attr))
            .collect();
        Bindings {
            names: (!names.is_empty()).then_some(names),
            values: (!self.values.is_empty()).then_some(self.values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_use_placeholders_for_names_and_values() {
        let mut p = Placeholders::default();
        let expr = p.condition(Condition::All(vec![
            Condition::Exists,
            Condition::Equals("version".into(), Value::number(3)),
            Condition::AttributeAbsent("status".into()),
        ]));
        assert_eq!(
            expr,
            "(attribute_exists(#n0)) AND (#n1 = :v0) AND (attribute_not_exists(#n2))"
        );
        let bindings = p.into_bindings();
        let names = bindings.names.expect("names");
        assert_eq!(names["#n1"], "version");
        assert_eq!(names["#n2"], "status");
        assert_eq!(
            bindings.values.expect("values")[":v0"],
            AttributeValue::N("3".into())
        );
    }

    #[test]
    fn updates_render_set_remove_add_and_share_name_placeholders() {
        let mut p = Placeholders::default();
        let cond = p.condition(Condition::Equals("version".into(), Value::number(1)));
        let update = Update::default()
            .set("version", Value::number(2))
            .set("status", Value::S("active".into()))
            .remove("owner")
            .add("count", 5);
        let expr = p.update(update).expect("valid");
        assert_eq!(cond, "#n0 = :v0");
        assert_eq!(expr, "SET #n0 = :v1, #n1 = :v2 REMOVE #n2 ADD #n3 :v3");
    }

    #[test]
    fn empty_updates_and_key_updates_are_refused() {
        for update in [
            Update::default(),
            Update::default().remove(SK),
            Update::default().add(PK, 1),
        ] {
            let err = Placeholders::default().update(update).expect_err("refused");
            assert!(matches!(err, TableError::InvalidRequest(_)));
        }
    }

    #[test]
    fn key_conditions_cover_every_sort_condition() {
        let render =
            |sort| Placeholders::default().key_condition("gsi1pk", "gsi1sk", "P".into(), sort);
        assert_eq!(render(SortCondition::All), "#n0 = :v0");
        assert_eq!(
            render(SortCondition::Equals("a".into())),
            "#n0 = :v0 AND #n1 = :v1"
        );
        assert_eq!(
            render(SortCondition::BeginsWith("a".into())),
            "#n0 = :v0 AND begins_with(#n1, :v1)"
        );
        assert_eq!(
            render(SortCondition::Between("a".into(), "b".into())),
            "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"
        );
    }
}
