//! One source row, through its mapping, into the typed inputs the domain
//! validates. Nothing here decides what is valid: it only moves text into
//! the right fields, naming the column when it cannot.

use std::collections::BTreeMap;

use strata_domain::FieldError;
use strata_domain::channel::Channel;
use strata_domain::customer::{AddressInput, ConsentInput, CustomerInput, Purpose, SourceInput};
use strata_domain::interaction::{InteractionInput, InteractionKind};
use strata_domain::order::{OrderInput, OrderLineInput, OrderStatus};
use strata_domain::product::ProductInput;
use strata_domain::review::ReviewInput;

use super::mapping::{AmountRounding, Mapping, RecordType};

/// A row's values by Strata field, after constants and derivations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    values: BTreeMap<&'static str, String>,
    /// Field → the source column it came from, for error messages.
    columns: BTreeMap<&'static str, String>,
}

impl Values {
    /// Values from a row's cells, given which cell feeds which field.
    pub fn from_cells(
        mapping: &Mapping,
        header: &[String],
        bound: &BTreeMap<&'static str, usize>,
        cells: &[String],
    ) -> Values {
        let mut values = Values::default();
        for (field, index) in bound {
            if let Some(cell) = cells.get(*index) {
                values.values.insert(field, cell.clone());
                values
                    .columns
                    .insert(field, header.get(*index).cloned().unwrap_or_default());
            }
        }
        values.complete(mapping);
        values
    }

    fn complete(&mut self, mapping: &Mapping) {
        for (field, constant) in &mapping.constants {
            if let Some(field) = super::mapping::FIELDS.iter().find(|f| **f == field)
                && self.get(field).is_none()
            {
                self.values.insert(field, constant.clone());
            }
        }
        for (field, rule) in &mapping.derive {
            let Some(field) = super::mapping::FIELDS.iter().find(|f| **f == field) else {
                continue;
            };
            if let Some(("first_word", from)) = rule.split_once(':')
                && let Some(word) = self.get(from).and_then(|v| v.split_whitespace().next())
            {
                let word = word.to_owned();
                self.values.entry(field).or_insert(word);
            }
        }
    }

    /// The trimmed value of a field, `None` when absent or blank.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.values
            .get(field)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn owned(&self, field: &str) -> Option<String> {
        self.get(field).map(str::to_owned)
    }

    /// How errors name a field: the source column, and the Strata field it feeds.
    pub fn describe(&self, field: &str) -> String {
        match self.columns.get(field) {
            Some(column) if column != field => format!("{column} ({field})"),
            _ => field.to_owned(),
        }
    }

    fn required(&self, field: &str) -> Result<String, FieldError> {
        self.owned(field)
            .ok_or_else(|| FieldError::required(self.describe(field)))
    }
}

/// What a row describes, in the domain's input types, with the customer it
/// belongs to (by whatever identifies them in the row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRecord {
    Customer(CustomerInput),
    Order {
        customer: CustomerInput,
        order: OrderInput,
    },
    OrderLine {
        customer: CustomerInput,
        order: OrderInput,
        product: Option<ProductInput>,
    },
    Interaction {
        customer: CustomerInput,
        interaction: InteractionInput,
    },
    Review {
        customer: CustomerInput,
        review: ReviewInput,
    },
}

impl ImportRecord {
    pub fn customer(&self) -> &CustomerInput {
        match self {
            ImportRecord::Customer(customer)
            | ImportRecord::Order { customer, .. }
            | ImportRecord::OrderLine { customer, .. }
            | ImportRecord::Interaction { customer, .. }
            | ImportRecord::Review { customer, .. } => customer,
        }
    }
}

