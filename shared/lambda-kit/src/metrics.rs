//! Metrics as CloudWatch Embedded Metric Format: one JSON log line per flush,
//! which CloudWatch turns into metrics without any API call from the function.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Metrics gathered during one invocation, written with `flush`.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    dimensions: BTreeMap<String, String>,
    values: BTreeMap<String, (f64, Unit)>,
}

impl Metrics {
    pub fn new(namespace: &str) -> Self {
        Metrics {
            namespace: namespace.to_owned(),
            dimensions: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds to a metric (counts accumulate within one flush).
    pub fn add(&mut self, name: &str, value: f64, unit: Unit) {
        self.values.entry(name.to_owned()).or_insert((0.0, unit)).0 += value;
    }

    /// The EMF document for the metrics gathered so far.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit.name()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [self.dimensions.keys().collect::<Vec<_>>()],
                    "Metrics": definitions,
                }]
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), json!(value));
        }
        for (name, (value, _)) in &self.values {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root)
    }

    /// Writes one EMF line to stdout (where Lambda ships it to CloudWatch)
    /// and clears the values.
    pub fn flush(&mut self) {
        if self.values.is_empty() {
            return;
        }
        let line = self.to_emf(chrono::Utc::now().timestamp_millis());
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").is_err() {
            tracing::warn!("could not write metrics");
        }
        self.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_embedded_metric_format() {
        let mut metrics = Metrics::new("Strata").dimension("Function", "ingest");
        metrics.add("RowsAccepted", 3.0, Unit::Count);
        metrics.add("RowsAccepted", 2.0, Unit::Count);
        metrics.add("Duration", 12.5, Unit::Milliseconds);
        let emf = metrics.to_emf(1_700_000_000_000);
        assert_eq!(emf["RowsAccepted"], 5.0);
        assert_eq!(emf["Function"], "ingest");
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Strata");
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(directive["Metrics"].as_array().unwrap().len(), 2);
        assert_eq!(emf["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
