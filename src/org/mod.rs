//! The organisation: the agency tree and the desks of each agency. These services are the
//! only writers of agencies and desks; the API and the admin pages both call them, and
//! they check the caller's role and scope themselves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use entity::{agency, desk};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::Context;
use crate::db::unless_duplicate;
use crate::domain::{Code, Name, Role};
use crate::error::{Error, Result};
use crate::govern::{Principal, audit};

/// The shape of the agency tree: enough to answer scope questions and to list subtrees.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    parent: HashMap<i64, Option<i64>>,
    children: HashMap<i64, Vec<i64>>,
}

impl Tree {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        let rows: Vec<(i64, Option<i64>)> = agency::Entity::find()
            .select_only()
            .column(agency::Column::Id)
            .column(agency::Column::ParentId)
            .order_by_asc(agency::Column::Code)
            .into_tuple()
            .all(conn)
            .await?;
        Ok(Self::from_edges(rows))
    }

    pub fn from_edges(edges: impl IntoIterator<Item = (i64, Option<i64>)>) -> Self {
        let mut tree = Self::default();
        for (id, parent) in edges {
            tree.parent.insert(id, parent);
            if let Some(p) = parent {
                tree.children.entry(p).or_default().push(id);
            }
        }
        tree
    }

    /// Whether `id` is `root` or one of its descendants.
    pub fn is_within(&self, id: i64, root: i64) -> bool {
        let mut current = Some(id);
        // The depth bound guards against a cycle written behind the application's back.
        for _ in 0..=self.parent.len() {
            match current {
                Some(c) if c == root => return true,
                Some(c) => current = self.parent.get(&c).copied().flatten(),
                None => return false,
            }
        }
        false
    }

    /// `root` and all its descendants, parents before children.
    pub fn subtree(&self, root: i64) -> Vec<i64> {
        let mut out = vec![root];
        let mut seen = std::collections::HashSet::from([root]);
        let mut i = 0;
        while i < out.len() {
            for &child in self.children(out[i]) {
                if seen.insert(child) {
                    out.push(child);
                }
            }
            i += 1;
        }
        out
    }

    pub fn children(&self, id: i64) -> &[i64] {
        self.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The display names of agencies and desks, cached for the citizen pages (which show them
/// on every view). Entries live for [`Places::TTL`], so a rename shows within a minute.
#[derive(Clone, Default)]
pub struct Places(Arc<RwLock<PlaceMap>>);

type PlaceMap = HashMap<(i64, Option<i64>), (Instant, PlaceNames)>;

/// An agency's name and, when there is one, its desk's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceNames {
    pub agency: String,
    pub desk: Option<String>,
}

impl Places {
    pub const TTL: Duration = Duration::from_secs(60);

    pub async fn get(
        &self,
        conn: &impl ConnectionTrait,
        agency_id: i64,
        desk_id: Option<i64>,
    ) -> Result<PlaceNames> {
        let key = (agency_id, desk_id);
        let fresh = self.0.read().ok().and_then(|m| {
            m.get(&key)
                .filter(|(at, _)| at.elapsed() < Self::TTL)
                .map(|(_, names)| names.clone())
        });
        if let Some(names) = fresh {
            return Ok(names);
        }
        let agency = agency_name(conn, agency_id).await?;
        let desk = match desk_id {
            Some(id) => desk::Entity::find_by_id(id)
                .one(conn)
                .await?
                .map(|d| d.name),
            None => None,
        };
        let names = PlaceNames { agency, desk };
        if let Ok(mut map) = self.0.write() {
            // Bounded: a province has a few thousand desks at most.
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key, (Instant::now(), names.clone()));
        }
        Ok(names)
    }
}

/// An agency as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgencyDto {
    pub code: String,
    pub name: String,
    /// The parent's code; `null` at the top of the tree.
    pub parent: Option<String>,
    pub level: Option<String>,
}

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

