//! The product catalogue, listed by level-3 category.

use std::sync::Arc;

use strata_domain::ids::ProductId;
use strata_domain::ports::table::{Cursor, Index, Query, Table, WriteRequest};
use strata_domain::product::{CategoryPath, Product};

use crate::batch::{self, BatchPolicy, BatchReport};
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Debug, Clone, Default)]
pub struct ProductPage {
    pub products: Vec<Product>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
pub struct ProductRepository {
    table: Arc<dyn Table>,
}

impl ProductRepository {
    pub fn new(table: Arc<dyn Table>) -> Self {
        ProductRepository { table }
    }

    pub async fn get(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let item = self.table.get(&keys::product(id)).await?;
        item.map(|item| codec::decode(RecordKind::Product, &item))
            .transpose()
    }

    /// Adds or replaces products.
    pub async fn put_many(
        &self,
        products: &[Product],
        policy: BatchPolicy,
    ) -> Result<BatchReport, StoreError> {
        let writes = products
            .iter()
            .map(|product| {
                let index = [
                    ("gsi1pk", keys::category_partition(&product.category)),
                    ("gsi1sk", keys::escape(product.id.as_str())),
                ];
                codec::encode(
                    RecordKind::Product,
                    &keys::product(&product.id),
                    product,
                    &index,
                )
                .map(WriteRequest::Put)
            })
            .collect::<Result<Vec<_>, _>>()?;
        batch::write_all(self.table.as_ref(), writes, policy).await
    }

    pub async fn list_by_category(
        &self,
        path: &CategoryPath,
        start: Option<Cursor>,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        let query = Query::on_index(Index::Gsi1, keys::category_partition(path))
            .start(start)
            .limit(limit);
        let page = self.table.query(query).await?;
        let products = page
            .items
            .iter()
            .map(|item| codec::decode(RecordKind::Product, item))
            .collect::<Result<_, _>>()?;
        Ok(ProductPage {
            products,
            next: page.next,
        })
    }
}
