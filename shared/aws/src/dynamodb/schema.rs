//! The single table's definition, derived from the domain's key and index
//! names. The SAM template must declare the same.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use strata_domain::ports::table::{Index, PK, SK, TTL_ATTRIBUTE};

use crate::SetupError;

const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
const POLL_INTERVAL: Duration = Duration::from_secs(1);

fn key_schema(pk: &str, sk: &str) -> Result<Vec<KeySchemaElement>, SetupError> {
    let element = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| SetupError::request("CreateTable", e))
    };
    Ok(vec![
        element(pk, KeyType::Hash)?,
        element(sk, KeyType::Range)?,
    ])
}

/// Every key attribute of the table and its indexes; all are strings.
fn attribute_definitions() -> Result<Vec<AttributeDefinition>, SetupError> {
    let index_keys = Index::ALL
        .into_iter()
        .flat_map(|i| [i.pk_attr(), i.sk_attr()]);
    [PK, SK]
        .into_iter()
        .chain(index_keys)
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| SetupError::request("CreateTable", e))
        })
        .collect()
}

fn global_secondary_indexes() -> Result<Vec<GlobalSecondaryIndex>, SetupError> {
    Index::ALL
        .into_iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name())
                .set_key_schema(Some(key_schema(index.pk_attr(), index.sk_attr())?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| SetupError::request("CreateTable", e))
        })
        .collect()
}

/// Creates the table (on-demand, `pk`/`sk`, both GSIs projecting all
/// attributes, TTL on `expires_at`) and waits until it and its indexes are
/// active. A table that already exists is only waited for.
pub async fn create_table(client: &Client, name: &str) -> Result<(), SetupError> {
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(PK, SK)?))
        .set_attribute_definitions(Some(attribute_definitions()?))
        .set_global_secondary_indexes(Some(global_secondary_indexes()?))
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(err) if err.code() == Some("ResourceInUseException") => {
            tracing::info!(table = name, "table exists already");
        }
        Err(err) => return Err(SetupError::request("CreateTable", err)),
    }
    wait_until_active(client, name).await?;
    enable_ttl(client, name).await
}

// Enabling TTL when it is already on is refused, so look first.
async fn enable_ttl(client: &Client, name: &str) -> Result<(), SetupError> {
    let described = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| SetupError::request("DescribeTimeToLive", e))?;
    let current = described
        .time_to_live_description()
        .and_then(|d| d.attribute_name());
    if current == Some(TTL_ATTRIBUTE) {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(|e| SetupError::request("UpdateTimeToLive", e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| SetupError::request("UpdateTimeToLive", e))?;
    Ok(())
}

// The SDK's `table_exists` waiter polls every 20 s at least and ignores the
// indexes' status, so a plain loop serves better.
async fn wait_until_active(client: &Client, name: &str) -> Result<(), SetupError> {
    let started = tokio::time::Instant::now();
    loop {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| SetupError::request("DescribeTable", e))?;
        let active = described.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status() == Some(&IndexStatus::Active))
        });
        if active {
            return Ok(());
        }
        if started.elapsed() > ACTIVE_TIMEOUT {
            return Err(SetupError::NotActive {
                table: name.to_owned(),
                waited: ACTIVE_TIMEOUT,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