/// The body of `POST /api/v1/agencies/{code}/desks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDesk {
    pub code: String,
    pub name: String,
}

/// The agency with `code`, or 404.
pub async fn agency_by_code(conn: &impl ConnectionTrait, code: &str) -> Result<agency::Model> {
    agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(conn)
        .await?
        .ok_or_else(|| {
            Error::not_found("agency_not_found", format!("no agency has the code {code}"))
        })
}

/// The name of agency `id` (empty when there is none).
pub async fn agency_name(conn: &impl ConnectionTrait, id: i64) -> Result<String> {
    Ok(agency::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|a| a.name)
        .unwrap_or_default())
}

/// The agency with `code` if the caller's scope covers it: 404 when there is none, 403
/// when it lies outside the scope.
pub async fn agency_in_scope(
    conn: &impl ConnectionTrait,
    by: &Principal,
    code: &str,
) -> Result<(agency::Model, Tree)> {
    let found = agency_by_code(conn, code).await?;
    let tree = Tree::load(conn).await?;
    by.require_scope(&tree, found.id)?;
    Ok((found, tree))
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

pub async fn get_agency(cx: &Context<'_>, code: &str) -> Result<AgencyDto> {
    let Context { db, by, .. } = *cx;
    let (found, _) = agency_in_scope(&db.read, by, code).await?;
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

pub async fn list_desks(cx: &Context<'_>, agency_code: &str) -> Result<Vec<DeskDto>> {
    let Context { db, by, .. } = *cx;
    let (found, _) = agency_in_scope(&db.read, by, agency_code).await?;
    Ok(desk::Entity::find()
        .filter(desk::Column::AgencyId.eq(found.id))
        .order_by_asc(desk::Column::Code)
        .all(&db.read)
        .await?
        .into_iter()
        .map(|d| DeskDto::of(d, &found))
        .collect())
}

pub async fn create_desk(cx: &Context<'_>, agency_code: &str, input: NewDesk) -> Result<DeskDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let code = Code::parse(&input.code).map_err(|e| Error::invalid("code", e))?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let owner = agency_by_code(&txn, agency_code).await?;
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

/// A new name for an agency or a desk.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub name: String,
}

/// Renames agency `code` (administrators only). Its code, history and ratings stay.
pub async fn rename_agency(cx: &Context<'_>, code: &str, input: Rename) -> Result<AgencyDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let found = agency_by_code(&txn, code).await?;
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
    agency_code: &str,
    desk_code: &str,
    input: Rename,
) -> Result<DeskDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let name = Name::parse(&input.name).map_err(|e| Error::invalid("name", e))?;
    let txn = db.begin_write().await?;
    let owner = agency_by_code(&txn, agency_code).await?;
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

fn duplicate_desk(agency: &str, code: &Code) -> Error {
    Error::conflict(
        "desk_exists",
        format!("the agency {agency} already has a desk with the code {code}"),
    )
    .with_field("code")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        // 1 ─┬─ 2 ── 4
        //    └─ 3
        // 5
        Tree::from_edges([
            (1, None),
            (2, Some(1)),
            (3, Some(1)),
            (4, Some(2)),
            (5, None),
        ])
    }

    #[test]
    fn scope_is_the_subtree() {
        let t = tree();
        assert!(t.is_within(4, 1));
        assert!(t.is_within(4, 2));
        assert!(t.is_within(2, 2));
        assert!(!t.is_within(3, 2));
        assert!(!t.is_within(1, 2));
        assert!(!t.is_within(5, 1));
        assert!(!t.is_within(99, 1));
        assert_eq!(t.subtree(1), vec![1, 2, 3, 4]);
        assert_eq!(t.subtree(5), vec![5]);
        assert_eq!(t.children(1), &[2, 3]);
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let t = Tree::from_edges([(1, Some(2)), (2, Some(1))]);
        assert!(!t.is_within(1, 3));
        assert_eq!(t.subtree(1), vec![1, 2]);
    }
}
