//! The table port on DynamoDB.

mod convert;
mod errors;
mod expr;
mod schema;

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, ReturnValue,
    TransactWriteItem, Update as SdkUpdate, WriteRequest as SdkWriteRequest,
};
use strata_domain::ports::table::{
    BatchGot, Condition, Cursor, Item, Key, MAX_TRANSACT_ITEMS, PK, Page, Query, SK, SortCondition,
    Table, TableError, TransactOp, Update, WriteRequest, validate_batch, validate_batch_get,
    validate_item,
};

use convert::{
    SdkItem, cursor_from_sdk, cursor_to_sdk, item_from_sdk, item_to_sdk, key_from_sdk, key_to_sdk,
};
use errors::{built, canceled, table_error};
use expr::Placeholders;
pub use schema::create_table;

/// The single Strata table in DynamoDB. Cheap to clone: the client is shared.
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table_name: String,
}

impl DynamoTable {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table_name: table_name.into(),
        }
    }

    fn transact_item(&self, op: TransactOp) -> Result<TransactWriteItem, TableError> {
        let mut p = Placeholders::default();
        let item = match op {
            TransactOp::Put { item, condition } => {
                validate_item(&item)?;
                let condition = condition.map(|c| p.condition(c));
                let b = p.into_bindings();
                let put = Put::builder()
                    .table_name(&self.table_name)
                    .set_item(Some(item_to_sdk(item)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(b.names)
                    .set_expression_attribute_values(b.values);
                TransactWriteItem::builder().put(built(put.build())?)
            }
            TransactOp::Update {
                key,
                update,
                condition,
            } => {
                let expression = p.update(update)?;
                let condition = condition.map(|c| p.condition(c));
                let b = p.into_bindings();
                let update = SdkUpdate::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_sdk(&key)))
                    .update_expression(expression)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(b.names)
                    .set_expression_attribute_values(b.values);
                TransactWriteItem::builder().update(built(update.build())?)
            }
            TransactOp::Delete { key, condition } => {
                let condition = condition.map(|c| p.condition(c));
                let b = p.into_bindings();
                let delete = Delete::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_sdk(&key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(b.names)
                    .set_expression_attribute_values(b.values);
                TransactWriteItem::builder().delete(built(delete.build())?)
            }
            TransactOp::Check { key, condition } => {
                let condition = p.condition(condition);
                let b = p.into_bindings();
                let check = ConditionCheck::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_sdk(&key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(b.names)
                    .set_expression_attribute_values(b.values);
                TransactWriteItem::builder().condition_check(built(check.build())?)
            }
        };
        Ok(item.build())
    }
}

fn page(items: Option<Vec<SdkItem>>, last_key: Option<SdkItem>) -> Result<Page, TableError> {
    let items = items
        .unwrap_or_default()
        .into_iter()
        .map(item_from_sdk)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        next: cursor_from_sdk(last_key)?,
    })
}

fn transact_key(op: &TransactOp) -> Result<Key, TableError> {
    match op {
        TransactOp::Put { item, .. } => Key::of(item).ok_or_else(|| {
            TableError::InvalidRequest("an item needs string `pk` and `sk` attributes".into())
        }),
        TransactOp::Update { key, .. }
        | TransactOp::Delete { key, .. }
        | TransactOp::Check { key, .. } => Ok(key.clone()),
    }
}

fn write_to_sdk(write: WriteRequest) -> Result<SdkWriteRequest, TableError> {
    Ok(match write {
        WriteRequest::Put(item) => {
            let put = built(
                PutRequest::builder()
                    .set_item(Some(item_to_sdk(item)))
                    .build(),
            )?;
            SdkWriteRequest::builder().put_request(put).build()
        }
        WriteRequest::Delete(key) => {
            let delete = built(
                DeleteRequest::builder()
                    .set_key(Some(key_to_sdk(&key)))
                    .build(),
            )?;
            SdkWriteRequest::builder().delete_request(delete).build()
        }
    })
}

fn write_from_sdk(write: SdkWriteRequest) -> Result<WriteRequest, TableError> {
    match (write.put_request, write.delete_request) {
        (Some(put), _) => Ok(WriteRequest::Put(item_from_sdk(put.item)?)),
        (None, Some(delete)) => Ok(WriteRequest::Delete(key_from_sdk(delete.key)?)),
        (None, None) => Err(TableError::Corrupt(
            "an unprocessed write request is empty".into(),
        )),
    }
}

fn to_i32(n: u32, what: &str) -> Result<i32, TableError> {
    i32::try_from(n).map_err(|_| TableError::InvalidRequest(format!("{what} {n} is too large")))
}

/// DynamoDB requires a positive limit; checked here because moto fails
/// with an internal error instead of a validation error.
fn page_limit(limit: Option<u32>) -> Result<Option<i32>, TableError> {
    match limit {
        Some(0) => Err(TableError::InvalidRequest(
            "a page limit must be at least 1".into(),
        )),
        limit => limit.map(|l| to_i32(l, "limit")).transpose(),
    }
}

