//! The `reorganisations` table: each reorganisation as applied (its changes as JSON).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "reorganisations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub effective: Date,
    pub reason: String,
    pub changes: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
