//! A partial index of the paper forms (`channel = 'paper'`) by agency and day, so that the
//! check before freezing and the year-end checklist count a year's paper forms, and find
//! when the last was typed in, without reading every rating of the year.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_responses_paper ON responses (agency_id, submitted_at, received_at) \
                 WHERE channel = 'paper'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_responses_paper")
            .await?;
        Ok(())
    }
}
