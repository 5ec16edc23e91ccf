//! How a source's columns map onto Strata's fields. A mapping is data (JSON),
//! so exports from other systems import without editing them: built-in ones
//! ship with Strata, others are uploaded as `mappings/<name>.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_domain::contact::{DateOrder, PhoneRegion};
use strata_domain::money::Currency;

/// What one row of the source describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    Customer,
    /// A whole order in one row (no product lines), as in the CDNOW log.
    Order,
    /// One product line; consecutive rows with the same order number form an order.
    OrderLine,
    Interaction,
    Review,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    #[default]
    Auto,
    Delimited,
    Whitespace,
    JsonLines,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatSpec {
    #[serde(default)]
    pub kind: FormatKind,
    /// A single character: `,`, `;`, `\t`.
    pub delimiter: Option<char>,
    /// `utf-8` (default), `gbk`, `gb18030`, `latin1`, …
    pub encoding: Option<String>,
}

/// What to do with amounts that carry more decimals than the currency has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountRounding {
    /// Reject the row: no silent change of money.
    #[default]
    Reject,
    /// Round half to even (banker's rounding) to the currency's minor unit.
    HalfEven,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The source system, e.g. `cdnow`; customers get source ids under it.
    pub source: String,
    pub record: RecordType,
    #[serde(default)]
    pub format: FormatSpec,
    /// Strata field → source column (header name or JSON key).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Strata field → value used for every row.
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Strata field → rule computing it from another field (`first_word:<field>`).
    #[serde(default)]
    pub derive: BTreeMap<String, String>,
    #[serde(default)]
    pub date_order: DateOrder,
    pub phone_region: Option<String>,
    pub currency: Option<String>,
    #[serde(default)]
    pub amount_rounding: AmountRounding,
}

/// Every field a mapping may fill, per record type. Anything else is a typo.
pub const FIELDS: &[&str] = &[
    "customer.external_id",
    "customer.email",
    "customer.phone",
    "customer.name",
    "customer.birth_date",
    "customer.language",
    "customer.acquisition_channel",
    "customer.address.country",
    "customer.address.region",
    "customer.address.city",
    "customer.address.district",
    "customer.address.street",
    "customer.address.postal_code",
    "consent.marketing",
    "consent.profiling",
    "consent.personalisation",
    "consent.analytics",
    "consent.third_party_sharing",
    "consent.version",
    "consent.at",
    "order.id",
    "order.placed_at",
    "order.status",
    "order.currency",
    "order.total",
    "order.item_count",
    "order.coupon",
    "line.product_id",
    "line.quantity",
    "line.unit_price",
    "line.total",
    "product.name",
    "product.category.l1",
    "product.category.l2",
    "product.category.l3",
    "interaction.id",
    "interaction.kind",
    "interaction.channel",
    "interaction.at",
    "interaction.text",
    "interaction.product_id",
    "interaction.order_id",
    "review.id",
    "review.product_id",
    "review.rating",
    "review.text",
    "review.product_satisfaction",
    "review.service_satisfaction",
    "review.at",
];

/// Header spellings recognised without a mapping, after lower-casing and
/// dropping spaces, `_`, `-` and `.`: for exports that name columns plainly.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "customer.external_id",
        &[
            "customerid",
            "customer",
            "clientid",
            "memberid",
            "客户id",
            "客户编号",
            "会员id",
        ],
    ),
    (
        "customer.email",
        &["email", "emailaddress", "mail", "邮箱", "电子邮件"],
    ),
    (
        "customer.phone",
        &[
            "phone",
            "phonenumber",
            "mobile",
            "tel",
            "telephone",
            "手机",
            "手机号",
            "电话",
        ],
    ),
    (
        "customer.name",
        &[
            "name",
            "customername",
            "fullname",
            "姓名",
            "客户名称",
            "名字",
        ],
    ),
    (
        "customer.birth_date",
        &[
            "birthdate",
            "birthday",
            "dateofbirth",
            "dob",
            "生日",
            "出生日期",
        ],
    ),
    ("customer.address.city", &["city", "城市"]),
    (
        "customer.address.region",
        &["state", "province", "region", "省份", "省"],
    ),
    (
        "customer.address.postal_code",
        &["postalcode", "postcode", "zip", "zipcode", "邮编"],
    ),
    (
        "customer.address.country",
        &["country", "countrycode", "国家"],
    ),
    ("customer.address.street", &["street", "address", "地址"]),
    (
        "order.id",
        &["orderid", "ordernumber", "orderno", "订单号", "订单编号"],
    ),
    (
        "order.placed_at",
        &[
            "orderdate",
            "date",
            "placedat",
            "purchasedate",
            "下单时间",
            "订单日期",
        ],
    ),
    ("order.status", &["status", "orderstatus", "订单状态"]),
    ("order.currency", &["currency", "币种"]),
    (
        "order.coupon",
        &["coupon", "couponcode", "优惠券", "优惠码"],
    ),
    (
        "order.total",
        &["total", "amount", "ordertotal", "金额", "订单金额"],
    ),
    (
        "line.product_id",
        &["productid", "sku", "商品id", "商品编号"],
    ),
    ("line.quantity", &["quantity", "qty", "数量"]),
    ("line.unit_price", &["unitprice", "price", "单价"]),
    ("line.total", &["linetotal", "sales", "subtotal", "小计"]),
];

