//! The organisation: the agency tree and the desks of each agency. These services are the
//! only writers of agencies and desks; the API and the admin pages both call them, and
//! they check the caller's role and scope themselves.

mod agencies;
mod desks;
pub mod history;
pub mod reorganise;

pub use agencies::*;
pub use desks::*;
pub use history::{Carriers, History, Successions, ended_before, exists_on};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use entity::{agency, desk};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use crate::domain::AgencyCode;
use crate::error::{Error, Result};
use crate::govern::Principal;

/// The shape of the agency tree of one day: enough to answer scope questions and to list
/// subtrees. Besides its children, an agency *carries* the agencies that ended by that day
/// and whose ratings it now counts (its predecessors through merges, and what closed
/// under it): [`Tree::subtree`] includes them, [`Tree::children`] does not.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    parent: HashMap<i64, Option<i64>>,
    children: HashMap<i64, Vec<i64>>,
    carried: HashMap<i64, Vec<i64>>,
    roots: Vec<i64>,
}

impl Tree {
    pub fn from_edges(edges: impl IntoIterator<Item = (i64, Option<i64>)>) -> Self {
        let mut tree = Self::default();
        for (id, parent) in edges {
            tree.parent.insert(id, parent);
            match parent {
                Some(p) => tree.children.entry(p).or_default().push(id),
                None => tree.roots.push(id),
            }
        }
        tree
    }

    /// Records that `carrier` carries the ended agency `id`.
    pub fn carry(&mut self, id: i64, carrier: i64) {
        self.parent.insert(id, Some(carrier));
        self.carried.entry(carrier).or_default().push(id);
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

    /// `root` and all its descendants, and the agencies they carry, parents before
    /// children.
    pub fn subtree(&self, root: i64) -> Vec<i64> {
        let mut out = vec![root];
        let mut seen = std::collections::HashSet::from([root]);
        let mut i = 0;
        while i < out.len() {
            let below = self.children(out[i]).iter().chain(self.carried_by(out[i]));
            for &child in below {
                if seen.insert(child) {
                    out.push(child);
                }
            }
            i += 1;
        }
        out
    }

    /// The agencies of that day directly under `id`.
    pub fn children(&self, id: i64) -> &[i64] {
        self.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The ended agencies that `id` carries directly.
    pub fn carried_by(&self, id: i64) -> &[i64] {
        self.carried.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `id` and the ended agencies it carries, through every merge or closure (not its
    /// children): whose desks and links are its own that day.
    pub fn with_carried(&self, id: i64) -> Vec<i64> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() && i <= self.parent.len() {
            out.extend_from_slice(self.carried_by(out[i]));
            i += 1;
        }
        out
    }

    /// The agencies of that day at the top of the tree.
    pub fn roots(&self) -> &[i64] {
        &self.roots
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

/// Every agency, in code order, as it stood on one day, and the tree of that day: read
/// once per request through [`crate::app::Context::agencies`] (today) or
/// [`crate::app::Context::agencies_on`].
pub struct Agencies {
    /// Every agency ever, with its name and parent of that day (of its last day for one
    /// that had ended, of its first for one not yet begun).
    pub all: Vec<agency::Model>,
    pub tree: Tree,
    /// The day the names and the tree are of.
    pub day: NaiveDate,
    by_code: HashMap<String, usize>,
    by_id: HashMap<i64, usize>,
}

impl Agencies {
    /// The agencies and the tree of `day`.
    pub async fn load(conn: &impl ConnectionTrait, day: NaiveDate) -> Result<Self> {
        Ok(History::load(conn).await?.on(day))
    }

    pub(crate) fn with_tree(all: Vec<agency::Model>, tree: Tree, day: NaiveDate) -> Self {
        let by_code = all
            .iter()
            .enumerate()
            .map(|(i, a)| (a.code.clone(), i))
            .collect();
        let by_id = all.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        Self {
            all,
            tree,
            day,
            by_code,
            by_id,
        }
    }

    /// The parent of `a` on the day.
    pub fn get_parent(&self, a: &agency::Model) -> Option<&agency::Model> {
        a.parent_id.and_then(|p| self.get(p))
    }

    /// The agencies of the day, parents before children, depth first, with their depth.
    pub fn depth_first(&self) -> Vec<(i64, usize)> {
        let mut order = Vec::with_capacity(self.all.len());
        let mut stack: Vec<(i64, usize)> =
            self.tree.roots().iter().rev().map(|&r| (r, 0)).collect();
        while let Some((id, depth)) = stack.pop() {
            order.push((id, depth));
            for child in self.tree.children(id).iter().rev() {
                stack.push((*child, depth + 1));
            }
        }
        order
    }

    /// Whether agency `id` existed on the day.
    pub fn exists(&self, id: i64) -> bool {
        self.get(id).is_some_and(|a| exists_on(a, self.day))
    }

    /// The codes of the agencies of other days (ended by then, or not yet begun) whose
    /// ratings the subtree of `id` counts on the day, in code order (a report's
    /// `restated_from`).
    pub fn restated_from(&self, id: i64) -> Vec<String> {
        let mut codes: Vec<String> = self
            .tree
            .subtree(id)
            .into_iter()
            .filter_map(|u| self.get(u))
            .filter(|a| !exists_on(a, self.day))
            .map(|a| a.code.clone())
            .collect();
        codes.sort();
        codes
    }

    pub fn get(&self, id: i64) -> Option<&agency::Model> {
        self.by_id.get(&id).and_then(|&i| self.all.get(i))
    }

    /// The agency with `code`, or 404.
    pub fn by_code(&self, code: &str) -> Result<&agency::Model> {
        self.by_code
            .get(code)
            .and_then(|&i| self.all.get(i))
            .ok_or_else(|| no_agency(code))
    }

    /// The agency with `code` if `by`'s scope covers it: 404 when there is none, 403 when
    /// it lies outside the scope.
    pub fn in_scope(&self, by: &Principal, code: &str) -> Result<&agency::Model> {
        let found = self.by_code(code)?;
        by.require_scope(&self.tree, found.id)?;
        Ok(found)
    }
}

fn no_agency(code: &str) -> Error {
    Error::not_found("agency_not_found", format!("no agency has the code {code}"))
}

/// An agency's code as a caller asked for it: one that cannot be a code names no agency
/// (404 `agency_not_found`, as an unknown code).
pub fn code_of(raw: &str) -> Result<AgencyCode> {
    AgencyCode::parse(raw).map_err(|_| no_agency(raw))
}

/// The same for an optional code (a ranking's parent, a listing's agency).
pub fn code_of_opt(raw: Option<&str>) -> Result<Option<AgencyCode>> {
    raw.map(code_of).transpose()
}

/// The agency with `code`, or 404.
pub async fn agency_by_code(conn: &impl ConnectionTrait, code: &str) -> Result<agency::Model> {
    agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(conn)
        .await?
        .ok_or_else(|| no_agency(code))
}

/// The name of agency `id` (empty when there is none).
pub async fn agency_name(conn: &impl ConnectionTrait, id: i64) -> Result<String> {
    Ok(agency::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|a| a.name)
        .unwrap_or_default())
}

/// A new name for an agency or a desk.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub name: String,
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
