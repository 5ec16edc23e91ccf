//! Records ⇄ table items. A record's fields become top-level attributes (so
//! exports and Athena see columns), next to the key attributes and a `kind`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value as Json};
use strata_domain::activity::RowMark;
use strata_domain::ports::table::{Item, Key, PK, SK, Value};

use crate::error::StoreError;

/// Attribute naming what a stored item is.
/// Named so no record field can collide with it (interactions have a `kind`).
pub const KIND: &str = "record_kind";

/// When the item was last written (UTC RFC 3339, milliseconds); every
/// record the codec builds carries it, so the tiering policy can age it.
pub const WRITTEN_AT: &str = "written_at";

/// When a customer's history was last read; kept on the profile item.
pub const READ_AT: &str = "read_at";

/// On an imported record (and an order's number lookup): the import and row
/// it came from, `<import id>#<row>`, so a retried chunk knows its own writes.
pub const IMPORT_ROW: &str = "import_row";

/// On a profile (and on interactions and reviews with text): the personal
/// fields, sealed with the customer's data key (see `personal`).
pub const SEALED: &str = "sealed";

/// On a profile: its network traces, one sealed value per month they were
/// seen in, each under that month's retention key too (see `personal`).
pub const SEALED_NETWORK: &str = "sealed_network";

/// What kind of record an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    Customer,
    Order,
    Interaction,
    Review,
    Product,
    Lookup,
    Merge,
    Import,
    Idempotency,
    ChurnScore,
    ChurnMonth,
    ModelPointer,
    Config,
    ColdPointer,
    TieringJournal,
    RecoProfile,
    RecoList,
    RecoSimilar,
    RecoMiss,
    Assignment,
    Audit,
    Consent,
    ErasureDue,
    TierChange,
    PointsBalance,
    PointsEntry,
    PointsGuard,
    Coupon,
    CouponTemplate,
    CouponIssue,
    ReferralLink,
    ReferralCode,
    Salesperson,
    Team,
    SegmentChange,
    SegmentSizes,
    Strategy,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Order => "order",
            RecordKind::Interaction => "interaction",
            RecordKind::Review => "review",
            RecordKind::Product => "product",
            RecordKind::Lookup => "lookup",
            RecordKind::Merge => "merge",
            RecordKind::Import => "import",
            RecordKind::Idempotency => "idempotency",
            RecordKind::ChurnScore => "churn_score",
            RecordKind::ChurnMonth => "churn_month",
            RecordKind::ModelPointer => "model_pointer",
            RecordKind::Config => "config",
            RecordKind::ColdPointer => "cold_pointer",
            RecordKind::TieringJournal => "tiering_journal",
            RecordKind::RecoProfile => "reco_profile",
            RecordKind::RecoList => "reco_list",
            RecordKind::RecoSimilar => "reco_similar",
            RecordKind::RecoMiss => "reco_miss",
            RecordKind::Assignment => "assignment",
            RecordKind::Audit => "audit",
            RecordKind::Consent => "consent",
            RecordKind::ErasureDue => "erasure_due",
            RecordKind::TierChange => "tier_change",
            RecordKind::PointsBalance => "points_balance",
            RecordKind::PointsEntry => "points_entry",
            RecordKind::PointsGuard => "points_guard",
            RecordKind::Coupon => "coupon",
            RecordKind::CouponTemplate => "coupon_template",
            RecordKind::CouponIssue => "coupon_issue",
            RecordKind::ReferralLink => "referral_link",
            RecordKind::ReferralCode => "referral_code",
            RecordKind::Salesperson => "salesperson",
            RecordKind::Team => "team",
            RecordKind::SegmentChange => "segment_change",
            RecordKind::SegmentSizes => "segment_sizes",
            RecordKind::Strategy => "strategy",
        }
    }

    pub const ALL: [RecordKind; 37] = [
        RecordKind::Customer,
        RecordKind::Order,
        RecordKind::Interaction,
        RecordKind::Review,
        RecordKind::Product,
        RecordKind::Lookup,
        RecordKind::Merge,
        RecordKind::Import,
        RecordKind::Idempotency,
        RecordKind::ChurnScore,
        RecordKind::ChurnMonth,
        RecordKind::ModelPointer,
        RecordKind::Config,
        RecordKind::ColdPointer,
        RecordKind::TieringJournal,
        RecordKind::RecoProfile,
        RecordKind::RecoList,
        RecordKind::RecoSimilar,
        RecordKind::RecoMiss,
        RecordKind::Assignment,
        RecordKind::Audit,
        RecordKind::Consent,
        RecordKind::ErasureDue,
        RecordKind::TierChange,
        RecordKind::PointsBalance,
        RecordKind::PointsEntry,
        RecordKind::PointsGuard,
        RecordKind::Coupon,
        RecordKind::CouponTemplate,
        RecordKind::CouponIssue,
        RecordKind::ReferralLink,
        RecordKind::ReferralCode,
        RecordKind::Salesperson,
        RecordKind::Team,
        RecordKind::SegmentChange,
        RecordKind::SegmentSizes,
        RecordKind::Strategy,
    ];

    /// The kind of a stored item, from its `kind` attribute.
    pub fn of(item: &Item) -> Option<RecordKind> {
        let name = item.get(KIND)?.as_str()?;
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Builds the item for a record under a key, with extra (index) attributes.
pub fn encode<T: Serialize>(
    kind: RecordKind,
    key: &Key,
    record: &T,
    extra: &[(&str, String)],
) -> Result<Item, StoreError> {
    let Json::Object(fields) =
        serde_json::to_value(record).map_err(|e| StoreError::Encode(e.to_string()))?
    else {
        return Err(StoreError::Encode(
            "a record must serialise to an object".into(),
        ));
    };
    let mut item = Item::new();
    for (name, value) in fields {
        if value.is_null() {
            continue; // absent and null read back the same; absent costs nothing
        }
        item.insert(name, to_value(value));
    }
    item.insert(PK.to_owned(), Value::S(key.pk.clone()));
    item.insert(SK.to_owned(), Value::S(key.sk.clone()));
    item.insert(KIND.to_owned(), Value::S(kind.name().to_owned()));
    item.insert(
        WRITTEN_AT.to_owned(),
        Value::S(crate::keys::time(chrono::Utc::now())),
    );
    for (name, value) in extra {
        item.insert((*name).to_owned(), Value::S(value.clone()));
    }
    Ok(item)
}

/// Reads a record back from an item, ignoring key and index attributes.
pub fn decode<T: DeserializeOwned>(kind: RecordKind, item: &Item) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: Key::of(item),
        reason,
    };
    if RecordKind::of(item) != Some(kind) {
        return Err(corrupt(format!("expected a {} item", kind.name())));
    }
    let fields: Map<String, Json> = item
        .iter()
        .filter(|(name, _)| !is_structural(name))
        .map(|(name, value)| to_json(value).map(|json| (name.clone(), json)))
        .collect::<Result<_, _>>()
        .map_err(corrupt)?;
    serde_json::from_value(Json::Object(fields)).map_err(|e| corrupt(e.to_string()))
}

