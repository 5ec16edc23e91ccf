//! The sales team's directory: salespeople and teams in one small
//! partition, each item written whole (an admin's edit replaces it).

use std::sync::Arc;

use strata_domain::engage::{Salesperson, Team};
use strata_domain::ids::{SalespersonId, TeamId};
use strata_domain::ports::table::{Query, SortCondition, Table};

use crate::batch;
use crate::codec::{self, RecordKind};
use crate::error::StoreError;
use crate::keys;

#[derive(Clone)]
pub struct SalesTeam {
    table: Arc<dyn Table>,
}

impl SalesTeam {
    pub fn new(table: Arc<dyn Table>) -> Self {
        SalesTeam { table }
    }

    pub async fn person(&self, id: &SalespersonId) -> Result<Option<Salesperson>, StoreError> {
        self.table
            .get(&keys::salesperson(id))
            .await?
            .map(|item| codec::decode(RecordKind::Salesperson, &item))
            .transpose()
    }

    /// Stores a salesperson as sent (created or replaced).
    pub async fn put_person(&self, person: &Salesperson) -> Result<(), StoreError> {
        let item = codec::encode(
            RecordKind::Salesperson,
            &keys::salesperson(&person.id),
            person,
            &[],
        )?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// Every salesperson, by id.
    pub async fn people(&self) -> Result<Vec<Salesperson>, StoreError> {
        self.all(keys::SALESPERSON_PREFIX, RecordKind::Salesperson)
            .await
    }

    pub async fn team(&self, id: &TeamId) -> Result<Option<Team>, StoreError> {
        self.table
            .get(&keys::team(id))
            .await?
            .map(|item| codec::decode(RecordKind::Team, &item))
            .transpose()
    }

    pub async fn put_team(&self, team: &Team) -> Result<(), StoreError> {
        let item = codec::encode(RecordKind::Team, &keys::team(&team.id), team, &[])?;
        self.table.put(item, None).await?;
        Ok(())
    }

    /// Every team, by id.
    pub async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.all(keys::TEAM_PREFIX, RecordKind::Team).await
    }

    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        kind: RecordKind,
    ) -> Result<Vec<T>, StoreError> {
        let query = Query::partition(keys::SALES_TEAM.to_owned())
            .sort(SortCondition::BeginsWith(prefix.to_owned()));
        batch::query_all(self.table.as_ref(), query)
            .await?
            .iter()
            .map(|item| codec::decode(kind, item))
            .collect()
    }
}
