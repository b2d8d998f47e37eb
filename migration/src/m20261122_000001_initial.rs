//! The whole data model, designed up front so that later features add to it rather than
//! rewrite it.
//!
//! - Instants are `timestamp with time zone` (text in SQLite, always written by the
//!   application in one fixed UTC format, so text order is time order); dates are `date`.
//! - Primary keys on SQLite are plain `INTEGER PRIMARY KEY` (a rowid alias, no
//!   AUTOINCREMENT bookkeeping on every insert); on PostgreSQL `bigserial`.
//! - Responses, their answers and exclusions are append-only: the application never
//!   updates or deletes them. Roll-ups are derived data, rebuilt from responses on demand.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_initial"
    }
}

fn id_col<T: IntoIden>(backend: DbBackend, name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::Sqlite => col.integer().not_null().primary_key(),
        _ => col.big_integer().not_null().auto_increment().primary_key(),
    };
    col
}

fn fk_col<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().not_null();
    col
}

fn fk_col_null<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().null();
    col
}

fn text<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().not_null();
    col
}

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.text().null();
    col
}

fn instant<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.timestamp_with_time_zone().not_null();
    col
}

fn instant_null<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.timestamp_with_time_zone().null();
    col
}

fn boolean<T: IntoIden>(name: T, default: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.boolean().not_null().default(default);
    col
}

fn int<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.integer().not_null();
    col
}

fn big<T: IntoIden>(name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.big_integer().not_null();
    col
}

fn fk<F: IntoIden, T: IntoIden>(
    table: F,
    column: impl IntoIden,
    to: T,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(column)
        .to_tbl(to)
        .to_col(Alias::new("id"))
        .to_owned()
}

