//! Dossier counts from the province's case-handling system: how many dossiers each agency
//! received and resolved each day, for Decision 766's third ratio (API.md, "Closing the
//! loop"). A day's counts replace what was there.

use chrono::NaiveDate;
use entity::dossier;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::app::Context;
use crate::domain::{Invalid, Role, csv_rows, period::parse_date};
use crate::error::{Error, Result};
use crate::govern::audit;

/// The body of `PUT /api/v1/dossiers/{agency}/{date}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub received: serde_json::Value,
    pub resolved: serde_json::Value,
}

/// A day's counts as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayCounts {
    pub agency: String,
    pub date: NaiveDate,
    pub received: u64,
    pub resolved: u64,
}

/// The most rows one CSV may hold.
pub const MAX_ROWS: usize = 100_000;

fn count(v: &serde_json::Value, field: &str) -> Result<u64> {
    v.as_u64().ok_or_else(|| {
        Error::invalid(
            field,
            Invalid::new("invalid_count", "a count is a whole number, 0 or more"),
        )
    })
}

/// One row, checked: the agency within the caller's scope, a day not after today, whole
/// counts of 0 or more.
fn check(
    cx: &Context<'_>,
    agencies: &crate::org::Agencies,
    agency: &str,
    date: &str,
    received: &serde_json::Value,
    resolved: &serde_json::Value,
) -> Result<(i64, DayCounts)> {
    let found = agencies.by_code(agency).map_err(|_| {
        Error::unprocessable("unknown_agency", format!("no agency has the code {agency}"))
            .with_field("agency")
    })?;
    cx.by.require_scope(&agencies.tree, found.id)?;
    let day = parse_date(date).map_err(|e| Error::invalid("date", e))?;
    if day > cx.today() {
        return Err(Error::invalid(
            "date",
            Invalid::new(
                "future_date",
                "counts are for a day that has passed or today",
            ),
        ));
    }
    Ok((
        found.id,
        DayCounts {
            agency: found.code.clone(),
            date: day,
            received: count(received, "received")?,
            resolved: count(resolved, "resolved")?,
        },
    ))
}

async fn store(cx: &Context<'_>, rows: &[(i64, DayCounts)]) -> Result<()> {
    let Context { db, by, .. } = *cx;
    let txn = db.begin_write().await?;
    let now = crate::now();
    for chunk in rows.chunks(2000) {
        dossier::Entity::insert_many(chunk.iter().map(|(id, c)| dossier::ActiveModel {
            agency_id: sea_orm::Set(*id),
            day: sea_orm::Set(c.date),
            received: sea_orm::Set(i64::try_from(c.received).unwrap_or(i64::MAX)),
            resolved: sea_orm::Set(i64::try_from(c.resolved).unwrap_or(i64::MAX)),
            updated_at: sea_orm::Set(now),
        }))
        .on_conflict(
            OnConflict::columns([dossier::Column::AgencyId, dossier::Column::Day])
                .update_columns([
                    dossier::Column::Received,
                    dossier::Column::Resolved,
                    dossier::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    audit::commit(
        txn,
        &by.actor,
        "dossiers.set",
        "dossiers",
        serde_json::json!({"rows": rows.len()}),
    )
    .await?;
    Ok(())
}

/// `PUT /api/v1/dossiers/{agency}/{date}` (administrators; integrators within scope).
pub async fn put(cx: &Context<'_>, agency: &str, date: &str, input: Counts) -> Result<DayCounts> {
    cx.by.require_role(&[Role::Admin, Role::Integrator])?;
    let agencies = cx.agencies().await?;
    let row = check(
        cx,
        &agencies,
        agency,
        date,
        &input.received,
        &input.resolved,
    )?;
    store(cx, std::slice::from_ref(&row)).await?;
    Ok(row.1)
}

/// `POST /api/v1/dossiers` with `agency,date,received,resolved`: all or nothing; a bad
/// row is named in `row` (1-based, data rows only).
pub async fn import_csv(cx: &Context<'_>, bytes: &[u8]) -> Result<u64> {
    cx.by.require_role(&[Role::Admin, Role::Integrator])?;
    let agencies = cx.agencies().await?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_rows::without_bom(bytes));
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| {
            Error::unprocessable("invalid_csv", "the first line is not a CSV header").with_row(0)
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header != ["agency", "date", "received", "resolved"] {
        return Err(Error::unprocessable(
            "invalid_csv",
            "the header must be agency,date,received,resolved",
        )
        .with_row(0));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i as u64 + 1;
        if rows.len() == MAX_ROWS {
            return Err(Error::unprocessable(
                "too_many_rows",
                format!("at most {MAX_ROWS} rows at once"),
            ));
        }
        let record = record.map_err(|e| {
            Error::unprocessable("invalid_csv", csv_rows::problem(&e, 4)).with_row(number)
        })?;
        let cell = |n: usize| record.get(n).unwrap_or("").trim();
        let number_of = |s: &str| {
            s.parse::<u64>()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::Null)
        };
        let row = check(
            cx,
            &agencies,
            cell(0),
            cell(1),
            &number_of(cell(2)),
            &number_of(cell(3)),
        )
        .map_err(|e| e.with_row(number))?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::unprocessable("no_rows", "there are no rows"));
    }
    store(cx, &rows).await?;
    Ok(rows.len() as u64)
}

/// Dossiers resolved by each of `agencies` that reported any over `from..=to`.
pub async fn resolved_by_agency(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<std::collections::HashMap<i64, u64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in agencies.chunks(5000) {
        let rows: Vec<(i64, Option<i64>)> = dossier::Entity::find()
            .select_only()
            .column(dossier::Column::AgencyId)
            .column_as(
                SimpleExpr::from(Expr::col(dossier::Column::Resolved).sum()).cast_as("BIGINT"),
                "s",
            )
            .filter(dossier::Column::AgencyId.is_in(chunk.iter().copied()))
            .filter(dossier::Column::Day.between(from, to))
            .group_by(dossier::Column::AgencyId)
            .into_tuple()
            .all(conn)
            .await?;
        for (id, sum) in rows {
            out.insert(id, u64::try_from(sum.unwrap_or(0)).unwrap_or(0));
        }
    }
    Ok(out)
}

/// Dossiers resolved by `agencies` over `from..=to`, and whether any day was reported.
pub async fn resolved(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<u64>> {
    let mut total: Option<u64> = None;
    for chunk in agencies.chunks(5000) {
        let row: Option<(Option<i64>, i64)> = dossier::Entity::find()
            .select_only()
            .column_as(
                SimpleExpr::from(Expr::col(dossier::Column::Resolved).sum()).cast_as("BIGINT"),
                "s",
            )
            .column_as(
                SimpleExpr::from(Expr::col(dossier::Column::Day).count()).cast_as("BIGINT"),
                "n",
            )
            .filter(dossier::Column::AgencyId.is_in(chunk.iter().copied()))
            .filter(dossier::Column::Day.between(from, to))
            .into_tuple()
            .one(conn)
            .await?;
        if let Some((sum, n)) = row
            && n > 0
        {
            let add = u64::try_from(sum.unwrap_or(0)).unwrap_or(0);
            total = Some(total.unwrap_or(0) + add);
        }
    }
    Ok(total)
}
