//! The `rollup_daily` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "rollup_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub desk_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub questionnaire_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub question_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: i16,
    pub n: i64,
    pub excluded: i64,
    pub held: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
