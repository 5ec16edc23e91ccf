//! Validation errors that name the field at fault.

use std::fmt;

use serde::Serialize;

/// One field that failed validation: where (a dotted path such as
/// `identity.email` or `lines[2].quantity`), a stable machine code, and a
/// sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    pub fn required(field: impl Into<String>) -> Self {
        FieldError::new(field, "required", "is required")
    }

    /// The same error reported under a parent path, e.g. `lines[2]` + `quantity`.
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every field error found in one record; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Invalid {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, "invalid input: {}", all.join("; "))
    }
}

impl From<FieldError> for Invalid {
    fn from(error: FieldError) -> Self {
        Invalid {
            errors: vec![error],
        }
    }
}

/// Collects field errors while a record is validated field by field, so the
/// caller learns about every bad field at once rather than the first.
#[derive(Debug, Default)]
pub struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    /// Keeps the value, or records the error and yields `None`.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn extend(&mut self, invalid: Invalid, parent: &str) {
        self.errors
            .extend(invalid.errors.into_iter().map(|e| e.under(parent)));
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Invalid> {
        if self.errors.is_empty() {
            Ok(value())
        } else {
            Err(Invalid {
                errors: self.errors,
            })
        }
    }
}