pub fn to_record(mapping: &Mapping, values: &Values) -> Result<ImportRecord, FieldError> {
    let customer = customer(mapping, values)?;
    Ok(match mapping.record {
        RecordType::Customer => ImportRecord::Customer(customer),
        RecordType::Order => ImportRecord::Order {
            customer,
            order: order(mapping, values, Vec::new())?,
        },
        RecordType::OrderLine => {
            let line = OrderLineInput {
                product_id: values.required("line.product_id")?,
                quantity: count(values, "line.quantity")?
                    .ok_or_else(|| FieldError::required(values.describe("line.quantity")))?,
                unit_price: amount(mapping, values, "line.unit_price")?,
                total: amount(mapping, values, "line.total")?,
            };
            let product = product(mapping, values, &line.product_id);
            ImportRecord::OrderLine {
                customer,
                order: order(mapping, values, vec![line])?,
                product,
            }
        }
        RecordType::Interaction => ImportRecord::Interaction {
            customer,
            interaction: InteractionInput {
                id: values.owned("interaction.id"),
                kind: choice(values, "interaction.kind")?.unwrap_or(InteractionKind::Inquiry),
                channel: choice(values, "interaction.channel")?.unwrap_or(Channel::Other),
                at: values.required("interaction.at")?,
                text: values.owned("interaction.text"),
                product_id: values.owned("interaction.product_id"),
                order_id: values.owned("interaction.order_id"),
            },
        },
        RecordType::Review => ImportRecord::Review {
            customer,
            review: ReviewInput {
                id: values.owned("review.id"),
                product_id: values.required("review.product_id")?,
                rating: small(values, "review.rating")?
                    .ok_or_else(|| FieldError::required(values.describe("review.rating")))?,
                text: values.owned("review.text"),
                product_satisfaction: small(values, "review.product_satisfaction")?,
                service_satisfaction: small(values, "review.service_satisfaction")?,
                at: values.required("review.at")?,
            },
        },
    })
}

fn customer(mapping: &Mapping, values: &Values) -> Result<CustomerInput, FieldError> {
    let address = AddressInput {
        country: values.owned("customer.address.country"),
        region: values.owned("customer.address.region"),
        city: values.owned("customer.address.city"),
        district: values.owned("customer.address.district"),
        street: values.owned("customer.address.street"),
        postal_code: values.owned("customer.address.postal_code"),
    };
    let mut consents = Vec::new();
    for (field, purpose) in [
        ("consent.marketing", Purpose::Marketing),
        ("consent.profiling", Purpose::Profiling),
        ("consent.personalisation", Purpose::Personalisation),
        ("consent.analytics", Purpose::Analytics),
        ("consent.third_party_sharing", Purpose::ThirdPartySharing),
    ] {
        if let Some(granted) = yes_no(values, field)? {
            let at = values.owned("consent.at").ok_or_else(|| {
                FieldError::new(
                    values.describe("consent.at"),
                    "required",
                    "a consent decision needs the time it was made",
                )
            })?;
            consents.push(ConsentInput {
                purpose,
                granted,
                at,
                version: values
                    .owned("consent.version")
                    .unwrap_or_else(|| "unspecified".into()),
                source: format!("import:{}", mapping.source),
            });
        }
    }
    Ok(CustomerInput {
        name: values.owned("customer.name"),
        email: values.owned("customer.email"),
        phone: values.owned("customer.phone"),
        birth_date: values.owned("customer.birth_date"),
        address: (address != AddressInput::default()).then_some(address),
        preferences: strata_domain::customer::PreferencesInput {
            language: values.owned("customer.language"),
            ..Default::default()
        },
        acquisition_channel: choice(values, "customer.acquisition_channel")?,
        source: values
            .owned("customer.external_id")
            .map(|external_id| SourceInput {
                source: mapping.source.clone(),
                external_id,
            }),
        consents,
        ..CustomerInput::default()
    })
}

fn order(
    mapping: &Mapping,
    values: &Values,
    lines: Vec<OrderLineInput>,
) -> Result<OrderInput, FieldError> {
    let with_lines = !lines.is_empty();
    Ok(OrderInput {
        // Sources without order numbers get one from the import (row-based), see `Importer`.
        id: values.owned("order.id").unwrap_or_default(),
        placed_at: values.required("order.placed_at")?,
        status: choice(values, "order.status")?.unwrap_or(OrderStatus::Paid),
        currency: values
            .owned("order.currency")
            .or_else(|| mapping.currency.clone()),
        lines,
        total: if with_lines {
            None
        } else {
            amount(mapping, values, "order.total")?
        },
        item_count: if with_lines {
            None
        } else {
            count(values, "order.item_count")?
        },
        coupon: values.owned("order.coupon"),
    })
}

