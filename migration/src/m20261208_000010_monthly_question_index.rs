//! The monthly roll-up by question first, covering the counts: the trend and the heat map
//! read one question (the overall one) of a subtree's twelve months, which the primary key
//! (month first) could only find by reading every question of every agency of the year.

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
                "CREATE INDEX idx_rollup_monthly_question ON rollup_monthly \
                 (question_key, month, agency_id, value, n, excluded, held)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_rollup_monthly_question")
            .await?;
        Ok(())
    }
}
