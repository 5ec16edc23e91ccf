//! Settings of the ingest functions, read once per cold start.

use strata_domain::ReadOptions;
use strata_domain::contact::{DateOrder, PhoneRegion};
use strata_domain::money::Currency;
use strata_domain::retention::RetentionPolicy;
use strata_lambda_kit::{ConfigError, EnvReader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// The DynamoDB table (`STRATA_TABLE`).
    pub table: String,
    /// The bucket uploads, mappings and reports live in (`STRATA_IMPORTS_BUCKET`).
    pub bucket: String,
    pub read: ReadOptions,
    /// Largest upload an import accepts (`STRATA_IMPORT_MAX_BYTES`).
    pub import_max_bytes: u64,
    /// The bucket holding the erasure ledger (`erasure-ledger/`), the
    /// backup function's snapshot bucket (`STRATA_SNAPSHOT_BUCKET`,
    /// optional: without it the API cannot erase).
    pub ledger_bucket: Option<String>,
    /// The table of customers' wrapped data keys (`STRATA_KEY_TABLE`).
    pub key_table: String,
    /// The KMS key that wraps them (`STRATA_PERSONAL_DATA_KEY`, an ARN).
    pub personal_data_key: String,
    /// How long data is kept (`STRATA_RETENTION_POLICY`, JSON, see
    /// `RetentionPolicy`; optional): the import function's scheduled
    /// erasure of inactive customers reads `inactive_customer_days`.
    pub retention: RetentionPolicy,
}

/// Customers' data keys in AWS: wrapped by KMS, kept in their own table.
pub async fn aws_privacy(
    sdk: &aws_config::SdkConfig,
    config: &IngestConfig,
) -> Result<std::sync::Arc<strata_store::Privacy>, strata_store::StoreError> {
    let keys = strata_aws::KmsKeyService::new(
        strata_aws::kms_client(sdk),
        config.personal_data_key.clone(),
    );
    let key_table =
        strata_aws::DynamoTable::new(strata_aws::dynamodb_client(sdk), config.key_table.clone());
    strata_store::Privacy::open(std::sync::Arc::new(keys), std::sync::Arc::new(key_table)).await
}

impl IngestConfig {
    pub fn from_env(env: &mut EnvReader) -> Result<IngestConfig, ConfigError> {
        let table = env.required("STRATA_TABLE");
        let bucket = env.required("STRATA_IMPORTS_BUCKET");
        let phone_region = env.parsed_or("STRATA_PHONE_REGION", PhoneRegion::CHINA);
        let currency = env
            .parsed_or("STRATA_CURRENCY", CurrencyCode(Currency::CNY))
            .0;
        let date_order = env
            .parsed_or("STRATA_DATE_ORDER", DateOrderName(DateOrder::YearMonthDay))
            .0;
        let import_max_bytes = env.parsed_or(
            "STRATA_IMPORT_MAX_BYTES",
            crate::import::run::DEFAULT_MAX_OBJECT_BYTES,
        );
        let ledger_bucket = env.optional("STRATA_SNAPSHOT_BUCKET");
        let key_table = env.required("STRATA_KEY_TABLE");
        let personal_data_key = env.required("STRATA_PERSONAL_DATA_KEY");
        let retention = env
            .parsed_or(
                "STRATA_RETENTION_POLICY",
                RetentionJson(RetentionPolicy::default()),
            )
            .0;
        Ok(IngestConfig {
            retention,
            key_table,
            personal_data_key,
            import_max_bytes,
            ledger_bucket,
            table,
            bucket,
            read: ReadOptions {
                phone_region,
                date_order,
                currency,
            },
        })
    }
}

struct CurrencyCode(Currency);

impl std::str::FromStr for CurrencyCode {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::parse("STRATA_CURRENCY", code)
            .map(CurrencyCode)
            .map_err(|e| e.message)
    }
}

struct RetentionJson(RetentionPolicy);

impl std::str::FromStr for RetentionJson {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text)
            .map(RetentionJson)
            .map_err(|e| e.to_string())
    }
}

struct DateOrderName(DateOrder);

impl std::str::FromStr for DateOrderName {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(name.to_owned()))
            .map(DateOrderName)
            .map_err(|_| "use year_month_day, month_day_year or day_month_year".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_and_names_what_is_missing() {
        let mut env = EnvReader::from_lookup(|name| match name {
            "STRATA_TABLE" => Some("strata".into()),
            "STRATA_KEY_TABLE" => Some("strata-keys".into()),
            "STRATA_CURRENCY" => Some("usd".into()),
            "STRATA_DATE_ORDER" => Some("month_day_year".into()),
            _ => None,
        });
        let config = IngestConfig::from_env(&mut env).unwrap();
        assert_eq!(config.read.currency, Currency::USD);
        assert_eq!(config.read.date_order, DateOrder::MonthDayYear);
        let error = env.finish().unwrap_err();
        assert_eq!(
            error.problems.keys().collect::<Vec<_>>(),
            ["STRATA_IMPORTS_BUCKET", "STRATA_PERSONAL_DATA_KEY"]
        );
    }
}
