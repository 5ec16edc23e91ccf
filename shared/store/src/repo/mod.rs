pub mod activity;
pub mod customers;
pub mod products;
