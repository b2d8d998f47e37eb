//! Agencies: listing, reading, creating and renaming them (administrators; managers read
//! their own subtree).

use std::collections::HashMap;

use entity::agency;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rename, Tree, agency_by_code, agency_in_scope};
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

/// The agencies the caller may see, ordered by code.
pub async fn list_agencies(cx: &Context<'_>) -> Result<Vec<AgencyDto>> {
    let Context { db, by, .. } = *cx;
    let all = agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(&db.read)
        .await?;
    let tree = Tree::from_edges(all.iter().map(|a| (a.id, a.parent_id)));
    let codes: HashMap<i64, String> = all.iter().map(|a| (a.id, a.code.clone())).collect();
    Ok(all
        .into_iter()
        .filter(|a| by.covers(&tree, a.id))
        .map(|a| to_dto(a, &codes))
        .collect())
}
pub async fn get_agency(cx: &Context<'_>, code: &AgencyCode) -> Result<AgencyDto> {
    let Context { db, by, .. } = *cx;
    let (found, _) = agency_in_scope(&db.read, by, code.as_str()).await?;
    let parent = parent_code(&db.read, found.parent_id).await?;
    Ok(AgencyDto {
        code: found.code,
        name: found.name,
        parent,
        level: found.level,
    })
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
    let now = crate::now();
    let stored = agency::ActiveModel {
        code: Set(code.as_str().to_string()),
        name: Set(name.into_string()),
        parent_id: Set(parent.as_ref().map(|p| p.id)),
        level: Set(level.map(Name::into_string)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| unless_duplicate(e, || duplicate_agency(&code)))?;
    let dto = AgencyDto {
        code: stored.code,
        name: stored.name,
        parent: parent.map(|p| p.code),
        level: stored.level,
    };
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
/// Renames agency `code` (administrators only). Its code, history and ratings stay.
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
    let old = found.name.clone();
    let mut model: agency::ActiveModel = found.into();
    model.name = Set(name.into_string());
    model.updated_at = Set(crate::now());
    let stored = model.update(&txn).await?;
    let dto = AgencyDto {
        parent: parent_code(&txn, stored.parent_id).await?,
        code: stored.code,
        name: stored.name,
        level: stored.level,
    };
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
async fn parent_code(conn: &impl ConnectionTrait, parent: Option<i64>) -> Result<Option<String>> {
    Ok(match parent {
        Some(id) => agency::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|p| p.code),
        None => None,
    })
}
fn duplicate_agency(code: &Code) -> Error {
    Error::conflict(
        "agency_exists",
        format!("an agency with the code {code} already exists"),
    )
    .with_field("code")
}
