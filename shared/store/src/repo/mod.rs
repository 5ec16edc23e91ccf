pub mod activity;
pub mod customers;
pub mod erasure;
pub mod idempotency;
pub mod imports;
pub mod merges;
pub mod products;
