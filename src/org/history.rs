//! The agency tree through time (API.md, "Reorganisation"). Every agency keeps the days it
//! existed (`valid_from`, `valid_to`) and the agency it merged into; its names and parents
//! are kept with the day each took effect (`agency_versions`). [`History::on`] reads the
//! tree of one day, and with it who *carries* the ratings of each agency that had ended by
//! then: itself while it exists, else its successor through every merge, else (closed
//! without one) whatever carries its parent on its last day. Restating is a way of
//! reading: stored ratings keep the agency they were recorded under.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use entity::{agency, agency_version};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use super::{Agencies, Tree};
use crate::error::Result;

/// Every agency and every version of its name and parent.
pub struct History {
    pub agencies: Vec<agency::Model>,
    versions: HashMap<i64, Vec<agency_version::Model>>,
}

/// Whether `a` existed on `day`.
pub fn exists_on(a: &agency::Model, day: NaiveDate) -> bool {
    a.valid_from.is_none_or(|f| f <= day) && a.valid_to.is_none_or(|t| day <= t)
}

/// Whether `a` had ended before `day`.
pub fn ended_before(a: &agency::Model, day: NaiveDate) -> bool {
    a.valid_to.is_some_and(|t| t < day)
}

/// The first day without `a`: the day its successor took over.
pub fn end_effective(a: &agency::Model) -> Option<NaiveDate> {
    a.valid_to.and_then(|t| t.checked_add_days(Days::new(1)))
}

/// `day` moved into the days `a` existed.
pub fn clamp(a: &agency::Model, day: NaiveDate) -> NaiveDate {
    let day = a.valid_to.map_or(day, |t| day.min(t));
    a.valid_from.map_or(day, |f| day.max(f))
}

impl History {
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self> {
        let agencies = agency::Entity::find()
            .order_by_asc(agency::Column::Code)
            .all(conn)
            .await?;
        let mut versions: HashMap<i64, Vec<agency_version::Model>> = HashMap::new();
        for v in agency_version::Entity::find().all(conn).await? {
            versions.entry(v.agency_id).or_default().push(v);
        }
        // `None` (since the agency began) first; two changes of one day in the order made.
        for list in versions.values_mut() {
            list.sort_by_key(|v| (v.valid_from, v.id));
        }
        Ok(Self { agencies, versions })
    }

