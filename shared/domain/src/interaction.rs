//! Contacts between a customer and the shop: inquiries, chats, complaints…

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::contact;
use crate::error::{Collector, Invalid};
use crate::ids::{CustomerId, InteractionId, OrderId, ProductId};
use crate::options::ReadOptions;
use crate::text::{self, MAX_FREE_TEXT_CHARS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    Inquiry,
    Chat,
    Call,
    Email,
    Complaint,
    AfterSalesRequest,
    SparePartRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub customer_id: CustomerId,
    pub kind: InteractionKind,
    pub channel: Channel,
    pub at: DateTime<Utc>,
    pub text: Option<String>,
    pub product_id: Option<ProductId>,
    pub order_id: Option<OrderId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    /// The source's id; Strata makes one when absent.
    pub id: Option<String>,
    pub kind: InteractionKind,
    pub channel: Channel,
    pub at: String,
    pub text: Option<String>,
    pub product_id: Option<String>,
    pub order_id: Option<String>,
}

impl InteractionInput {
    pub fn validate(
        &self,
        customer_id: CustomerId,
        options: &ReadOptions,
    ) -> Result<Interaction, Invalid> {
        let mut errors = Collector::default();
        let id = match self.id.as_deref() {
            Some(raw) => errors.take(InteractionId::parse("id", raw)),
            None => Some(InteractionId::generate()),
        };
        let at = errors.take(contact::parse_instant("at", &self.at, options.date_order));
        let text = self
            .text
            .as_deref()
            .and_then(|t| errors.take(text::free_text("text", t, MAX_FREE_TEXT_CHARS)))
            .flatten();
        let product_id = self
            .product_id
            .as_deref()
            .and_then(|p| errors.take(ProductId::parse("product_id", p)));
        let order_id = self
            .order_id
            .as_deref()
            .and_then(|o| errors.take(OrderId::parse("order_id", o)));
        let (Some(id), Some(at)) = (id, at) else {
            return Err(errors
                .finish(|| ())
                .expect_err("a missing value was recorded as an error"));
        };
        errors.finish(|| Interaction {
            id,
            customer_id,
            kind: self.kind,
            channel: self.channel,
            at,
            text,
            product_id,
            order_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_with_its_line_breaks_and_names_bad_fields() {
        let input = InteractionInput {
            id: None,
            kind: InteractionKind::Complaint,
            channel: Channel::Wechat,
            at: "2026-03-01 10:00".into(),
            text: Some("米有虫子 🐛\r\n请退款".into()),
            product_id: Some("RICE-5KG".into()),
            order_id: None,
        };
        let interaction = input
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap();
        assert_eq!(interaction.text.as_deref(), Some("米有虫子 🐛\n请退款"));

        let bad = InteractionInput {
            at: "soon".into(),
            product_id: Some(" ".into()),
            ..input
        };
        let invalid = bad
            .validate(CustomerId::generate(), &ReadOptions::default())
            .unwrap_err();
        let fields: Vec<&str> = invalid.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["at", "product_id"]);
    }
}
