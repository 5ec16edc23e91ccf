//! The engage capability's records: the sales team's directory, the
//! segment list (a revisioned config item), each customer's segment
//! entries and exits (beside the profile, so erasure takes them with the
//! partition; indexed by day), the sizes each nightly run counted and a
//! strategy per segment.

mod scan;
mod segments;
mod strategies;
mod team;

pub use scan::{SegmentInputs, SegmentScan};
pub use segments::{SegmentChangeRecord, SegmentRepository, SegmentSizes, StoredSegments};
pub use strategies::{StoredStrategy, StrategyRepository};
pub use team::SalesTeam;
