//! Coarser roll-ups for reports that must answer in milliseconds at any volume: the monthly
//! roll-up loses the desk and questionnaire (reports sum over them), and a yearly one is
//! added. Both are keyed period first, so a period's rows for every agency are one range.
//! They are filled from the daily roll-up, which keeps every dimension.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RollupMonthly::Table).to_owned())
            .await?;
        for (table, period, date) in [
            (
                RollupMonthly::Table.into_iden(),
                RollupMonthly::Month.into_iden(),
                true,
            ),
            (
                RollupYearly::Table.into_iden(),
                RollupYearly::Year.into_iden(),
                false,
            ),
        ] {
            let mut period_col = ColumnDef::new(period.clone());
            if date {
                period_col.date().not_null();
            } else {
                period_col.integer().not_null();
            }
            m.create_table(
                Table::create()
                    .table(table)
                    .col(period_col)
                    .col(ColumnDef::new(Rollup::AgencyId).big_integer().not_null())
                    .col(ColumnDef::new(Rollup::QuestionKey).text().not_null())
                    .col(ColumnDef::new(Rollup::Value).small_integer().not_null())
                    .col(ColumnDef::new(Rollup::N).big_integer().not_null())
                    .col(ColumnDef::new(Rollup::Excluded).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(period)
                            .col(Rollup::AgencyId)
                            .col(Rollup::QuestionKey)
                            .col(Rollup::Value),
                    )
                    .to_owned(),
            )
            .await?;
        }
        let (month, year) = match m.get_database_backend() {
            DbBackend::Postgres => (
                "CAST(date_trunc('month', day) AS DATE)",
                "CAST(EXTRACT(YEAR FROM day) AS INTEGER)",
            ),
            _ => (
                "substr(day, 1, 8) || '01'",
                "CAST(substr(day, 1, 4) AS INTEGER)",
            ),
        };
        let db = m.get_connection();
        for (table, period) in [("rollup_monthly", month), ("rollup_yearly", year)] {
            db.execute_unprepared(&format!(
                "INSERT INTO {table} SELECT {period}, agency_id, question_key, value, \
                 SUM(n), SUM(excluded) FROM rollup_daily \
                 GROUP BY {period}, agency_id, question_key, value"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RollupYearly::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum RollupMonthly {
    Table,
    Month,
}

#[derive(DeriveIden)]
enum RollupYearly {
    Table,
    Year,
}

#[derive(DeriveIden)]
enum Rollup {
    AgencyId,
    QuestionKey,
    Value,
    N,
    Excluded,
}
