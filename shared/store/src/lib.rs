//! Strata's records on the table port: repositories, the single-table key
//! design (`keys`, private to this crate), the item codec and the batch writer.
//!
//! Works with any `Table` adapter; knows nothing of AWS.

pub mod batch;
pub mod codec;
pub mod cold;
pub mod error;
mod keys;
pub mod personal;
pub mod repo;

pub use batch::{BatchPolicy, BatchReport, get_many, write_all};
pub use codec::RecordKind;
pub use error::StoreError;
pub use personal::{BlindIdentifier, Privacy};
pub use repo::access::{AssignedPage, Assignment, AssignmentRepository, AuditLog, AuditPage};
pub use repo::activity::{
    ActivityRepository, CLAIM_HANDOVER, History, Holder, Period, Recorded, Recount, Sameness,
    StatusChange, Stored,
};
pub use repo::churn::{ChurnRepository, ScorePage, StoredCriteria};
pub use repo::consents::{Appended, ConsentLedger};
pub use repo::customers::{CustomerPage, CustomerRepository};
pub use repo::engage::{
    SalesTeam, SegmentChangeRecord, SegmentInputs, SegmentRepository, SegmentScan, SegmentSizes,
    StoredSegments, StoredStrategy, StrategyRepository,
};
pub use repo::erasure::{CustomerEraser, ErasedCustomers, Erasure, ErasureLedger, LedgerEntry};
pub use repo::idempotency::{Claim, IdempotencyStore, StoredResponse};
pub use repo::imports::{
    Begun, ImportCounts, ImportRepository, ImportState, ImportStatus, ImportedObject,
};
pub use repo::inactive::{
    DueErasure, DuePage, InactiveCustomers, InactiveErasure, InactiveErasureReport,
};
pub use repo::merges::{MergeEntry, MergeLog};
pub use repo::partitions::{CustomerRecords, CustomerScan, Partition, PartitionScan};
pub use repo::products::{ProductPage, ProductRepository};
pub use repo::recommend::RecommendRepository;
pub use repo::retention::{Expired, RetentionKeys, RetentionRepository};
pub use repo::rewards::{
    Balance, CouponIssue, CouponRepository, IssueProgress, Issued, LedgerPage, PointsLedger,
    Posted, Redeemed, ReferralLink, ReferralRepository, Resolved, Rewards, RewardsPolicies,
    StoredRewardsPolicy, StoredTemplate,
};
pub use repo::tiering::{Candidate, JournalEntry, Moved, TieringRepository};
pub use repo::value::{
    CountsSnapshot, MonthlyMovements, PolicyInForce, StoredCalibration, StoredValuePolicy,
    TierChangeRecord, TierCounts, ValueRepository,
};
