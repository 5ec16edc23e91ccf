//! Settings that change how raw input is read.

use crate::contact::{DateOrder, PhoneRegion};
use crate::money::Currency;

/// How to interpret input that does not say everything itself: phone numbers
/// without a country code, all-numeric dates, amounts without a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub phone_region: PhoneRegion,
    pub date_order: DateOrder,
    pub currency: Currency,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            phone_region: PhoneRegion::CHINA,
            date_order: DateOrder::YearMonthDay,
            currency: Currency::CNY,
        }
    }
}
