//! Agencies: listing, reading, creating and renaming them (administrators; managers read
//! their own subtree).

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::agency;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rename, agency_by_code};
use crate::app::Context;
use crate::db::unless_duplicate;
use crate::domain::{AgencyCode, Code, Name, Role};
use crate::error::{Error, Result};
use crate::govern::audit;

/// An agency as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgencyDto {
    pub code: String,
    pub name: String,
    /// The parent's code; `null` at the top of the tree.
    pub parent: Option<String>,
    pub level: Option<String>,
}

/// An agency in the tree of a day (`GET /api/v1/agencies`): its fields of that day and
/// the days it exists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ListedAgency {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: Option<String>,
    /// The first day it existed (`null`: since before the records).
    pub valid_from: Option<NaiveDate>,
    /// Its last day (`null`: it still exists).
    pub valid_to: Option<NaiveDate>,
}

/// The body of `POST /api/v1/agencies`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgency {
    pub code: String,
    pub name: String,
    /// The parent's code, or `null` for a top-level agency.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
}

/// The agencies of `day` (today when `None`) that the caller may see, with their names
/// and parents of that day, ordered by code.
pub async fn list_agencies(cx: &Context<'_>, day: Option<NaiveDate>) -> Result<Vec<ListedAgency>> {
    let by = cx.by;
    let agencies = cx.agencies_on(day.unwrap_or_else(|| cx.today())).await?;
    // Scope is judged on today's tree, where a manager's own agency stands.
    let today = cx.agencies().await?;
    let codes: HashMap<i64, String> = agencies
        .all
        .iter()
        .map(|a| (a.id, a.code.clone()))
        .collect();
    Ok(agencies
        .all
        .iter()
        .filter(|a| agencies.exists(a.id) && by.covers(&today.tree, a.id))
        .map(|a| {
            let dto = to_dto(a.clone(), &codes);
            ListedAgency {
                code: dto.code,
                name: dto.name,
                parent: dto.parent,
                level: dto.level,
                valid_from: a.valid_from,
                valid_to: a.valid_to,
            }
        })
        .collect())
}
pub async fn get_agency(cx: &Context<'_>, code: &AgencyCode) -> Result<AgencyDto> {
    let (found, agencies) = cx.in_scope(code).await?;
    let codes = agencies
        .get_parent(&found)
        .map(|p| HashMap::from([(p.id, p.code.clone())]))
        .unwrap_or_default();
    Ok(to_dto(found, &codes))
}
pub async fn create_agency(cx: &Context<'_>, input: NewAgency) -> Result<AgencyDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let code = Code::parse(&input.code).map_err(|e| Error::invalid("code", e))?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let level = input
        .level
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .map(Name::parse)
        .transpose()
        .map_err(|e| Error::invalid("level", e))?;

    let txn = db.begin_write().await?;
    if agency::Entity::find()
        .filter(agency::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(duplicate_agency(&code));
    }
    let parent = match input.parent.as_deref() {
        None => None,
        Some(p) => Some(
            agency::Entity::find()
                .filter(agency::Column::Code.eq(p))
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    Error::unprocessable("unknown_parent", format!("no agency has the code {p}"))
                        .with_field("parent")
                })?,
        ),
    };
    let stored = insert_agency(
        &txn,
        code.as_str(),
        name.as_str(),
        parent.as_ref().map(|p| p.id),
        level.map(Name::into_string),
        None,
    )
    .await
    .map_err(|e| unless_duplicate(e, || duplicate_agency(&code)))?;
    let codes = parent
        .map(|p| HashMap::from([(p.id, p.code)]))
        .unwrap_or_default();
    let dto = to_dto(stored, &codes);
    audit::commit(
        txn,
        &by.actor,
        "agency.create",
        &format!("agency:{}", dto.code),
        json!(dto),
    )
    .await?;
    Ok(dto)
}
/// Inserts an agency that begins on `valid_from` (`None`: since before the records), with
/// its first version of name and parent.
pub(super) async fn insert_agency(
    conn: &impl ConnectionTrait,
    code: &str,
    name: &str,
    parent: Option<i64>,
    level: Option<String>,
    valid_from: Option<NaiveDate>,
) -> std::result::Result<agency::Model, sea_orm::DbErr> {
    let now = crate::now();
    let stored = agency::ActiveModel {
        code: Set(code.to_string()),
        name: Set(name.to_string()),
        parent_id: Set(parent),
        level: Set(level),
        valid_from: Set(valid_from),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    super::reorganise::record_version(conn, &stored, valid_from).await?;
    Ok(stored)
}

/// Renames agency `code` from today (administrators only). Its code, history and ratings
/// stay; its earlier names are kept.
pub async fn rename_agency(
    cx: &Context<'_>,
    code: &AgencyCode,
    input: Rename,
) -> Result<AgencyDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let found = agency_by_code(&txn, code.as_str()).await?;
    if found.valid_to.is_some_and(|t| t < cx.today()) {
        return Err(Error::unprocessable(
            "agency_ended",
            format!("{code} no longer exists"),
        ));
    }
    let old = found.name.clone();
    let mut model: agency::ActiveModel = found.into();
    model.name = Set(name.into_string());
    model.updated_at = Set(crate::now());
    let stored = model.update(&txn).await?;
    super::reorganise::record_version(&txn, &stored, Some(cx.today())).await?;
    let codes = match stored.parent_id {
        Some(p) => agency::Entity::find_by_id(p)
            .one(&txn)
            .await?
            .map(|p| HashMap::from([(p.id, p.code)]))
            .unwrap_or_default(),
        None => HashMap::new(),
    };
    let dto = to_dto(stored, &codes);
    audit::commit(
        txn,
        &by.actor,
        "agency.rename",
        &format!("agency:{}", dto.code),
        json!({"from": old, "to": dto.name}),
    )
    .await?;
    Ok(dto)
}
fn to_dto(a: agency::Model, codes: &HashMap<i64, String>) -> AgencyDto {
    AgencyDto {
        parent: a.parent_id.and_then(|p| codes.get(&p).cloned()),
        code: a.code,
        name: a.name,
        level: a.level,
    }
}
fn duplicate_agency(code: &Code) -> Error {
    Error::conflict(
        "agency_exists",
        format!("an agency with the code {code} already exists"),
    )
    .with_field("code")
}
