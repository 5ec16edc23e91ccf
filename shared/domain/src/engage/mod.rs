//! From scores to action: what a customer is (their [`facts`]), which
//! segment they belong to ([`segments`]: an ordered list of named rules,
//! the first that matches wins), and the sales team that follows them up
//! ([`team`]). Rules, no I/O: the store keeps the lists and memberships,
//! the engage function evaluates them.

pub mod facts;
pub mod rule;
pub mod segments;
pub mod strategy;
pub mod team;

pub use facts::{Attribute, FactValue, Facts};
pub use rule::Rule;
pub use segments::{Segment, SegmentCause, SegmentChange, SegmentId, SegmentList};
pub use strategy::{Cadence, Strategy, TaskKind};
pub use team::{Salesperson, SalespersonStatus, Team};
