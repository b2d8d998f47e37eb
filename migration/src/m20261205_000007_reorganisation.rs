//! Reorganisations (round 2, "Reorganisation"): an agency's names and parents are kept
//! with the day each took effect (`agency_versions`, one row per change, in force until
//! the agency's next row), so that the tree of any date can be read and nothing is
//! overwritten; `reorganisations` records each request as applied. The agencies' own
//! `valid_from`, `valid_to` and `successor_id` (from the first migration) say when an
//! agency existed and what it merged into.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum AgencyVersions {
    Table,
    Id,
    AgencyId,
    ValidFrom,
    Name,
    ParentId,
}

#[derive(DeriveIden)]
enum Reorganisations {
    Table,
    Id,
    Effective,
    Reason,
    Changes,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id_col<T: IntoIden>(backend: sea_orm::DbBackend, name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        sea_orm::DbBackend::Sqlite => col.integer().not_null().primary_key(),
        _ => col.big_integer().not_null().auto_increment().primary_key(),
    };
    col
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        m.create_table(
            Table::create()
                .table(AgencyVersions::Table)
                .col(id_col(backend, AgencyVersions::Id))
                .col(
                    ColumnDef::new(AgencyVersions::AgencyId)
                        .big_integer()
                        .not_null(),
                )
                // NULL: since the agency began.
                .col(ColumnDef::new(AgencyVersions::ValidFrom).date().null())
                .col(ColumnDef::new(AgencyVersions::Name).text().not_null())
                .col(
                    ColumnDef::new(AgencyVersions::ParentId)
                        .big_integer()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AgencyVersions::Table, AgencyVersions::AgencyId)
                        .to(Alias::new("agencies"), Alias::new("id")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AgencyVersions::Table, AgencyVersions::ParentId)
                        .to(Alias::new("agencies"), Alias::new("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_agency_versions_agency")
                .table(AgencyVersions::Table)
                .col(AgencyVersions::AgencyId)
                .col(AgencyVersions::ValidFrom)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Reorganisations::Table)
                .col(id_col(backend, Reorganisations::Id))
                .col(ColumnDef::new(Reorganisations::Effective).date().not_null())
                .col(ColumnDef::new(Reorganisations::Reason).text().not_null())
                .col(ColumnDef::new(Reorganisations::Changes).text().not_null())
                .col(ColumnDef::new(Reorganisations::CreatedBy).text().not_null())
                .col(
                    ColumnDef::new(Reorganisations::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Each existing agency's name and parent, in force since it began.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO agency_versions (agency_id, valid_from, name, parent_id) \
                 SELECT id, valid_from, name, parent_id FROM agencies ORDER BY id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Reorganisations::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AgencyVersions::Table).to_owned())
            .await?;
        Ok(())
    }
}
