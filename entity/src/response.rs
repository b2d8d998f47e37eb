//! The `responses` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "responses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub link_id: Option<i64>,
    pub agency_id: i64,
    pub desk_id: Option<i64>,
    pub service_id: Option<i64>,
    pub questionnaire_id: i64,
    pub channel: String,
    pub submitted_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub comment: Option<String>,
    pub client_hash: Option<String>,
    pub hash: String,
    /// Someone helped the citizen rate (the form's tick).
    pub assisted: bool,
    /// The day's keyed hash of the client's cookie, when it sent one the server issued.
    pub device_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
