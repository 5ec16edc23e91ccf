//! The points ledger's rules. The ledger is append-only: every entry is a
//! credit (a lot, which expires) or a debit. Which lots a debit consumes is
//! decided by replaying the ledger, never stored: redemptions and
//! adjustments take the lots that expire first; an expiry takes what is
//! left of its own lot; a claw-back takes what is left of its order's lot,
//! then the lots that expire first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Earned by a purchase (the order's number is the source).
    Purchase,
    /// Earned by a review (the review's id).
    Review,
    /// Earned by a referred customer's first purchase (their id).
    Referral,
    /// Given or taken by staff (their reference).
    Adjustment,
    /// Spent by the customer (their reference, e.g. a checkout).
    Redemption,
    /// What a refunded or cancelled order had earned, taken back (the order's number).
    Clawback,
    /// What was left of a lot when it expired (the lot's entry id).
    Expiry,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Purchase => "purchase",
            EntryKind::Review => "review",
            EntryKind::Referral => "referral",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Redemption => "redemption",
            EntryKind::Clawback => "clawback",
            EntryKind::Expiry => "expiry",
        }
    }
}

/// One ledger entry. `points` is positive for credits, negative for debits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub kind: EntryKind,
    pub points: i64,
    pub at: DateTime<Utc>,
    /// What it is for: an order number, review id, referred customer, reference or lot.
    pub source: String,
    /// Credits only: when what is left of them expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Claw-backs: points the order had earned that were spent already and
    /// could not be taken back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrecovered: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LedgerEntry {
    /// The key that makes the entry idempotent: one entry per kind and source.
    pub fn source_key(&self) -> String {
        source_key(self.kind, &self.source)
    }
}

/// One entry per `kind` and `source`: an order imported twice earns once.
pub fn source_key(kind: EntryKind, source: &str) -> String {
    format!("{}#{}", kind.name(), source)
}

/// A credit and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lot {
    pub entry: String,
    pub kind: EntryKind,
    pub source: String,
    pub points: i64,
    pub remaining: i64,
    pub earned_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Replays the ledger, oldest first, and returns every lot with what is
/// left of it. Debits beyond the lots (none, while the balance cannot go
/// negative) consume nothing further.
pub fn lots(entries: &[LedgerEntry]) -> Vec<Lot> {
    let mut ordered: Vec<&LedgerEntry> = entries.iter().collect();
    ordered.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut lots: Vec<Lot> = Vec::new();
    let mut by_entry: HashMap<String, usize> = HashMap::new();
    let mut by_order: HashMap<String, usize> = HashMap::new();
    for entry in ordered {
        if entry.points > 0 {
            by_entry.insert(entry.id.clone(), lots.len());
            if entry.kind == EntryKind::Purchase {
                by_order.insert(entry.source.clone(), lots.len());
            }
            lots.push(Lot {
                entry: entry.id.clone(),
                kind: entry.kind,
                source: entry.source.clone(),
                points: entry.points,
                remaining: entry.points,
                earned_at: entry.at,
                expires_at: entry.expires_at,
            });
            continue;
        }
        let mut owed = -entry.points;
        let first = match entry.kind {
            EntryKind::Expiry => by_entry.get(&entry.source).copied(),
            EntryKind::Clawback => by_order.get(&entry.source).copied(),
            _ => None,
        };
        if let Some(index) = first {
            let take = owed.min(lots[index].remaining);
            lots[index].remaining -= take;
            owed -= take;
        }
        if owed == 0 || entry.kind == EntryKind::Expiry {
            continue;
        }
        // The lots that expire first, among those alive when the debit came.
        let mut alive: Vec<usize> = (0..lots.len())
            .filter(|&i| lots[i].remaining > 0 && lots[i].expires_at.is_none_or(|e| e > entry.at))
            .collect();
        alive.sort_by_key(|&i| (lots[i].expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC), i));
        for index in alive {
            if owed == 0 {
                break;
            }
            let take = owed.min(lots[index].remaining);
            lots[index].remaining -= take;
            owed -= take;
        }
    }
    lots
}

/// The lots expired by `as_of` that still hold points: each is owed an
/// expiry entry for what is left.
pub fn due_expiries(entries: &[LedgerEntry], as_of: DateTime<Utc>) -> Vec<Lot> {
    lots(entries)
        .into_iter()
        .filter(|lot| lot.remaining > 0 && lot.expires_at.is_some_and(|e| e <= as_of))
        .collect()
}

/// The balance the ledger adds up to.
pub fn balance(entries: &[LedgerEntry]) -> i64 {
    entries.iter().map(|e| e.points).sum()
}

/// What is left of the lot an order earned (0 if it earned none).
pub fn left_of_order(entries: &[LedgerEntry], order: &str) -> i64 {
    lots(entries)
        .into_iter()
        .find(|lot| lot.kind == EntryKind::Purchase && lot.source == order)
        .map_or(0, |lot| lot.remaining)
}

/// What an order earned, if it earned anything.
pub fn earned_by_order(entries: &[LedgerEntry], order: &str) -> Option<i64> {
    entries
        .iter()
        .find(|e| e.kind == EntryKind::Purchase && e.source == order)
        .map(|e| e.points)
}