fn index<T: IntoIden>(
    name: &str,
    table: T,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for col in cols {
        idx.col(Alias::new(*col));
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();

        // Agencies form a tree. An agency that merges into another gets `valid_to` and a
        // `successor`; its stored ratings keep pointing at it, and reports on the successor
        // include them.
        m.create_table(
            Table::create()
                .table(Agencies::Table)
                .col(id_col(b, Agencies::Id))
                .col(text(Agencies::Code).unique_key().to_owned())
                .col(text(Agencies::Name))
                .col(text_null(Agencies::NameEn))
                .col(fk_col_null(Agencies::ParentId))
                .col(text_null(Agencies::Level))
                .col(ColumnDef::new(Agencies::ValidFrom).date().null())
                .col(ColumnDef::new(Agencies::ValidTo).date().null())
                .col(fk_col_null(Agencies::SuccessorId))
                .col(instant(Agencies::CreatedAt))
                .col(instant(Agencies::UpdatedAt))
                .foreign_key(&mut fk(
                    Agencies::Table,
                    Agencies::ParentId,
                    Agencies::Table,
                ))
                .foreign_key(&mut fk(
                    Agencies::Table,
                    Agencies::SuccessorId,
                    Agencies::Table,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_agencies_parent",
            Agencies::Table,
            &["parent_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Desks::Table)
                .col(id_col(b, Desks::Id))
                .col(fk_col(Desks::AgencyId))
                .col(text(Desks::Code))
                .col(text(Desks::Name))
                .col(boolean(Desks::Active, true))
                .col(instant(Desks::CreatedAt))
                .foreign_key(&mut fk(Desks::Table, Desks::AgencyId, Agencies::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "uq_desks_agency_code",
            Desks::Table,
            &["agency_id", "code"],
            true,
        ))
        .await?;

        // National administrative procedures (mã thủ tục hành chính).
        m.create_table(
            Table::create()
                .table(Services::Table)
                .col(id_col(b, Services::Id))
                .col(text(Services::Code).unique_key().to_owned())
                .col(text(Services::Name))
                .col(instant(Services::CreatedAt))
                .to_owned(),
        )
        .await?;

        // Questionnaires are versioned: a published version is never changed; an edit makes
        // a new version, and links and responses point at the exact version used.
        m.create_table(
            Table::create()
                .table(Questionnaires::Table)
                .col(id_col(b, Questionnaires::Id))
                .col(text(Questionnaires::Key))
                .col(int(Questionnaires::Version))
                .col(text(Questionnaires::NameVi))
                .col(text(Questionnaires::NameEn))
                .col(int(Questionnaires::Scale))
                .col(boolean(Questionnaires::Builtin, false))
                .col(instant(Questionnaires::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "uq_questionnaires_key_version",
            Questionnaires::Table,
            &["key", "version"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Questions::Table)
                .col(id_col(b, Questions::Id))
                .col(fk_col(Questions::QuestionnaireId))
                .col(text(Questions::Key))
                .col(int(Questions::Position))
                .col(text(Questions::Kind))
                .col(boolean(Questions::Required, false))
                .col(text_null(Questions::Element))
                .col(text(Questions::TextVi))
                .col(text(Questions::TextEn))
                // JSON: the answer options with their labels in both languages.
                .col(text(Questions::Options))
                .col(ColumnDef::new(Questions::MaxLength).integer().null())
                .foreign_key(&mut fk(
                    Questions::Table,
                    Questions::QuestionnaireId,
                    Questionnaires::Table,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "uq_questions_questionnaire_key",
            Questions::Table,
            &["questionnaire_id", "key"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(RatingLinks::Table)
                .col(id_col(b, RatingLinks::Id))
                .col(text(RatingLinks::Token).unique_key().to_owned())
                .col(fk_col(RatingLinks::AgencyId))
                .col(fk_col_null(RatingLinks::DeskId))
                .col(fk_col_null(RatingLinks::ServiceId))
                .col(fk_col(RatingLinks::QuestionnaireId))
                .col(boolean(RatingLinks::SingleUse, false))
                .col(text_null(RatingLinks::Reference))
                .col(boolean(RatingLinks::Kiosk, false))
                .col(instant_null(RatingLinks::ExpiresAt))
                .col(instant_null(RatingLinks::UsedAt))
                .col(instant(RatingLinks::CreatedAt))
                .col(text(RatingLinks::CreatedBy))
                .foreign_key(&mut fk(
                    RatingLinks::Table,
                    RatingLinks::AgencyId,
                    Agencies::Table,
                ))
                .foreign_key(&mut fk(
                    RatingLinks::Table,
                    RatingLinks::DeskId,
                    Desks::Table,
                ))
                .foreign_key(&mut fk(
                    RatingLinks::Table,
                    RatingLinks::ServiceId,
                    Services::Table,
                ))
                .foreign_key(&mut fk(
                    RatingLinks::Table,
                    RatingLinks::QuestionnaireId,
                    Questionnaires::Table,
                ))
                .to_owned(),
        )
        .await?;
        // One link per dossier: NULLs (permanent desk links) do not collide.
        m.create_index(index(
            "uq_rating_links_reference",
            RatingLinks::Table,
            &["reference"],
            true,
        ))
        .await?;
        m.create_index(index(
            "idx_rating_links_agency",
            RatingLinks::Table,
            &["agency_id"],
            false,
        ))
        .await?;

        // Responses are immutable. `received_at` is when the server stored it (freezing cuts
        // off by it); `submitted_at` is when the citizen answered (the paper form's date for
        // imports; periods are counted by it). `hash` chains each response to the one before
        // it (see `chain_heads`), so that an edit behind the application's back shows.
        // `client_hash` is a keyed hash of the client address that rotates daily.
        m.create_table(
            Table::create()
                .table(Responses::Table)
                .col(id_col(b, Responses::Id))
                .col(fk_col_null(Responses::LinkId))
                .col(fk_col(Responses::AgencyId))
                .col(fk_col_null(Responses::DeskId))
                .col(fk_col_null(Responses::ServiceId))
                .col(fk_col(Responses::QuestionnaireId))
                .col(text(Responses::Channel))
                .col(instant(Responses::SubmittedAt))
                .col(instant(Responses::ReceivedAt))
                .col(text_null(Responses::Comment))
                .col(text_null(Responses::ClientHash))
                .col(text(Responses::Hash))
                .foreign_key(&mut fk(
                    Responses::Table,
                    Responses::LinkId,
                    RatingLinks::Table,
                ))
                .foreign_key(&mut fk(
                    Responses::Table,
                    Responses::AgencyId,
                    Agencies::Table,
                ))
                .foreign_key(&mut fk(Responses::Table, Responses::DeskId, Desks::Table))
                .foreign_key(&mut fk(
                    Responses::Table,
                    Responses::ServiceId,
                    Services::Table,
                ))
                .foreign_key(&mut fk(
                    Responses::Table,
                    Responses::QuestionnaireId,
                    Questionnaires::Table,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_responses_agency_submitted",
            Responses::Table,
            &["agency_id", "submitted_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_responses_received",
            Responses::Table,
            &["received_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_responses_link",
            Responses::Table,
            &["link_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Answers::Table)
                .col(fk_col(Answers::ResponseId))
                .col(text(Answers::QuestionKey))
                .col(ColumnDef::new(Answers::Value).small_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(Answers::ResponseId)
                        .col(Answers::QuestionKey),
                )
                .foreign_key(&mut fk(
                    Answers::Table,
                    Answers::ResponseId,
                    Responses::Table,
                ))
                .to_owned(),
        )
        .await?;

        // Exclusions are recorded apart from the responses they exclude.
        m.create_table(
            Table::create()
                .table(Exclusions::Table)
                .col(id_col(b, Exclusions::Id))
                .col(fk_col(Exclusions::ResponseId).unique_key().to_owned())
                .col(text(Exclusions::Reason))
                .col(text(Exclusions::ExcludedBy))
                .col(instant(Exclusions::ExcludedAt))
                .foreign_key(&mut fk(
                    Exclusions::Table,
                    Exclusions::ResponseId,
                    Responses::Table,
                ))
                .to_owned(),
        )
        .await?;

        // The head of the response hash chain; writers lock this row, so the chain is
        // one sequence even with several app servers on PostgreSQL.
        m.create_table(
            Table::create()
                .table(ChainHeads::Table)
                .col(
                    ColumnDef::new(ChainHeads::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(big(ChainHeads::LastResponseId))
                .col(text(ChainHeads::LastHash))
                .to_owned(),
        )
        .await?;

        // Roll-ups: counts kept in the same transaction as each response and exclusion.
        // Daily at full detail (desk, questionnaire); monthly per agency for long periods.
        // `desk_id` 0 means "no desk" so that it can be part of the key.
        for (table, period) in [
            (RollupDaily::Table.into_iden(), RollupDaily::Day.into_iden()),
            (
                RollupMonthly::Table.into_iden(),
                RollupMonthly::Month.into_iden(),
            ),
        ] {
            m.create_table(
                Table::create()
                    .table(table.clone())
                    .col(big(Rollup::AgencyId))
                    .col(ColumnDef::new(period.clone()).date().not_null())
                    .col(big(Rollup::DeskId))
                    .col(big(Rollup::QuestionnaireId))
                    .col(text(Rollup::QuestionKey))
                    .col(ColumnDef::new(Rollup::Value).small_integer().not_null())
                    .col(big(Rollup::N))
                    .col(big(Rollup::Excluded))
                    .primary_key(
                        Index::create()
                            .col(Rollup::AgencyId)
                            .col(period)
                            .col(Rollup::DeskId)
                            .col(Rollup::QuestionnaireId)
                            .col(Rollup::QuestionKey)
                            .col(Rollup::Value),
                    )
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id_col(b, Users::Id))
                .col(text(Users::Username).unique_key().to_owned())
                .col(text(Users::PasswordHash))
                .col(text(Users::Role))
                .col(fk_col_null(Users::AgencyId))
                .col(text_null(Users::DisplayName))
                .col(boolean(Users::Active, true))
                .col(int(Users::FailedLogins).default(0).to_owned())
                .col(instant_null(Users::LastFailedAt))
                .col(instant(Users::CreatedAt))
                .foreign_key(&mut fk(Users::Table, Users::AgencyId, Agencies::Table))
                .to_owned(),
        )
        .await?;

        // API keys are stored as the SHA-256 of the key (keys carry 256 random bits, so a
        // slow hash adds nothing); `prefix` identifies a key in lists and logs.
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(id_col(b, ApiKeys::Id))
                .col(text(ApiKeys::Name))
                .col(text(ApiKeys::Prefix))
                .col(text(ApiKeys::KeyHash).unique_key().to_owned())
                .col(text(ApiKeys::Role))
                .col(fk_col_null(ApiKeys::AgencyId))
                .col(instant(ApiKeys::CreatedAt))
                .col(instant_null(ApiKeys::LastUsedAt))
                .col(instant_null(ApiKeys::RevokedAt))
                .foreign_key(&mut fk(ApiKeys::Table, ApiKeys::AgencyId, Agencies::Table))
                .to_owned(),
        )
        .await?;

        // Sessions are looked up by the SHA-256 of the cookie value.
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(text(Sessions::Id).primary_key().to_owned())
                .col(fk_col(Sessions::UserId))
                .col(text(Sessions::CsrfToken))
                .col(instant(Sessions::CreatedAt))
                .col(instant(Sessions::ExpiresAt))
                .foreign_key(&mut fk(Sessions::Table, Sessions::UserId, Users::Table))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(id_col(b, AuditLog::Id))
                .col(instant(AuditLog::At))
                .col(text(AuditLog::Actor))
                .col(text(AuditLog::Action))
                .col(text(AuditLog::Target))
                .col(text_null(AuditLog::Details))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_audit_log_at", AuditLog::Table, &["at"], false))
            .await?;

        // Frozen annual reports. `scope` is the parent agency's code, '' for the top level.
        m.create_table(
            Table::create()
                .table(AnnualReports::Table)
                .col(id_col(b, AnnualReports::Id))
                .col(int(AnnualReports::Year))
                .col(text(AnnualReports::Scope))
                .col(int(AnnualReports::Method))
                .col(text(AnnualReports::Params))
                .col(instant(AnnualReports::Cutoff))
                .col(instant(AnnualReports::FrozenAt))
                .col(text(AnnualReports::FrozenBy))
                .col(text(AnnualReports::Digest))
                .col(text(AnnualReports::Body))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "uq_annual_reports_year_scope",
            AnnualReports::Table,
            &["year", "scope"],
            true,
        ))
        .await?;

        // Band thresholds and the minimum sample, per year; absent means the defaults.
        m.create_table(
            Table::create()
                .table(YearSettings::Table)
                .col(
                    ColumnDef::new(YearSettings::Year)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(YearSettings::Outstanding)
                        .double()
                        .not_null(),
                )
                .col(ColumnDef::new(YearSettings::Good).double().not_null())
                .col(ColumnDef::new(YearSettings::Completed).double().not_null())
                .col(ColumnDef::new(YearSettings::MinResponses).integer().null())
                .col(instant(YearSettings::UpdatedAt))
                .to_owned(),
        )
        .await?;

        // Deployment-wide values such as the secret behind the daily client hash; shared
        // through the database so that every app server agrees.
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(text(Settings::Key).primary_key().to_owned())
                .col(text(Settings::Value))
                .to_owned(),
        )
        .await?;

        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables: Vec<DynIden> = vec![
            Settings::Table.into_iden(),
            YearSettings::Table.into_iden(),
            AnnualReports::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Sessions::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            RollupMonthly::Table.into_iden(),
            RollupDaily::Table.into_iden(),
            ChainHeads::Table.into_iden(),
            Exclusions::Table.into_iden(),
            Answers::Table.into_iden(),
            Responses::Table.into_iden(),
            RatingLinks::Table.into_iden(),
            Questions::Table.into_iden(),
            Questionnaires::Table.into_iden(),
            Services::Table.into_iden(),
            Desks::Table.into_iden(),
            Agencies::Table.into_iden(),
        ];
        for table in tables {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Code,
    Name,
    NameEn,
    ParentId,
    Level,
    ValidFrom,
    ValidTo,
    SuccessorId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Desks {
    Table,
    Id,
    AgencyId,
    Code,
    Name,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Services {
    Table,
    Id,
    Code,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Questionnaires {
    Table,
    Id,
    Key,
    Version,
    NameVi,
    NameEn,
    Scale,
    Builtin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Questions {
    Table,
    Id,
    QuestionnaireId,
    Key,
    Position,
    Kind,
    Required,
    Element,
    TextVi,
    TextEn,
    Options,
    MaxLength,
}

#[derive(DeriveIden)]
enum RatingLinks {
    Table,
    Id,
    Token,
    AgencyId,
    DeskId,
    ServiceId,
    QuestionnaireId,
    SingleUse,
    Reference,
    Kiosk,
    ExpiresAt,
    UsedAt,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Responses {
    Table,
    Id,
    LinkId,
    AgencyId,
    DeskId,
    ServiceId,
    QuestionnaireId,
    Channel,
    SubmittedAt,
    ReceivedAt,
    Comment,
    ClientHash,
    Hash,
}

#[derive(DeriveIden)]
enum Answers {
    Table,
    ResponseId,
    QuestionKey,
    Value,
}

#[derive(DeriveIden)]
enum Exclusions {
    Table,
    Id,
    ResponseId,
    Reason,
    ExcludedBy,
    ExcludedAt,
}

#[derive(DeriveIden)]
enum ChainHeads {
    Table,
    Id,
    LastResponseId,
    LastHash,
}

#[derive(DeriveIden)]
enum RollupDaily {
    Table,
    Day,
}

#[derive(DeriveIden)]
enum RollupMonthly {
    Table,
    Month,
}

#[derive(DeriveIden)]
enum Rollup {
    AgencyId,
    DeskId,
    QuestionnaireId,
    QuestionKey,
    Value,
    N,
    Excluded,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    AgencyId,
    DisplayName,
    Active,
    FailedLogins,
    LastFailedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    Role,
    AgencyId,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    Target,
    Details,
}

#[derive(DeriveIden)]
enum AnnualReports {
    Table,
    Id,
    Year,
    Scope,
    Method,
    Params,
    Cutoff,
    FrozenAt,
    FrozenBy,
    Digest,
    Body,
}

#[derive(DeriveIden)]
enum YearSettings {
    Table,
    Year,
    Outstanding,
    Good,
    Completed,
    MinResponses,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}
