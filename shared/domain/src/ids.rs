//! Identifiers of Strata's records.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;
use crate::text;

/// Strata's own id for one real person; time-ordered (UUID v7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(Uuid);

impl CustomerId {
    pub fn generate() -> CustomerId {
        CustomerId(Uuid::now_v7())
    }

    pub fn parse(field: &str, raw: &str) -> Result<CustomerId, FieldError> {
        Uuid::parse_str(raw.trim())
            .map(CustomerId)
            .map_err(|_| FieldError::new(field, "invalid_id", "is not a customer id (a UUID)"))
    }

    /// The id as a number (its low bits are random: good for sharding).
    pub fn as_u128(&self) -> u128 {
        self.0.as_u128()
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Ids that come from source systems (SKUs, order numbers, ticket ids): any
/// printable text up to 128 bytes, kept as given apart from trimming.
macro_rules! source_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                text::identifier(field, raw).map(Self)
            }

            /// A fresh time-ordered id for records whose source gave none.
            pub fn generate() -> Self {
                Self(Uuid::now_v7().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

source_id!(
    /// A product's SKU.
    ProductId
);
source_id!(
    /// An order number, unique within the shop.
    OrderId
);
source_id!(
    /// An inquiry, chat, ticket or other interaction.
    InteractionId
);
source_id!(
    /// A product review.
    ReviewId
);
source_id!(
    /// A member of the sales staff, as the identity provider names them.
    SalespersonId
);
source_id!(
    /// A sales team.
    TeamId
);
