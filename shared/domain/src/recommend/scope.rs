//! A node of the category tree: the root (every product), a level-1, a
//! level-2 or a level-3 category.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::product::{CATEGORY_SEPARATOR, CategoryPath};

/// The names from level 1 down; empty for the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryScope(Vec<String>);

impl CategoryScope {
    pub fn root() -> CategoryScope {
        CategoryScope(Vec::new())
    }

    /// The ancestor of a product's path at `depth` (0 = root, 3 = its level 3).
    pub fn of(path: &CategoryPath, depth: usize) -> CategoryScope {
        let names = [&path.l1, &path.l2, &path.l3];
        CategoryScope(names[..depth.min(3)].iter().map(|n| (*n).clone()).collect())
    }

    /// `"Furniture > Chairs"`, `"美食饮品 > 粮油 > 大米"`: one to three levels.
    pub fn parse(field: &str, raw: &str) -> Result<CategoryScope, FieldError> {
        let names: Vec<String> = raw.split('>').map(|name| name.trim().to_owned()).collect();
        if names.len() > 3 || names.iter().any(String::is_empty) {
            return Err(FieldError::new(
                field,
                "invalid_category",
                format!("must be one to three category names joined by `{CATEGORY_SEPARATOR}`"),
            ));
        }
        Ok(CategoryScope(names))
    }

    pub fn depth(&self) -> usize {
        self.0.len()
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The deepest name, or `None` for the root.
    pub fn leaf(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    pub fn contains(&self, path: &CategoryPath) -> bool {
        CategoryScope::of(path, self.depth()) == *self
    }

    pub fn is_within(&self, outer: &CategoryScope) -> bool {
        self.depth() >= outer.depth() && self.0[..outer.depth()] == outer.0[..]
    }

    /// This scope and its ancestors, deepest first, ending with the root.
    pub fn chain(&self) -> Vec<CategoryScope> {
        (0..=self.depth())
            .rev()
            .map(|d| CategoryScope(self.0[..d].to_vec()))
            .collect()
    }
}

impl fmt::Display for CategoryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(all products)");
        }
        f.write_str(&self.0.join(CATEGORY_SEPARATOR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rice() -> CategoryPath {
        CategoryPath::parse("c", "美食饮品", "粮油", "大米").unwrap()
    }

    #[test]
    fn scopes_nest_from_the_root_down() {
        let l2 = CategoryScope::parse("category", " 美食饮品 > 粮油 ").unwrap();
        assert_eq!(l2.depth(), 2);
        assert!(l2.contains(&rice()));
        assert!(CategoryScope::of(&rice(), 3).is_within(&l2));
        assert!(!l2.is_within(&CategoryScope::of(&rice(), 3)));
        assert_eq!(
            CategoryScope::of(&rice(), 3).chain(),
            vec![
                CategoryScope::of(&rice(), 3),
                l2.clone(),
                CategoryScope::of(&rice(), 1),
                CategoryScope::root()
            ]
        );
        assert_eq!(l2.to_string(), "美食饮品 > 粮油");
        assert!(CategoryScope::root().contains(&rice()));
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for raw in ["", "a > ", "a > b > c > d", " > b"] {
            assert_eq!(
                CategoryScope::parse("category", raw).unwrap_err().code,
                "invalid_category",
                "{raw:?}"
            );
        }
    }
}
