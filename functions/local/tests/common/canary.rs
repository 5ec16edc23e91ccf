//! The plaintext canary's seed and search, one for both runs: on the
//! embedded backend (`canary.rs`) and on the AWS adapters against moto
//! (`canary_on_moto.rs`). Every seeded personal value is in `CANARIES`; the
//! search looks for each in the forms a careless writer would leave it in.

use std::io::Read;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use strata_domain::retention::RetentionPolicy;

/// Personal values, each distinctive enough to be found anywhere.
pub const CANARIES: &[&str] = &[
    "Quillon Canarywing",
    "金丝雀测试",
    "canary.quillon@example.org",
    "13907771234",
    "139 0777 1234",
    "1971-02-03",
    "77 Canarywharf Lane",
    "198.51.100.77",
    "110105197102037774",
    "canary.importee@example.net",
    "Importee Canarybird",
    "13906665678",
    "139 0666 5678",
    "Sparrowgate Road 9",
    // The export's own id of its customer (a source id).
    "CANARYSRC-7741",
    // Inside a complaint's text and a review's text.
    "callmeat13905554321",
    "reviewer.canary@example.com",
];

/// Order numbers are not personal and stay in the clear: a search that does
/// not find them did not search what it claims to.
pub const ORDER_NUMBERS: [&str; 2] = ["CANARY-1", "CANARY-2"];

pub const EMAIL: &str = "canary.quillon@example.org";
pub const COMPLAINT_TEXT: &str = "box arrived broken, callmeat13905554321";
pub const CREATE_IDEMPOTENCY_KEY: &str = "canary-create-1";
pub const EXPORT_KEY: &str = "imports/orders/canary.csv";

/// The customer, as the body of `POST /v1/customers`.
pub fn customer() -> Value {
    json!({
        "name": "Quillon Canarywing 金丝雀测试",
        "email": EMAIL,
        "phone": "139 0777 1234",
        "birth_date": "1971-02-03",
        "id_document": {"kind": "national_id", "country": "CN", "number": "110105197102037774"},
        "address": {"country": "CN", "city": "Beijing", "street": "77 Canarywharf Lane"},
        "network": {"ip": "198.51.100.77"},
    })
}

/// `900 + days` days ago: old enough for tiering to move it.
fn long_ago(days: i64) -> String {
    (Utc::now() - Duration::days(900 + days)).to_rfc3339()
}

/// The customer's activity: `(route under /v1/customers/{id}/, body)`.
pub fn activity() -> Vec<(&'static str, Value)> {
    vec![
        (
            "orders",
            json!({"id": ORDER_NUMBERS[0], "placed_at": long_ago(0), "total": "99.00", "currency": "CNY"}),
        ),
        (
            "interactions",
            json!({"kind": "complaint", "channel": "chat", "at": long_ago(1), "text": COMPLAINT_TEXT}),
        ),
        (
            "reviews",
            json!({"product_id": "P-1", "rating": 2, "at": long_ago(2),
                   "text": "write to reviewer.canary@example.com"}),
        ),
    ]
}

/// A shop's bulk export: another customer with an old order.
pub fn export_text() -> String {
    format!(
        "customer_id,email,phone,name,street,order_id,order_date,amount\n\
         CANARYSRC-7741,canary.importee@example.net,139 0666 5678,Importee Canarybird,Sparrowgate Road 9,{},{},12.50\n",
        ORDER_NUMBERS[1],
        (Utc::now() - Duration::days(950)).format("%Y-%m-%d")
    )
}

/// When tiering runs: late enough for every seeded record to be cold.
pub fn tiering_as_of() -> DateTime<Utc> {
    Utc::now() + Duration::days(800)
}

/// Texts kept, so the cold objects hold them (sealed) to search.
pub fn tiering_retention() -> RetentionPolicy {
    RetentionPolicy {
        interaction_text_days: None,
        ..Default::default()
    }
}

/// A log writer keeping every line, for the search.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Gzip members decompressed; anything else as it is.
pub fn gunzipped(raw: Vec<u8>) -> Vec<u8> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut plain)
        .expect("gzip");
    plain
}

pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The forms `value` could be written in: as given, lower- and upper-cased,
/// JSON `\u` escapes, percent-encoded (S3 keys, URLs), UTF-16 either way,
/// hex, and base64 at each of the three byte alignments it could start at.
pub fn forms(value: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut forms: Vec<(&'static str, Vec<u8>)> = vec![
        ("plain", value.as_bytes().to_vec()),
        ("lower-cased", value.to_lowercase().into_bytes()),
        ("upper-cased", value.to_uppercase().into_bytes()),
        ("JSON-escaped", json_escaped(value).into_bytes()),
        ("percent-encoded", percent_encoded(value).into_bytes()),
        (
            "UTF-16LE",
            value.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
        (
            "UTF-16BE",
            value.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        ),
        ("hex", hex::encode(value).into_bytes()),
    ];
    let bytes = value.as_bytes();
    for skip in 0..3 {
        let whole_groups = bytes.len().saturating_sub(skip) / 3 * 3;
        // Fewer than two groups could match ciphertext by chance.
        if whole_groups >= 6 {
            let aligned = &bytes[skip..skip + whole_groups];
            let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode(aligned);
            let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aligned);
            forms.push(("base64", standard.into_bytes()));
            forms.push(("base64url", url_safe.into_bytes()));
        }
    }
    forms.sort_by(|a, b| a.1.cmp(&b.1));
    forms.dedup_by(|a, b| a.1 == b.1);
    forms
}

fn json_escaped(value: &str) -> String {
    value
        .encode_utf16()
        .map(|unit| match char::from_u32(u32::from(unit)) {
            Some(c) if c.is_ascii() => c.to_string(),
            _ => format!("\\u{unit:04x}"),
        })
        .collect()
}

fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every canary found in any of `places` (`(label, bytes)`), in any form.
pub fn leaks<'a>(places: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<String> {
    let forms: Vec<(&str, &str, Vec<u8>)> = CANARIES
        .iter()
        .flat_map(|canary| {
            forms(canary)
                .into_iter()
                .map(move |(form, bytes)| (*canary, form, bytes))
        })
        .collect();
    let mut found = Vec::new();
    for (place, bytes) in places {
        for (canary, form, needle) in &forms {
            if holds(bytes, needle) {
                found.push(format!("{canary} ({form}) in {place}"));
            }
        }
    }
    found
}
