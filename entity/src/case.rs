//! The `cases` table: a case: an unhappy rating (or a "please answer me") that the agency must answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The citizen's private key to the case (random, at least 128 bits).
    pub code: String,
    pub response_id: i64,
    pub agency_id: i64,
    pub desk_id: Option<i64>,
    /// The rating's overall answer.
    pub overall: i16,
    /// The citizen ticked "please answer me".
    pub want_reply: bool,
    pub opened_at: DateTimeUtc,
    /// The local day it opened.
    pub opened_on: Date,
    /// The last working day for the answer.
    pub due: Date,
    pub reply: Option<String>,
    pub replied_at: Option<DateTimeUtc>,
    /// The local day of the reply.
    pub replied_on: Option<Date>,
    pub replied_by: Option<String>,
    /// `satisfied` or `dissatisfied`: the citizen's rating of the reply.
    pub reply_rating: Option<String>,
    pub reply_rated_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    /// `rated`, `excluded` (a case closed 10 days after its reply is read as closed).
    pub closed_reason: Option<String>,
    /// When `case.overdue` was sent.
    pub overdue_sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
