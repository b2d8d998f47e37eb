//! Held ratings (round 2, "Trust in the figures"): a `holds` row per rating kept out of the
//! figures by an integrity rule, a `held` count beside `n` and `excluded` in every roll-up,
//! the `assisted` tick and the day's keyed hash of the client's cookie on responses, and
//! revocable links.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Holds {
    Table,
    ResponseId,
    Reasons,
    HeldAt,
    ReleasedAt,
    ReleasedBy,
}

#[derive(DeriveIden)]
enum Responses {
    Table,
    Assisted,
    DeviceHash,
}

#[derive(DeriveIden)]
enum RatingLinks {
    Table,
    RevokedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

const ROLLUPS: [&str; 3] = ["rollup_daily", "rollup_monthly", "rollup_yearly"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Holds::Table)
                .col(
                    ColumnDef::new(Holds::ResponseId)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Holds::Reasons).string().not_null())
                .col(
                    ColumnDef::new(Holds::HeldAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Holds::ReleasedAt).timestamp_with_time_zone())
                .col(ColumnDef::new(Holds::ReleasedBy).string())
                .foreign_key(
                    ForeignKey::create()
                        .from(Holds::Table, Holds::ResponseId)
                        .to(Alias::new("responses"), Alias::new("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_holds_released_at")
                .table(Holds::Table)
                .col(Holds::ReleasedAt)
                .to_owned(),
        )
        .await?;
        for table in ROLLUPS {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(
                        ColumnDef::new(Alias::new("held"))
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        }
        // SQLite alters one column per statement.
        m.alter_table(
            Table::alter()
                .table(Responses::Table)
                .add_column(
                    ColumnDef::new(Responses::Assisted)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Responses::Table)
                .add_column(ColumnDef::new(Responses::DeviceHash).string())
                .to_owned(),
        )
        .await?;
        // The integrity rules read a link's ratings of the last day; this index replaces
        // the one on `link_id` alone.
        m.create_index(
            Index::create()
                .name("idx_responses_link_received")
                .table(Responses::Table)
                .col(Alias::new("link_id"))
                .col(Alias::new("received_at"))
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_responses_link")
                .table(Responses::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(RatingLinks::Table)
                .add_column(ColumnDef::new(RatingLinks::RevokedAt).timestamp_with_time_zone())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(RatingLinks::Table)
                .drop_column(RatingLinks::RevokedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_responses_link")
                .table(Responses::Table)
                .col(Alias::new("link_id"))
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_responses_link_received")
                .table(Responses::Table)
                .to_owned(),
        )
        .await?;
        for column in [Responses::DeviceHash, Responses::Assisted] {
            m.alter_table(
                Table::alter()
                    .table(Responses::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        for table in ROLLUPS {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new("held"))
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Holds::Table).to_owned())
            .await
    }
}
