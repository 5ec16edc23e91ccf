//! The engage capability's records: the sales team's directory, the
//! segment list (a revisioned config item), each customer's segment
//! entries and exits (beside the profile, so erasure takes them with the
//! partition; indexed by day) and the sizes each nightly run counted.

mod scan;
mod segments;
mod team;

pub use scan::{SegmentInputs, SegmentScan};
pub use segments::{SegmentChangeRecord, SegmentRepository, SegmentSizes, StoredSegments};
pub use team::SalesTeam;
