//! `hailong rollup rebuild`: recounts every roll-up from the stored responses, answers,
//! exclusions and holds, lists where the stored roll-ups differ, and (unless only checking) rewrites
//! them in one transaction.
//!
//! The transaction takes the chain-head lock first, like every writer of responses and
//! exclusions, so nothing is stored or excluded while it counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, ExprTrait, Order};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use super::{self as rollup, Additions, Count, Grain, Place, Status};
use crate::collect::raw::{answer_rows, col as c, join_open_hold, pick};
use crate::collect::store::lock_head;
use crate::db::Db;

/// Responses read per query.
const PAGE: i64 = 20_000;

/// One roll-up row that differs: its place, question and value, and both counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub place: Place,
    pub question: String,
    pub value: i16,
    pub stored: Count,
    pub recounted: Count,
}

/// What a rebuild found.
#[derive(Debug, Clone, Default)]
pub struct Rebuild {
    pub responses: u64,
    /// Rows per table after the recount.
    pub rows: BTreeMap<&'static str, u64>,
    pub differences: Vec<Difference>,
    /// Whether the roll-ups were rewritten.
    pub written: bool,
}

/// Recounts the roll-ups; rewrites them unless `check_only`. `progress` hears the number of
/// responses counted so far.
pub async fn rebuild(
    db: &Db,
    tz: Tz,
    check_only: bool,
    mut progress: impl FnMut(u64),
) -> Result<Rebuild, DbErr> {
    let txn = db.begin_write().await?;
    let (last, _) = lock_head(&txn).await?;
    let (recounted, responses) = recount(&txn, tz, last, &mut progress).await?;
    let stored = rollup::stored(&txn).await?;
    let mut differences: Vec<Difference> = Vec::new();
    let zero = Count::default();
    for (key, recount) in &recounted {
        let have = stored.get(key).copied().unwrap_or(zero);
        if have != *recount {
            differences.push(difference(key, have, *recount));
        }
    }
    for (key, have) in &stored {
        if !recounted.contains_key(key) && *have != zero {
            differences.push(difference(key, *have, zero));
        }
    }
    differences.sort_by_key(|d| (d.place.table(), format!("{:?}", d.place), d.value));
    let mut rows: BTreeMap<&'static str, u64> = Grain::ALL.iter().map(|g| (g.table(), 0)).collect();
    for (place, ..) in recounted.keys() {
        *rows.entry(place.table()).or_default() += 1;
    }
    let written = !check_only && !differences.is_empty();
    if written {
        rewrite(&txn, recounted).await?;
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(Rebuild {
        responses,
        rows,
        differences,
        written,
    })
}

fn difference(key: &(Place, String, i16), stored: Count, recounted: Count) -> Difference {
    Difference {
        place: key.0.clone(),
        question: key.1.clone(),
        value: key.2,
        stored,
        recounted,
    }
}

/// One response of the recount, with its answers so far.
struct Pending {
    id: i64,
    agency: i64,
    desk: Option<i64>,
    questionnaire: i64,
    submitted_at: DateTime<Utc>,
    assisted: bool,
    status: Status,
    answers: Vec<(String, i16)>,
}

impl Pending {
    fn count_into(self, out: &mut Additions, tz: Tz) {
        rollup::Counted {
            agency: self.agency,
            desk: self.desk,
            questionnaire: self.questionnaire,
            submitted_at: self.submitted_at,
            assisted: self.assisted,
            answers: &self.answers,
        }
        .add_to(out, tz, Count::one(self.status));
    }
}

/// Counts every answer of responses up to `last` into its three places, under the
/// response's status (excluded, held until released, else counted).
async fn recount(
    txn: &DatabaseTransaction,
    tz: Tz,
    last: i64,
    progress: &mut impl FnMut(u64),
) -> Result<(Additions, u64), DbErr> {
    let t = |n: &str| Alias::new(n);
    let mut out = Additions::new();
    let mut responses = 0u64;
    let mut from = 0i64;
    while from < last {
        let to = Ord::min(from.saturating_add(PAGE), last);
        let mut q = answer_rows(None);
        join_open_hold(&mut q);
        pick(
            &mut q,
            &[
                ("r", "id", "id"),
                ("r", "agency_id", "agency_id"),
                ("r", "desk_id", "desk_id"),
                ("r", "questionnaire_id", "questionnaire_id"),
                ("r", "submitted_at", "submitted_at"),
                ("r", "assisted", "assisted"),
                ("x", "id", "exclusion_id"),
                ("h", "response_id", "held_id"),
                ("a", "question_key", "question_key"),
                ("a", "value", "value"),
            ],
        )
        .and_where(c("r", "id").gt(from))
        .and_where(c("r", "id").lte(to))
        .order_by((t("r"), t("id")), Order::Asc);
        let mut pending: Option<Pending> = None;
        for row in txn.query_all(&q).await? {
            let id: i64 = row.try_get("", "id")?;
            if pending.as_ref().is_none_or(|p| p.id != id) {
                if let Some(done) = pending.take() {
                    done.count_into(&mut out, tz);
                }
                responses += 1;
                let excluded: Option<i64> = row.try_get("", "exclusion_id")?;
                let held: Option<i64> = row.try_get("", "held_id")?;
                pending = Some(Pending {
                    id,
                    agency: row.try_get("", "agency_id")?,
                    desk: row.try_get("", "desk_id")?,
                    questionnaire: row.try_get("", "questionnaire_id")?,
                    submitted_at: row.try_get("", "submitted_at")?,
                    assisted: row.try_get("", "assisted")?,
                    status: match (excluded, held) {
                        (Some(_), _) => Status::Excluded,
                        (None, Some(_)) => Status::Held,
                        (None, None) => Status::Counted,
                    },
                    answers: Vec::new(),
                });
            }
            if let Some(p) = pending.as_mut() {
                p.answers
                    .push((row.try_get("", "question_key")?, row.try_get("", "value")?));
            }
        }
        if let Some(done) = pending.take() {
            done.count_into(&mut out, tz);
        }
        progress(responses);
        from = to;
    }
    Ok((out, responses))
}

/// Empties the roll-ups and writes `counts`.
async fn rewrite(txn: &DatabaseTransaction, counts: Additions) -> Result<(), DbErr> {
    rollup::clear(txn).await?;
    rollup::add(txn, counts).await
}

/// A difference as one line: `rollup_monthly 2026-03 agency 7 overall=5: stored n 3
/// excluded 0 held 0, recounted n 4 excluded 0 held 0`.
pub fn describe(d: &Difference) -> String {
    let place = match &d.place {
        Place::Daily {
            agency,
            day,
            desk,
            questionnaire,
        } => {
            format!("rollup_daily {day} agency {agency} desk {desk} questionnaire {questionnaire}")
        }
        Place::Monthly { month, agency } => {
            format!("rollup_monthly {} agency {agency}", month.format("%Y-%m"))
        }
        Place::Yearly { year, agency } => format!("rollup_yearly {year} agency {agency}"),
    };
    let counts = |c: &Count| format!("n {} excluded {} held {}", c.n, c.excluded, c.held);
    format!(
        "{place} {}={}: stored {}, recounted {}",
        d.question,
        d.value,
        counts(&d.stored),
        counts(&d.recounted)
    )
}

/// The differences per table.
pub fn differences_by_table(r: &Rebuild) -> HashMap<&'static str, u64> {
    let mut out = HashMap::new();
    for d in &r.differences {
        *out.entry(d.place.table()).or_default() += 1;
    }
    out
}
