//! The desks of each agency: listing, creating and renaming them.

use entity::{agency, desk};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Rename, agency_by_code};
use crate::app::Context;
use crate::db::unless_duplicate;
use crate::domain::{AgencyCode, Code, Name, Role};
use crate::error::{Error, Result};
use crate::govern::audit;

/// A desk as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DeskDto {
    pub code: String,
    pub name: String,
    /// The code of the desk's agency.
    pub agency: String,
}

impl DeskDto {
    fn of(desk: desk::Model, owner: &agency::Model) -> Self {
        Self {
            code: desk.code,
            name: desk.name,
            agency: owner.code.clone(),
        }
    }
}

/// The body of `POST /api/v1/agencies/{code}/desks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDesk {
    pub code: String,
    pub name: String,
}

pub async fn list_desks(cx: &Context<'_>, agency_code: &AgencyCode) -> Result<Vec<DeskDto>> {
    let db = cx.db;
    let (found, agencies) = cx.in_scope(agency_code).await?;
    // Desks move with their agency: a successor's desks include its predecessors'.
    Ok(desk::Entity::find()
        .filter(desk::Column::AgencyId.is_in(agencies.tree.with_carried(found.id)))
        .order_by_asc(desk::Column::Code)
        .all(&db.read)
        .await?
        .into_iter()
        .map(|d| {
            let owner = agencies.get(d.agency_id).unwrap_or(&found);
            DeskDto::of(d, owner)
        })
        .collect())
}
pub async fn create_desk(
    cx: &Context<'_>,
    agency_code: &AgencyCode,
    input: NewDesk,
) -> Result<DeskDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let code = Code::parse(&input.code).map_err(|e| Error::invalid("code", e))?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let owner = agency_by_code(&txn, agency_code.as_str()).await?;
    let exists = desk::Entity::find()
        .filter(desk::Column::AgencyId.eq(owner.id))
        .filter(desk::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?
        .is_some();
    if exists {
        return Err(duplicate_desk(&owner.code, &code));
    }
    let stored = desk::ActiveModel {
        agency_id: Set(owner.id),
        code: Set(code.as_str().to_string()),
        name: Set(name.into_string()),
        active: Set(true),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| unless_duplicate(e, || duplicate_desk(&owner.code, &code)))?;
    let dto = DeskDto::of(stored, &owner);
    audit::commit(
        txn,
        &by.actor,
        "desk.create",
        &format!("desk:{}/{}", dto.agency, dto.code),
        json!(dto),
    )
    .await?;
    Ok(dto)
}
/// Desk `desk_code` of agency `agency_code`, or 404 `desk_not_found`.
pub async fn desk_by_code(
    conn: &impl ConnectionTrait,
    owner: &agency::Model,
    desk_code: &str,
) -> Result<desk::Model> {
    desk::Entity::find()
        .filter(desk::Column::AgencyId.eq(owner.id))
        .filter(desk::Column::Code.eq(desk_code))
        .one(conn)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "desk_not_found",
                format!("{} has no desk {desk_code}", owner.code),
            )
        })
}
/// Renames a desk (administrators only).
pub async fn rename_desk(
    cx: &Context<'_>,
    agency_code: &AgencyCode,
    desk_code: &str,
    input: Rename,
) -> Result<DeskDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let owner = agency_by_code(&txn, agency_code.as_str()).await?;
    let found = desk_by_code(&txn, &owner, desk_code).await?;
    let old = found.name.clone();
    let mut model: desk::ActiveModel = found.into();
    model.name = Set(name.into_string());
    let stored = model.update(&txn).await?;
    let dto = DeskDto::of(stored, &owner);
    audit::commit(
        txn,
        &by.actor,
        "desk.rename",
        &format!("desk:{}/{}", dto.agency, dto.code),
        json!({"from": old, "to": dto.name}),
    )
    .await?;
    Ok(dto)
}
fn duplicate_desk(agency: &str, code: &Code) -> Error {
    Error::conflict(
        "desk_exists",
        format!("the agency {agency} already has a desk with the code {code}"),
    )
    .with_field("code")
}