/// One value as an attribute, for updates that set a single field.
pub fn to_attribute<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value)
        .map(to_value)
        .map_err(|e| StoreError::Encode(e.to_string()))
}

/// A record held in one attribute (see `to_attribute`).
pub fn from_attribute<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(to_json(value)?).map_err(|e| e.to_string())
}

fn is_structural(name: &str) -> bool {
    name == PK
        || name == SK
        || name == KIND
        || name == WRITTEN_AT
        || name == READ_AT
        || name == IMPORT_ROW
        || name == SEALED
        || name == SEALED_NETWORK
        || name.starts_with("gsi")
}

/// An item as one line of plain JSON (a cold object's format): attribute
/// names as keys, numbers as numbers, so Athena reads columns.
pub fn item_to_json(item: &Item) -> Result<Json, StoreError> {
    item.iter()
        .map(|(name, value)| to_json(value).map(|json| (name.clone(), json)))
        .collect::<Result<Map<String, Json>, _>>()
        .map(Json::Object)
        .map_err(|reason| StoreError::Corrupt {
            key: Key::of(item),
            reason,
        })
}

/// The item a line of plain JSON came from.
pub fn item_from_json(json: Json) -> Result<Item, StoreError> {
    match to_value(json) {
        Value::M(item) => Ok(item),
        _ => Err(StoreError::Corrupt {
            key: None,
            reason: "a cold line is not a JSON object".into(),
        }),
    }
}

fn to_value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => Value::N(n.to_string()),
        Json::String(s) => Value::S(s),
        Json::Array(items) => Value::L(items.into_iter().map(to_value).collect()),
        Json::Object(map) => Value::M(map.into_iter().map(|(k, v)| (k, to_value(v))).collect()),
    }
}

fn to_json(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::S(s) => Json::String(s.clone()),
        Value::N(n) => Json::Number(parse_number(n)?),
        Value::B(_) => return Err("binary attributes are not part of records".into()),
        Value::L(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::M(map) => Json::Object(
            map.iter()
                .map(|(k, v)| to_json(v).map(|j| (k.clone(), j)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn parse_number(text: &str) -> Result<Number, String> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("`{text}` is not a number"))
}

/// A record's `IMPORT_ROW` attribute.
pub fn import_row(mark: &RowMark) -> Value {
    Value::S(format!("{}#{}", mark.import, mark.row))
}

/// The import and row an item came from, if it was imported.
pub fn import_row_of(item: &Item) -> Option<RowMark> {
    row_mark_in(item, IMPORT_ROW)
}

/// An import row written like `IMPORT_ROW` under another attribute.
pub fn row_mark_in(item: &Item, attribute: &str) -> Option<RowMark> {
    let (import, row) = item.get(attribute)?.as_str()?.rsplit_once('#')?;
    Some(RowMark {
        import: import.to_owned(),
        row: row.parse().ok()?,
    })
}
