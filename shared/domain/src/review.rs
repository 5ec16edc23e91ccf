//! Product reviews with separate product and service satisfaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact;
use crate::error::{Collector, FieldError, Invalid};
use crate::ids::{CustomerId, ProductId, ReviewId};
use crate::options::ReadOptions;
use crate::text::{self, MAX_FREE_TEXT_CHARS};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: ReviewId,
    pub customer_id: CustomerId,
    pub product_id: ProductId,
    /// 1 to 5 stars.
    pub rating: u8,
    pub text: Option<String>,
    /// 1 to 5, when the shop asks separately.
    pub product_satisfaction: Option<u8>,
    pub service_satisfaction: Option<u8>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub id: Option<String>,
    pub product_id: String,
    pub rating: u8,
    pub text: Option<String>,
    pub product_satisfaction: Option<u8>,
    pub service_satisfaction: Option<u8>,
    pub at: String,
}

fn one_to_five(field: &str, value: u8) -> Result<u8, FieldError> {
    if (1..=5).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(field, "out_of_range", "must be 1 to 5"))
    }
}

impl ReviewInput {
    pub fn validate(
        &self,
        customer_id: CustomerId,
        options: &ReadOptions,
    ) -> Result<Review, Invalid> {
        let mut errors = Collector::default();
        let id = match self.id.as_deref() {
            Some(raw) => errors.take(ReviewId::parse("id", raw)),
            None => Some(ReviewId::generate()),
        };
        let product_id = errors.take(ProductId::parse("product_id", &self.product_id));
        let rating = errors.take(one_to_five("rating", self.rating));
        let text = self
            .text
            .as_deref()
            .and_then(|t| errors.take(text::free_text("text", t, MAX_FREE_TEXT_CHARS)))
            .flatten();
        let product_satisfaction = self
            .product_satisfaction
            .and_then(|v| errors.take(one_to_five("product_satisfaction", v)));
        let service_satisfaction = self
            .service_satisfaction
            .and_then(|v| errors.take(one_to_five("service_satisfaction", v)));
        let at = errors.take(contact::parse_instant("at", &self.at, options.date_order));
        match (id, product_id, rating, at) {
            (Some(id), Some(product_id), Some(rating), Some(at)) => errors.finish(|| Review {
                id,
                customer_id,
                product_id,
                rating,
                text,
                product_satisfaction,
                service_satisfaction,
                at,
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
    fn ratings_are_one_to_five() {
        let input = ReviewInput {
            id: None,
            product_id: "RICE-5KG".into(),
            rating: 6,
            text: Some("很好吃".into()),
            product_satisfaction: Some(0),
            service_satisfaction: Some(5),
            at: "2026-02-01".into(),
        };
        let err = input
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["rating", "product_satisfaction"]);
        let ok = ReviewInput {
            rating: 5,
            product_satisfaction: None,
            ..input
        };
        assert_eq!(
            ok.validate(CustomerId::generate(), &ReadOptions::default())
                .unwrap()
                .text
                .as_deref(),
            Some("很好吃")
        );
    }
}
