//! An index of the responses in the order the listing reads them (`submitted_at`, then
//! `id`), so that each page of the listing is a range read from where the last one ended,
//! instead of a scan and a sort of the whole period per page.

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
                "CREATE INDEX idx_responses_submitted_id ON responses (submitted_at, id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_responses_submitted_id")
            .await?;
        Ok(())
    }
}