#[async_trait]
impl Table for DynamoTable {
    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, pk = %key.pk, sk = %key.sk))]
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_sdk(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(table_error)?;
        out.item.map(item_from_sdk).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, keys = keys.len()))]
    async fn batch_get(&self, keys: Vec<Key>) -> Result<BatchGot, TableError> {
        validate_batch_get(&keys)?;
        let request = built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(key_to_sdk).collect()))
                .consistent_read(true)
                .build(),
        )?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table_name, request)
            .send()
            .await
            .map_err(table_error)?;
        let items = out
            .responses
            .and_then(|mut tables| tables.remove(&self.table_name))
            .unwrap_or_default()
            .into_iter()
            .map(item_from_sdk)
            .collect::<Result<_, _>>()?;
        let unprocessed = out
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(&self.table_name))
            .map(|left| {
                left.keys
                    .into_iter()
                    .map(key_from_sdk)
                    .collect::<Result<_, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(BatchGot { items, unprocessed })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name))]
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        validate_item(&item)?;
        let mut p = Placeholders::default();
        let condition = condition.map(|c| p.condition(c));
        let b = p.into_bindings();
        self.client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item_to_sdk(item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(b.names)
            .set_expression_attribute_values(b.values)
            .send()
            .await
            .map_err(table_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, pk = %key.pk, sk = %key.sk))]
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        let mut p = Placeholders::default();
        let expression = p.update(update)?;
        let condition = condition.map(|c| p.condition(c));
        let b = p.into_bindings();
        let out = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_sdk(key)))
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(b.names)
            .set_expression_attribute_values(b.values)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(table_error)?;
        let item = out
            .attributes
            .ok_or_else(|| TableError::Corrupt("UpdateItem returned no attributes".into()))?;
        item_from_sdk(item)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, pk = %key.pk, sk = %key.sk))]
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        let mut p = Placeholders::default();
        let condition = condition.map(|c| p.condition(c));
        let b = p.into_bindings();
        self.client
            .delete_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_sdk(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(b.names)
            .set_expression_attribute_values(b.values)
            .send()
            .await
            .map_err(table_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, index = ?query.index))]
    async fn query(&self, query: Query) -> Result<Page, TableError> {
        let Query {
            index,
            partition,
            sort,
            forward,
            limit,
            start,
        } = query;
        // DynamoDB rejects what the domain reads as "nothing to filter" or
        // "nothing matches"; answer those the way the port defines them.
        let sort = match sort {
            SortCondition::BeginsWith(prefix) if prefix.is_empty() => SortCondition::All,
            SortCondition::Between(lo, hi) if lo > hi => return Ok(Page::default()),
            sort => sort,
        };
        let (pk_attr, sk_attr) = index.map_or((PK, SK), |i| (i.pk_attr(), i.sk_attr()));
        let mut p = Placeholders::default();
        let key_condition = p.key_condition(pk_attr, sk_attr, partition, sort);
        let b = p.into_bindings();
        let out = self
            .client
            .query()
            .table_name(&self.table_name)
            .set_index_name(index.map(|i| i.name().to_owned()))
            // Indexes only offer eventual consistency.
            .set_consistent_read(index.is_none().then_some(true))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(b.names)
            .set_expression_attribute_values(b.values)
            .scan_index_forward(forward)
            .set_limit(page_limit(limit)?)
            .set_exclusive_start_key(start.map(cursor_to_sdk))
            .send()
            .await
            .map_err(table_error)?;
        page(out.items, out.last_evaluated_key)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, writes = writes.len()))]
    async fn batch_write(
        &self,
        writes: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, TableError> {
        validate_batch(&writes)?;
        let requests = writes
            .into_iter()
            .map(write_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .batch_write_item()
            .request_items(&self.table_name, requests)
            .send()
            .await
            .map_err(table_error)?;
        let unprocessed = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&self.table_name))
            .unwrap_or_default();
        if !unprocessed.is_empty() {
            tracing::debug!(
                unprocessed = unprocessed.len(),
                "batch write left requests unprocessed"
            );
        }
        unprocessed.into_iter().map(write_from_sdk).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, ops = ops.len()))]
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        if ops.is_empty() || ops.len() > MAX_TRANSACT_ITEMS {
            return Err(TableError::InvalidRequest(format!(
                "a transaction takes 1 to {MAX_TRANSACT_ITEMS} operations, got {}",
                ops.len()
            )));
        }
        let mut keys = HashSet::new();
        for op in &ops {
            let key = transact_key(op)?;
            if !keys.insert(key.clone()) {
                return Err(TableError::InvalidRequest(format!(
                    "the transaction names {}/{} twice",
                    key.pk, key.sk
                )));
            }
        }
        let items = ops
            .into_iter()
            .map(|op| self.transact_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    canceled(e.cancellation_reasons(), e.message())
                }
                _ => table_error(err),
            })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(table = %self.table_name, segment, total_segments))]
    async fn scan(
        &self,
        segment: u32,
        total_segments: u32,
        start: Option<Cursor>,
        limit: Option<u32>,
    ) -> Result<Page, TableError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table_name)
            .consistent_read(true)
            .segment(to_i32(segment, "segment")?)
            .total_segments(to_i32(total_segments, "total segments")?)
            .set_exclusive_start_key(start.map(cursor_to_sdk))
            .set_limit(page_limit(limit)?)
            .send()
            .await
            .map_err(table_error)?;
        page(out.items, out.last_evaluated_key)
    }
}
