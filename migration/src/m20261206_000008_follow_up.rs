//! Closing the loop (round 2, "Closing the loop"): a case per unhappy rating or "please
//! answer me" (`cases`, its private code the citizen's only key), the working-day calendar
//! of each year that differs from the default (`calendar_years`), dossier counts from the
//! case-handling system (`dossiers`), and webhooks with their deliveries kept until they
//! are delivered (`webhooks`, `webhook_deliveries`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id_col(backend: sea_orm::DbBackend, name: &str) -> ColumnDef {
    let mut col = ColumnDef::new(Alias::new(name));
    match backend {
        sea_orm::DbBackend::Sqlite => col.integer().not_null().primary_key(),
        _ => col.big_integer().not_null().auto_increment().primary_key(),
    };
    col
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

fn fk(table: &str, column: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(to), Alias::new("id"))
        .to_owned()
}

fn index(name: &str, table: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in columns {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();
        m.create_table(
            Table::create()
                .table(Alias::new("cases"))
                .col(id_col(b, "id"))
                .col(col("code").text().not_null().unique_key())
                .col(col("response_id").big_integer().not_null().unique_key())
                .col(col("agency_id").big_integer().not_null())
                .col(col("desk_id").big_integer().null())
                .col(col("overall").small_integer().not_null())
                .col(col("want_reply").boolean().not_null())
                .col(col("opened_at").timestamp_with_time_zone().not_null())
                .col(col("opened_on").date().not_null())
                .col(col("due").date().not_null())
                .col(col("reply").text().null())
                .col(col("replied_at").timestamp_with_time_zone().null())
                .col(col("replied_on").date().null())
                .col(col("replied_by").text().null())
                .col(col("reply_rating").text().null())
                .col(col("reply_rated_at").timestamp_with_time_zone().null())
                .col(col("closed_at").timestamp_with_time_zone().null())
                .col(col("closed_reason").text().null())
                .col(col("overdue_sent_at").timestamp_with_time_zone().null())
                .foreign_key(&mut fk("cases", "response_id", "responses"))
                .foreign_key(&mut fk("cases", "agency_id", "agencies"))
                .foreign_key(&mut fk("cases", "desk_id", "desks"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_cases_agency_opened",
            "cases",
            &["agency_id", "opened_on"],
        ))
        .await?;
        m.create_index(index("idx_cases_due", "cases", &["due"]))
            .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("calendar_years"))
                .col(col("year").integer().not_null().primary_key())
                .col(col("days_off").text().not_null())
                .col(col("working_days").text().not_null())
                .col(col("updated_at").timestamp_with_time_zone().not_null())
                .col(col("updated_by").text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("dossiers"))
                .col(col("agency_id").big_integer().not_null())
                .col(col("day").date().not_null())
                .col(col("received").big_integer().not_null())
                .col(col("resolved").big_integer().not_null())
                .col(col("updated_at").timestamp_with_time_zone().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("agency_id"))
                        .col(Alias::new("day")),
                )
                .foreign_key(&mut fk("dossiers", "agency_id", "agencies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("webhooks"))
                .col(id_col(b, "id"))
                .col(col("url").text().not_null())
                .col(col("events").text().not_null())
                .col(col("agency_id").big_integer().null())
                .col(col("secret").text().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .col(col("created_by").text().not_null())
                .col(col("deleted_at").timestamp_with_time_zone().null())
                .foreign_key(&mut fk("webhooks", "agency_id", "agencies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("webhook_deliveries"))
                .col(id_col(b, "id"))
                .col(col("webhook_id").big_integer().not_null())
                .col(col("delivery").text().not_null().unique_key())
                .col(col("event").text().not_null())
                .col(col("body").text().not_null())
                .col(col("attempts").integer().not_null())
                .col(col("next_attempt_at").timestamp_with_time_zone().null())
                .col(col("delivered_at").timestamp_with_time_zone().null())
                .col(col("last_status").integer().null())
                .col(col("last_error").text().null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .foreign_key(&mut fk("webhook_deliveries", "webhook_id", "webhooks"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_webhook_deliveries_next",
            "webhook_deliveries",
            &["next_attempt_at"],
        ))
        .await?;
        m.create_index(index(
            "idx_webhook_deliveries_webhook",
            "webhook_deliveries",
            &["webhook_id", "id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "webhook_deliveries",
            "webhooks",
            "dossiers",
            "calendar_years",
            "cases",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