    /// The versions of agency `id`, oldest first.
    pub fn versions(&self, id: i64) -> &[agency_version::Model] {
        self.versions.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `a`'s name and parent on `day` (moved into the days it existed).
    pub fn version_on(&self, a: &agency::Model, day: NaiveDate) -> (String, Option<i64>) {
        let day = clamp(a, day);
        let list = self.versions(a.id);
        list.iter()
            .rev()
            .find(|v| v.valid_from.is_none_or(|f| f <= day))
            .or(list.first())
            .map_or((a.name.clone(), a.parent_id), |v| {
                (v.name.clone(), v.parent_id)
            })
    }

    /// Where the ratings of each ended agency go.
    pub fn successions(&self) -> Successions {
        Successions(
            self.agencies
                .iter()
                .filter_map(|a| {
                    let to = a.valid_to?;
                    let next = a.successor_id.or_else(|| self.version_on(a, to).1);
                    Some((a.id, (to, next)))
                })
                .collect(),
        )
    }

    /// Every agency as it stood on `day` (names and parents of that day; an agency that
    /// had ended, as on its last day), and the tree of that day with what each carries.
    pub fn on(&self, day: NaiveDate) -> Agencies {
        let all: Vec<agency::Model> = self
            .agencies
            .iter()
            .map(|a| {
                let (name, parent_id) = self.version_on(a, day);
                agency::Model {
                    name,
                    parent_id,
                    ..a.clone()
                }
            })
            .collect();
        let successions = self.successions();
        let mut tree = Tree::from_edges(
            all.iter()
                .filter(|a| exists_on(a, day))
                .map(|a| (a.id, a.parent_id)),
        );
        let by_id: HashMap<i64, &agency::Model> = all.iter().map(|a| (a.id, a)).collect();
        for a in all.iter().filter(|a| !exists_on(a, day)) {
            if let Some(carrier) = carrier_on(&by_id, &successions, a.id, day) {
                tree.carry(a.id, carrier);
            }
        }
        Agencies::with_tree(all, tree, day)
    }
}

/// The agency of `day` that carries `id`'s ratings: itself if it exists then; if it had
/// ended, where its successions lead; if it had not begun yet, what carries its first
/// parent (so that a tree of an earlier day still counts every rating).
fn carrier_on(
    by_id: &HashMap<i64, &agency::Model>,
    successions: &Successions,
    id: i64,
    day: NaiveDate,
) -> Option<i64> {
    let mut current = id;
    for _ in 0..=by_id.len() {
        let a = by_id.get(&current)?;
        if exists_on(a, day) {
            return Some(current);
        }
        current = if ended_before(a, day) {
            successions.carrier(current, day)?
        } else {
            a.parent_id?
        };
    }
    None
}

/// Where the ratings of each ended agency go: the last day it existed, and the agency that
/// took over (its successor, or for a closure its parent on its last day).
#[derive(Debug, Clone, Default)]
pub struct Successions(HashMap<i64, (NaiveDate, Option<i64>)>);

impl Successions {
    /// The agency that carries `id`'s ratings on `day`: `id` itself unless it had ended
    /// by then; `None` when it closed at the top of the tree.
    pub fn carrier(&self, id: i64, day: NaiveDate) -> Option<i64> {
        let mut current = id;
        // Bounded: each step follows one ending, and there are no more endings than entries.
        for _ in 0..=self.0.len() {
            match self.0.get(&current) {
                Some(&(to, next)) if to < day => current = next?,
                _ => return Some(current),
            }
        }
        None
    }
}

/// The successions, read at most once a [`Carriers::TTL`] per process: the intake records
/// a rating through a link of an agency that has ended under the agency that carries it
/// that day. A reorganisation reaches every server within the TTL; a rating recorded under
/// the old agency meanwhile is counted the same by every report, which restates.
#[derive(Clone, Default)]
pub struct Carriers(Arc<RwLock<Option<Read>>>);

/// The successions and when they were read.
type Read = (Instant, Arc<Successions>);

impl Carriers {
    pub const TTL: Duration = Duration::from_secs(60);

    /// The agency that carries `id`'s ratings on `day` (`id` when none does).
    pub async fn carrier(
        &self,
        conn: &impl ConnectionTrait,
        id: i64,
        day: NaiveDate,
    ) -> Result<i64> {
        let fresh = self.0.read().ok().and_then(|held| {
            held.as_ref()
                .filter(|(at, _)| at.elapsed() < Self::TTL)
                .map(|(_, s)| s.clone())
        });
        let successions = match fresh {
            Some(s) => s,
            None => {
                let s = Arc::new(History::load(conn).await?.successions());
                if let Ok(mut held) = self.0.write() {
                    *held = Some((Instant::now(), s.clone()));
                }
                s
            }
        };
        Ok(successions.carrier(id, day).unwrap_or(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_rating_follows_every_merge_then_a_closure() {
        // 1 merged into 2 from 2025-07-01; 2 closed from 2026-01-01, under 3.
        let s = Successions(HashMap::from([
            (1, (d("2025-06-30"), Some(2))),
            (2, (d("2025-12-31"), Some(3))),
        ]));
        assert_eq!(s.carrier(1, d("2025-06-30")), Some(1));
        assert_eq!(s.carrier(1, d("2025-07-01")), Some(2));
        assert_eq!(s.carrier(1, d("2026-01-01")), Some(3));
        assert_eq!(s.carrier(3, d("2026-01-01")), Some(3));
        let top = Successions(HashMap::from([(4, (d("2025-06-30"), None))]));
        assert_eq!(top.carrier(4, d("2025-07-01")), None);
        let cycle = Successions(HashMap::from([
            (5, (d("2025-06-30"), Some(6))),
            (6, (d("2025-06-30"), Some(5))),
        ]));
        assert_eq!(cycle.carrier(5, d("2026-01-01")), None);
    }
}