/// Built-in mappings, by the name used under `imports/<name>/`.
pub fn built_in(name: &str) -> Option<Mapping> {
    let json = match name {
        "cdnow" => include_str!("../../mappings/cdnow.json"),
        "superstore" => include_str!("../../mappings/superstore.json"),
        _ => return generic(name),
    };
    serde_json::from_str(json).ok()
}

/// `customers`, `orders`, `order-lines`, `interactions`, `reviews`: Strata's
/// own field names or the aliases above, from any source.
fn generic(name: &str) -> Option<Mapping> {
    let record = match name {
        "customers" => RecordType::Customer,
        "orders" => RecordType::Order,
        "order-lines" => RecordType::OrderLine,
        "interactions" => RecordType::Interaction,
        "reviews" => RecordType::Review,
        _ => return None,
    };
    Some(Mapping {
        source: "strata".into(),
        record,
        format: FormatSpec::default(),
        columns: BTreeMap::new(),
        constants: BTreeMap::new(),
        derive: BTreeMap::new(),
        date_order: DateOrder::default(),
        phone_region: None,
        currency: None,
        amount_rounding: AmountRounding::default(),
    })
}

/// Problems with a mapping itself, found before any row is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping `{mapping}` is invalid: {}", problems.join("; "))]
pub struct MappingError {
    pub mapping: String,
    pub problems: Vec<String>,
}

impl Mapping {
    pub fn check(&self) -> Result<(), MappingError> {
        let mut problems = Vec::new();
        let named = self
            .columns
            .keys()
            .chain(self.constants.keys())
            .chain(self.derive.keys());
        for field in named {
            if !FIELDS.contains(&field.as_str()) {
                problems.push(format!("`{field}` is not a Strata field"));
            }
        }
        for (field, rule) in &self.derive {
            match rule.split_once(':') {
                Some(("first_word", from)) if FIELDS.contains(&from) => {}
                _ => problems.push(format!(
                    "`{field}`: unknown rule `{rule}` (known: first_word:<field>)"
                )),
            }
        }
        if let Some(region) = &self.phone_region
            && region.parse::<PhoneRegion>().is_err()
        {
            problems.push(format!("phone_region `{region}` is not a region code"));
        }
        if let Some(code) = &self.currency
            && Currency::parse("currency", code).is_err()
        {
            problems.push(format!("currency `{code}` is not an ISO 4217 code"));
        }
        if self.source.trim().is_empty() || self.source.contains(['#', '/']) {
            problems.push("source must be a plain name".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MappingError {
                mapping: self.source.clone(),
                problems,
            })
        }
    }

    /// Which column feeds each field, given the file's header: the mapping's
    /// own columns first, then the aliases for columns it does not name.
    /// Returns field → column index; for JSON Lines the keys play the header.
    pub fn bind(&self, header: &[String]) -> Result<BTreeMap<&'static str, usize>, MappingError> {
        let position = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
        };
        let mut bound = BTreeMap::new();
        let mut problems = Vec::new();
        for (field, column) in &self.columns {
            let Some(field) = FIELDS.iter().find(|f| **f == field) else {
                continue;
            };
            match position(column) {
                Some(i) => {
                    bound.insert(*field, i);
                }
                None => problems.push(format!(
                    "column `{column}` for `{field}` is not in the header"
                )),
            }
        }
        for (i, name) in header.iter().enumerate() {
            if bound.values().any(|b| *b == i) {
                continue;
            }
            if let Some(field) = FIELDS.iter().find(|f| **f == name.trim()) {
                bound.entry(*field).or_insert(i);
            } else if self.columns.is_empty() {
                let folded = fold(name);
                if let Some((field, _)) = ALIASES
                    .iter()
                    .find(|(_, spellings)| spellings.contains(&folded.as_str()))
                {
                    bound.entry(*field).or_insert(i);
                }
            }
        }
        if problems.is_empty() {
            Ok(bound)
        } else {
            Err(MappingError {
                mapping: self.source.clone(),
                problems,
            })
        }
    }
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_mappings_are_valid() {
        for name in [
            "cdnow",
            "superstore",
            "customers",
            "orders",
            "order-lines",
            "interactions",
            "reviews",
        ] {
            built_in(name)
                .unwrap_or_else(|| panic!("{name}"))
                .check()
                .unwrap();
        }
        assert!(built_in("nonsense").is_none());
    }

    #[test]
    fn binds_columns_and_aliases() {
        let header: Vec<String> = ["邮箱", "Phone Number", "customer.name", "notes"]
            .map(String::from)
            .to_vec();
        let bound = built_in("customers").unwrap().bind(&header).unwrap();
        assert_eq!(bound["customer.email"], 0);
        assert_eq!(bound["customer.phone"], 1);
        assert_eq!(bound["customer.name"], 2);
        assert_eq!(bound.len(), 3, "unknown columns are left alone");

        let cdnow = built_in("cdnow").unwrap();
        let err = cdnow
            .bind(&["customer_id".into(), "date".into()])
            .unwrap_err();
        assert!(
            err.problems.iter().any(|p| p.contains("number_of_cds")),
            "{err:?}"
        );
    }

    #[test]
    fn typos_in_a_mapping_are_refused() {
        let mut mapping = built_in("orders").unwrap();
        mapping.columns.insert("order.totl".into(), "Total".into());
        mapping.derive.insert(
            "product.category.l3".into(),
            "last_word:product.name".into(),
        );
        let err = mapping.check().unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err:?}");
    }
}