fn product(mapping: &Mapping, values: &Values, product_id: &str) -> Option<ProductInput> {
    let (l1, l2, l3) = (
        values.owned("product.category.l1")?,
        values.owned("product.category.l2")?,
        values.owned("product.category.l3")?,
    );
    Some(ProductInput {
        id: product_id.to_owned(),
        name: values
            .owned("product.name")
            .unwrap_or_else(|| product_id.to_owned()),
        category: [l1, l2, l3],
        price: None,
        currency: values
            .owned("order.currency")
            .or_else(|| mapping.currency.clone()),
        consumable: false,
    })
}

/// A whole number, allowing thousands separators (`1,200`).
fn count(values: &Values, field: &str) -> Result<Option<u32>, FieldError> {
    let Some(raw) = values.get(field) else {
        return Ok(None);
    };
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '\u{202f}'))
        .collect();
    digits.parse::<u32>().map(Some).map_err(|_| {
        FieldError::new(
            values.describe(field),
            "invalid_number",
            format!("`{}` is not a whole number", preview(raw)),
        )
    })
}

fn small(values: &Values, field: &str) -> Result<Option<u8>, FieldError> {
    match count(values, field)? {
        Some(n) => u8::try_from(n)
            .map(Some)
            .map_err(|_| FieldError::new(values.describe(field), "out_of_range", "is too large")),
        None => Ok(None),
    }
}

/// An amount as decimal text, rounded first if the mapping allows it.
fn amount(mapping: &Mapping, values: &Values, field: &str) -> Result<Option<String>, FieldError> {
    let Some(raw) = values.get(field) else {
        return Ok(None);
    };
    Ok(Some(match mapping.amount_rounding {
        AmountRounding::Reject => raw.to_owned(),
        AmountRounding::HalfEven => round_half_even(raw, 2),
    }))
}

/// Rounds decimal text to `places` decimals, half to even, without floats.
/// Text that is not a plain decimal is returned unchanged for the domain to reject.
fn round_half_even(text: &str, places: usize) -> String {
    let Some((whole, fraction)) = text.split_once('.') else {
        return text.to_owned();
    };
    if fraction.len() <= places || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_owned();
    }
    let (kept, dropped) = fraction.split_at(places);
    let (sign, whole) = whole.strip_prefix('-').map_or(("", whole), |w| ("-", w));
    if !whole
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ',' | '_' | ' '))
    {
        return text.to_owned();
    }
    let digits: String = whole
        .chars()
        .filter(char::is_ascii_digit)
        .chain(kept.chars())
        .collect();
    let first_dropped = dropped.as_bytes()[0];
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');
    let last_kept_odd = digits
        .as_bytes()
        .last()
        .is_some_and(|d| (d - b'0') % 2 == 1);
    let round_up =
        first_dropped > b'5' || (first_dropped == b'5' && (rest_nonzero || last_kept_odd));
    let mut number: Vec<u8> = digits.into_bytes();
    if round_up {
        let mut i = number.len();
        loop {
            if i == 0 {
                number.insert(0, b'1');
                break;
            }
            i -= 1;
            if number[i] == b'9' {
                number[i] = b'0';
            } else {
                number[i] += 1;
                break;
            }
        }
    }
    let split = number.len() - places;
    let (int, frac) = number.split_at(split);
    let int = if int.is_empty() {
        "0".to_owned()
    } else {
        String::from_utf8_lossy(int).into_owned()
    };
    format!("{sign}{int}.{}", String::from_utf8_lossy(frac))
}

fn yes_no(values: &Values, field: &str) -> Result<Option<bool>, FieldError> {
    let Some(raw) = values.get(field) else {
        return Ok(None);
    };
    match raw.to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "granted" | "是" | "同意" => Ok(Some(true)),
        "no" | "n" | "false" | "0" | "withdrawn" | "denied" | "否" | "不同意" => {
            Ok(Some(false))
        }
        _ => Err(FieldError::new(
            values.describe(field),
            "invalid_choice",
            format!("`{}` is not yes or no", preview(raw)),
        )),
    }
}

