//! The `webhooks` table: a receiver of events.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// Comma-separated event names.
    pub events: String,
    /// Only events of this agency's subtree (`None`: all).
    pub agency_id: Option<i64>,
    /// The key of the deliveries' HMAC signature.
    pub secret: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
