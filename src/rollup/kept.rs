//! Tallies of closed periods kept in memory, valid while the roll-ups' epoch stands.
//!
//! A period that ended two days or more before today (in the province's time) changes only
//! through a late write: an exclusion, a release, an import, a rebuild, a rating stored
//! after midnight for the day before. Every write to the roll-ups of a day before today (in
//! UTC, which is at most a day off any local today) replaces the **epoch**, a random value
//! in `settings`, in the write's own transaction ([`super::add`]). A reader reads the epoch
//! first and the roll-ups after it, and keeps what it read under that epoch: what it keeps
//! is never older than its epoch, and a later late write changes the epoch that the next
//! reader sees. Servers sharing a database share the epoch, so none keeps a tally that
//! another server's write made stale. The clocks of servers sharing a database must agree
//! within a day.
//!
//! Without an epoch (a database restored from a backup made before there were epochs,
//! until the next start writes one), nothing is kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use entity::setting;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use super::read::Piece;
use crate::score::Tally;

/// The `settings` key of the epoch.
pub const EPOCH_KEY: &str = "rollup_epoch";

/// The most agency tallies kept at once (each about 1 KB; the oldest go first).
pub const MAX_TALLIES: usize = 20_000;

/// Tallies per agency of one piece of a period.
pub type Tallies = HashMap<i64, Tally>;

/// What kept tallies are keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Each agency's tally over the piece.
    PerAgency,
    /// The agencies' tally together, per month (0 is January).
    ByMonth,
}

/// What kept tallies answer: their shape, a piece, a question (or all), the agencies read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    shape: Shape,
    piece: Piece,
    question: Option<String>,
    agencies: Vec<i64>,
}

impl Key {
    pub fn new(shape: Shape, piece: Piece, question: Option<&str>, agencies: &[i64]) -> Self {
        Self {
            shape,
            piece,
            question: question.map(str::to_owned),
            agencies: agencies.to_vec(),
        }
    }
}

/// The kept tallies of one server (one per [`crate::db::Db`]).
#[derive(Debug, Default)]
pub struct Kept {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    epoch: String,
    entries: HashMap<Key, Arc<Tallies>>,
    order: VecDeque<Key>,
    tallies: usize,
}

impl Kept {
    /// The tallies kept for `key` under `epoch`.
    pub fn get(&self, epoch: &str, key: &Key) -> Option<Arc<Tallies>> {
        let inner = self.inner.lock().ok()?;
        if inner.epoch != epoch {
            return None;
        }
        inner.entries.get(key).cloned()
    }

    /// Keeps `tallies` under `epoch` (forgetting every other epoch's), the oldest going
    /// first beyond [`MAX_TALLIES`].
    pub fn put(&self, epoch: &str, key: Key, tallies: Arc<Tallies>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.epoch != epoch {
            *inner = Inner {
                epoch: epoch.to_owned(),
                ..Inner::default()
            };
        }
        if tallies.len() > MAX_TALLIES {
            return;
        }
        if let Some(old) = inner.entries.insert(key.clone(), tallies.clone()) {
            inner.tallies -= old.len();
        } else {
            inner.order.push_back(key);
        }
        inner.tallies += tallies.len();
        while inner.tallies > MAX_TALLIES {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.tallies -= gone.len();
            }
        }
    }

    /// How many agency tallies are kept (for tests and `/metrics`).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.tallies).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every kept tally (for benches that time the first reading).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = Inner::default();
        }
    }
}

/// The current epoch, if the database has one.
pub async fn epoch(conn: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    Ok(setting::Entity::find_by_id(EPOCH_KEY.to_owned())
        .one(conn)
        .await?
        .map(|s| s.value))
}

/// Replaces the epoch (in `conn`'s transaction): every kept tally becomes stale.
pub async fn renew(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    write(conn, true).await
}

/// Writes an epoch if there is none (at start-up).
pub async fn ensure(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    write(conn, false).await
}

async fn write(conn: &impl ConnectionTrait, replace: bool) -> Result<(), DbErr> {
    let value =
        crate::govern::secrets::random_token(12).map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut on_conflict = OnConflict::column(setting::Column::Key);
    if replace {
        on_conflict.update_column(setting::Column::Value);
    } else {
        on_conflict.do_nothing();
    }
    let row = setting::ActiveModel {
        key: Set(EPOCH_KEY.to_owned()),
        value: Set(value),
    };
    setting::Entity::insert(row)
        .on_conflict(on_conflict)
        .try_insert()
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn k(piece: Piece, question: Option<&str>, agencies: &[i64]) -> Key {
        Key::new(Shape::PerAgency, piece, question, agencies)
    }

    fn piece(day: u32) -> Piece {
        let d = NaiveDate::from_ymd_opt(2025, 3, day).unwrap();
        Piece::Days(d, d)
    }

    fn tallies(agencies: i64) -> Arc<Tallies> {
        Arc::new((0..agencies).map(|a| (a, Tally::default())).collect())
    }

    #[test]
    fn kept_tallies_answer_their_epoch_only_and_stay_bounded() {
        let kept = Kept::default();
        kept.put("e1", k(piece(1), None, &[1, 2]), tallies(2));
        assert!(kept.get("e1", &k(piece(1), None, &[1, 2])).is_some());
        assert!(
            kept.get("e1", &k(piece(1), Some("overall"), &[1, 2]))
                .is_none()
        );
        assert!(kept.get("e1", &k(piece(2), None, &[1, 2])).is_none());
        assert!(kept.get("e1", &k(piece(1), None, &[1])).is_none());
        assert!(kept.get("e2", &k(piece(1), None, &[1, 2])).is_none());
        // A new epoch forgets the old one's.
        kept.put("e2", k(piece(2), None, &[1]), tallies(1));
        assert!(kept.get("e2", &k(piece(1), None, &[1, 2])).is_none());
        assert_eq!(kept.len(), 1);
        // The oldest go first beyond the bound; a piece larger than it is not kept.
        for day in 1..=25 {
            kept.put("e2", k(piece(day), None, &[7]), tallies(1_000));
        }
        assert!(kept.len() <= MAX_TALLIES);
        assert!(kept.get("e2", &k(piece(25), None, &[7])).is_some());
        assert!(kept.get("e2", &k(piece(1), None, &[7])).is_none());
        kept.put(
            "e2",
            k(piece(26), None, &[8]),
            tallies(MAX_TALLIES as i64 + 1),
        );
        assert!(kept.get("e2", &k(piece(26), None, &[8])).is_none());
    }
}