/// A snake_case enum value (`after_sales_request`, `wechat`), case-insensitive.
fn choice<T: serde::de::DeserializeOwned>(
    values: &Values,
    field: &str,
) -> Result<Option<T>, FieldError> {
    let Some(raw) = values.get(field) else {
        return Ok(None);
    };
    let normal = raw.trim().to_lowercase().replace([' ', '-'], "_");
    serde_json::from_value(serde_json::Value::String(normal))
        .map(Some)
        .map_err(|_| {
            FieldError::new(
                values.describe(field),
                "invalid_choice",
                format!("`{}` is not a known value", preview(raw)),
            )
        })
}

fn preview(text: &str) -> String {
    strata_domain::contact::preview(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::mapping::built_in;

    fn values(mapping: &Mapping, pairs: &[(&str, &str)]) -> Values {
        let header: Vec<String> = pairs.iter().map(|(h, _)| (*h).to_owned()).collect();
        let cells: Vec<String> = pairs.iter().map(|(_, v)| (*v).to_owned()).collect();
        let bound = mapping.bind(&header).unwrap();
        Values::from_cells(mapping, &header, &bound, &cells)
    }

    #[test]
    fn rounds_half_to_even_exactly() {
        for (raw, rounded) in [
            ("907.152", "907.15"),
            ("22.365", "22.36"),
            ("22.375", "22.38"),
            ("22.3651", "22.37"),
            ("9.995", "10.00"),
            ("-1.005", "-1.00"),
            ("0.004", "0.00"),
            ("12.5", "12.5"),
            ("abc.1234", "abc.1234"),
        ] {
            assert_eq!(round_half_even(raw, 2), rounded, "{raw}");
        }
    }

    #[test]
    fn a_superstore_row_becomes_an_order_line_with_its_product() {
        let mapping = built_in("superstore").unwrap();
        let row = values(
            &mapping,
            &[
                ("Order ID", "CA-2016-152156"),
                ("Order Date", "2016-11-08"),
                ("Customer ID", "CG-12520"),
                ("Customer Name", "Claire Gute"),
                ("City", "Henderson"),
                ("State", "Kentucky"),
                ("Postal Code", "42420"),
                ("Product ID", "FUR-BO-10001798"),
                ("Product Name", "Bush Somerset Collection Bookcase"),
                ("Category", "Furniture"),
                ("Sub-Category", "Bookcases"),
                ("Sales", "261.9600"),
                ("Quantity", "2"),
            ],
        );
        let ImportRecord::OrderLine {
            customer,
            order,
            product,
        } = to_record(&mapping, &row).unwrap()
        else {
            panic!()
        };
        assert_eq!(customer.source.unwrap().external_id, "CG-12520");
        assert_eq!(customer.address.unwrap().country.as_deref(), Some("US"));
        assert_eq!(order.lines[0].total.as_deref(), Some("261.96"));
        assert_eq!(order.currency.as_deref(), Some("USD"));
        let product = product.unwrap();
        assert_eq!(
            product.category,
            ["Furniture".to_owned(), "Bookcases".into(), "Bush".into()]
        );
    }

    #[test]
    fn bad_cells_name_their_column() {
        let mapping = built_in("cdnow").unwrap();
        let row = values(
            &mapping,
            &[
                ("customer_id", "1"),
                ("date", "19970101"),
                ("number_of_cds", "x"),
                ("dollar_value", "1"),
            ],
        );
        let err = to_record(&mapping, &row).unwrap_err();
        assert_eq!(err.field, "number_of_cds (order.item_count)");
        let row = values(
            &mapping,
            &[
                ("customer_id", "1"),
                ("date", "19970101"),
                ("number_of_cds", "1,200"),
                ("dollar_value", "1"),
            ],
        );
        let ImportRecord::Order { order, .. } = to_record(&mapping, &row).unwrap() else {
            panic!()
        };
        assert_eq!(order.item_count, Some(1200));
    }
}
