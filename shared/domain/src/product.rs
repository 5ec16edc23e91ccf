//! Products and their three-level category path.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Collector, FieldError, Invalid};
use crate::ids::ProductId;
use crate::money::{Currency, Money};
use crate::text::{self, MAX_LINE_CHARS};

/// Level 1 → level 2 → level 3, e.g. 美食饮品 → 粮油 → 大米.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CategoryPath {
    pub l1: String,
    pub l2: String,
    pub l3: String,
}

/// The separator used when a path is written as one string. It cannot occur
/// inside a level name.
pub const CATEGORY_SEPARATOR: &str = " > ";

impl CategoryPath {
    pub fn parse(field: &str, l1: &str, l2: &str, l3: &str) -> Result<CategoryPath, FieldError> {
        let level = |n: u8, raw: &str| -> Result<String, FieldError> {
            let name = format!("{field}.l{n}");
            let value = text::line(&name, raw, 100)?.ok_or_else(|| FieldError::required(&name))?;
            if value.contains('>') {
                return Err(FieldError::new(
                    name,
                    "invalid_category",
                    "must not contain `>`",
                ));
            }
            Ok(value)
        };
        Ok(CategoryPath {
            l1: level(1, l1)?,
            l2: level(2, l2)?,
            l3: level(3, l3)?,
        })
    }
}

impl fmt::Display for CategoryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{CATEGORY_SEPARATOR}{}{CATEGORY_SEPARATOR}{}",
            self.l1, self.l2, self.l3
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub category: CategoryPath,
    pub price: Option<Money>,
    /// Bought again and again (rice, oil); may be recommended right after a purchase.
    pub consumable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub id: String,
    pub name: String,
    /// `[level 1, level 2, level 3]`.
    pub category: [String; 3],
    pub price: Option<String>,
    pub currency: Option<String>,
    #[serde(default)]
    pub consumable: bool,
}

impl ProductInput {
    pub fn validate(&self, default_currency: Currency) -> Result<Product, Invalid> {
        let mut errors = Collector::default();
        let id = errors.take(ProductId::parse("id", &self.id));
        let name = errors.take(
            text::line("name", &self.name, MAX_LINE_CHARS)
                .and_then(|n| n.ok_or_else(|| FieldError::required("name"))),
        );
        let [l1, l2, l3] = &self.category;
        let category = errors.take(CategoryPath::parse("category", l1, l2, l3));
        let currency = match self.currency.as_deref() {
            Some(code) => errors
                .take(Currency::parse("currency", code))
                .unwrap_or(default_currency),
            None => default_currency,
        };
        let price = self
            .price
            .as_deref()
            .and_then(|p| errors.take(Money::parse("price", p, currency)));
        match (id, name, category) {
            (Some(id), Some(name), Some(category)) => errors.finish(|| Product {
                id,
                name,
                category,
                price,
                consumable: self.consumable,
            }),
            _ => Err(errors
                .finish(|| ())
                .expect_err("a missing value was recorded as an error")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_paths_keep_chinese_and_refuse_the_separator() {
        let path = CategoryPath::parse("category", "美食饮品", " 粮油 ", "大米").unwrap();
        assert_eq!(path.to_string(), "美食饮品 > 粮油 > 大米");
        assert_eq!(
            CategoryPath::parse("category", "a", "", "c")
                .unwrap_err()
                .field,
            "category.l2"
        );
        assert_eq!(
            CategoryPath::parse("category", "a", "b>c", "d")
                .unwrap_err()
                .code,
            "invalid_category"
        );
    }
}
