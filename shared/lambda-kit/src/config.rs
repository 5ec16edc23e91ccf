//! Configuration read once, at cold start, from the environment. Every
//! missing or malformed setting is reported at once, by name.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Setting name → what is wrong with it.
    pub problems: BTreeMap<String, String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self
            .problems
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        write!(f, "configuration is incomplete: {}", all.join("; "))
    }
}

/// Where settings come from: the process environment, or a map in tests.
type Lookup = Box<dyn Fn(&str) -> Option<String>>;

/// Reads settings, collecting problems until `finish`.
/// The shop's currency as a setting (`STRATA_CURRENCY`): an ISO 4217 code.
pub struct CurrencySetting(pub strata_domain::money::Currency);

impl FromStr for CurrencySetting {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        strata_domain::money::Currency::parse("STRATA_CURRENCY", code)
            .map(CurrencySetting)
            .map_err(|e| e.message)
    }
}

pub struct EnvReader {
    lookup: Lookup,
    problems: BTreeMap<String, String>,
}

impl EnvReader {
    pub fn from_process() -> Self {
        EnvReader::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads from any source; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + 'static) -> Self {
        EnvReader {
            lookup: Box::new(lookup),
            problems: BTreeMap::new(),
        }
    }

    /// A setting that must be present and non-empty. Missing, it reads as
    /// empty and is reported by `finish`.
    pub fn required(&mut self, name: &str) -> String {
        match (self.lookup)(name).filter(|v| !v.trim().is_empty()) {
            Some(value) => value,
            None => {
                self.problems
                    .insert(name.to_owned(), "is required but not set".to_owned());
                String::new()
            }
        }
    }

    pub fn optional(&mut self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A typed setting with a default used when it is absent.
    pub fn parsed_or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.optional(name) {
            None => default,
            Some(raw) => match raw.trim().parse() {
                Ok(value) => value,
                Err(error) => {
                    self.problems
                        .insert(name.to_owned(), format!("`{raw}` is invalid: {error}"));
                    default
                }
            },
        }
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_bad_setting() {
        let vars = BTreeMap::from([
            ("STRATA_BATCH".to_owned(), "many".to_owned()),
            ("STRATA_BUCKET".to_owned(), "b".to_owned()),
        ]);
        let mut env = EnvReader::from_lookup(move |name| vars.get(name).cloned());
        assert_eq!(env.required("STRATA_BUCKET"), "b");
        env.required("STRATA_TABLE");
        assert_eq!(env.parsed_or("STRATA_BATCH", 25u32), 25);
        assert_eq!(env.parsed_or("STRATA_ABSENT", 7u32), 7);
        let error = env.finish().unwrap_err();
        assert_eq!(
            error.problems.keys().collect::<Vec<_>>(),
            ["STRATA_BATCH", "STRATA_TABLE"]
        );
        assert!(
            error
                .to_string()
                .contains("STRATA_TABLE: is required but not set")
        );
    }
}
