//! Reading the roll-ups: a period is cut into whole years, whole months and single days
//! ([`decompose`]); each piece is read from the roll-up of its grain, so a report over a
//! year reads one row per agency × question × answer value, whatever the number of
//! ratings.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate};
use entity::{rollup_daily as daily, rollup_monthly as monthly};
use sea_orm::sea_query::{Alias, DynIden, Expr, ExprTrait, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr, Value};

use super::kept::{Key, Shape};
use super::{ASSISTED, Col, Grain};
use crate::error::Result;
use crate::score::{OVERALL, Tally};

/// The result columns of a summed read: what it is summed by (`k`, set by the caller),
/// question, value, and the counted, excluded and held answers.
const KEY: &str = "k";
const QUESTION: &str = "q";
const VALUE: &str = "v";
const N: &str = "n";
const X: &str = "x";
const H: &str = "h";

/// One row of a summed read: its key (an agency, a desk, a month and an agency), question,
/// value and the three counts.
#[derive(serde::Deserialize)]
struct Summed<K>(K, String, i16, i64, i64, i64);

/// The rows of a [`summed`] read to which the caller added its key as [`KEY`], read as one
/// JSON text ([`crate::db::json_rows`]: a province's report reads thousands of them).
async fn summed_rows<K: serde::de::DeserializeOwned>(
    conn: &impl ConnectionTrait,
    q: SelectStatement,
) -> Result<Vec<Summed<K>>> {
    Ok(crate::db::json_rows(conn, q, &[KEY, QUESTION, VALUE, N, X, H], None).await?)
}

/// A run of whole periods of one grain, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Piece {
    Years(i32, i32),
    /// First days of the first and the last month.
    Months(NaiveDate, NaiveDate),
    Days(NaiveDate, NaiveDate),
}

pub fn last_of_month(d: NaiveDate) -> NaiveDate {
    let first_next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    };
    first_next.and_then(|f| f.pred_opt()).unwrap_or(d)
}

fn next_day(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(1))
}

/// Cuts `from..=to` into the fewest runs of whole years, whole months and days.
pub fn decompose(from: NaiveDate, to: NaiveDate) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut cursor = Some(from);
    while let Some(c) = cursor.filter(|c| *c <= to) {
        let year_end = NaiveDate::from_ymd_opt(c.year(), 12, 31);
        let month_end = last_of_month(c);
        let (piece, end) = if c.ordinal() == 1 && year_end.is_some_and(|e| e <= to) {
            (Piece::Years(c.year(), c.year()), year_end.unwrap_or(c))
        } else if c.day() == 1 && month_end <= to {
            (Piece::Months(c, c), month_end)
        } else {
            (Piece::Days(c, c), c)
        };
        // Extend the previous run when it is of the same grain.
        match (pieces.last_mut(), piece) {
            (Some(Piece::Years(_, last)), Piece::Years(y, _)) => *last = y,
            (Some(Piece::Months(_, last)), Piece::Months(m, _)) => *last = m,
            (Some(Piece::Days(_, last)), Piece::Days(d, _)) => *last = d,
            (_, piece) => pieces.push(piece),
        }
        cursor = next_day(end);
    }
    pieces
}

/// `SUM(n)`, `SUM(excluded)` and `SUM(held)` of `grain` as `n`, `x` and `h`, by question and value (and by
/// whatever the caller adds), from `grain`'s table.
fn summed(grain: Grain) -> SelectStatement {
    let sum = |c: Col| SimpleExpr::from(Expr::col(grain.col(c)).sum()).cast_as("BIGINT");
    let mut q = Query::select();
    q.expr_as(Expr::col(grain.col(Col::Question)), Alias::new(QUESTION))
        .expr_as(Expr::col(grain.col(Col::Value)), Alias::new(VALUE))
        .expr_as(sum(Col::N), N)
        .expr_as(sum(Col::Excluded), X)
        .expr_as(sum(Col::Held), H)
        .from(grain.iden())
        .group_by_col(grain.col(Col::Question))
        .group_by_col(grain.col(Col::Value));
    q
}

/// The tallies of each agency that has answers in `from..=to` (only `agencies`, when
/// given).
pub async fn tallies(
    conn: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
    agencies: Option<&[i64]>,
) -> Result<HashMap<i64, Tally>> {
    tallies_of(conn, (from, to), agencies, None).await
}

/// [`tallies`] of one `question` only, when given (a ranking's order needs only the overall
/// question: a seventh of the rows).
pub async fn tallies_of(
    conn: &impl ConnectionTrait,
    (from, to): (NaiveDate, NaiveDate),
    agencies: Option<&[i64]>,
    question: Option<&str>,
) -> Result<HashMap<i64, Tally>> {
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for piece in decompose(from, to) {
        read_piece(conn, piece, agencies, question, &mut out).await?;
    }
    Ok(out)
}

/// Adds the tallies of each agency in `piece` (only `agencies`, when given; one `question`,
/// when given) to `out`.
async fn read_piece(
    conn: &impl ConnectionTrait,
    piece: Piece,
    agencies: Option<&[i64]>,
    question: Option<&str>,
    out: &mut HashMap<i64, Tally>,
) -> Result<()> {
    let (grain, lo, hi): (Grain, Value, Value) = match piece {
        Piece::Years(a, b) => (Grain::Yearly, a.into(), b.into()),
        Piece::Months(a, b) => (Grain::Monthly, a.into(), b.into()),
        Piece::Days(a, b) => (Grain::Daily, a.into(), b.into()),
    };
    let agency: DynIden = grain.col(Col::Agency);
    let mut q = summed(grain);
    q.expr_as(Expr::col(agency.clone()), Alias::new(KEY))
        .and_where(Expr::col(grain.period()).between(lo, hi))
        .group_by_col(agency.clone());
    if let Some(ids) = agencies {
        q.and_where(Expr::col(agency).is_in(ids.iter().copied()));
    }
    if let Some(key) = question {
        q.and_where(Expr::col(grain.col(Col::Question)).eq(key));
    }
    for row in summed_rows::<i64>(conn, q).await? {
        row.add_to(out.entry(row.0).or_default());
    }
    Ok(())
}

/// [`tallies_of`] of `agencies`, with the pieces of the period that closed two days or more
/// before `today` kept in `db`'s memory ([`super::kept`]): a period with partial months
/// reads one row per agency × question × value × day of its loose days, and it is asked for
/// again and again (every page of the dashboard). A period of whole years that is not over
/// yet is read at once (one row per agency × question × value).
pub async fn tallies_kept(
    db: &crate::db::Db,
    today: NaiveDate,
    (from, to): (NaiveDate, NaiveDate),
    agencies: &[i64],
    question: Option<&str>,
) -> Result<HashMap<i64, Tally>> {
    let closed_end = today.checked_sub_days(Days::new(2));
    // A year still open read as a whole is one row per agency × question × value: cut at
    // the closed days, it would be months and days.
    let open_years = closed_end.is_none_or(|end| to > end)
        && decompose(from, to)
            .iter()
            .all(|p| matches!(p, Piece::Years(..)));
    let epoch = match (open_years, closed_end) {
        (false, Some(_)) => super::kept::epoch(&db.read).await?,
        _ => None,
    };
    let (Some(epoch), Some(closed_end)) = (epoch, closed_end) else {
        return tallies_of(&db.read, (from, to), Some(agencies), question).await;
    };
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for piece in decompose(from, Ord::min(to, closed_end)) {
        let key = Key::new(Shape::PerAgency, piece, question, agencies);
        let part = match db.kept.get(&epoch, &key) {
            Some(part) => part,
            None => {
                let mut part = HashMap::new();
                read_piece(&db.read, piece, Some(agencies), question, &mut part).await?;
                let part = std::sync::Arc::new(part);
                db.kept.put(&epoch, key, part.clone());
                part
            }
        };
        for (id, tally) in part.iter() {
            out.entry(*id).or_default().merge(tally);
        }
    }
    if let Some(open_from) = next_day(closed_end).filter(|d| *d <= to) {
        for piece in decompose(Ord::max(from, open_from), to) {
            read_piece(&db.read, piece, Some(agencies), question, &mut out).await?;
        }
    }
    Ok(out)
}

impl<K> Summed<K> {
    /// Adds the row to `tally`: excluded and held responses count once, on the overall
    /// question; assisted counted ones on [`ASSISTED`].
    fn add_to(&self, tally: &mut Tally) {
        let Summed(_, question, value, n, x, h) = self;
        let count = |n: &i64| u64::try_from(*n).unwrap_or(0);
        if question == ASSISTED {
            tally.assisted += count(n);
            return;
        }
        tally.add(question, *value, count(n));
        if question == OVERALL {
            tally.excluded += count(x);
            tally.held += count(h);
        }
    }
}

/// Tallies per month of `year` (index 0 is January) from the monthly roll-up, of
/// `agencies` only, of one `question` when given: per agency when `per_agency`, else
/// summed over them under the key 0. The database sums, so a province's line costs twelve
/// rows per answer value, not one per agency.
pub async fn monthly_tallies(
    conn: &impl ConnectionTrait,
    year: i32,
    agencies: &[i64],
    question: Option<&str>,
    per_agency: bool,
) -> Result<HashMap<i64, [Tally; 12]>> {
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 1),
    ) else {
        return Ok(HashMap::new());
    };
    monthly_tallies_in(conn, (first, last), agencies, question, per_agency).await
}

/// The summed tallies of `agencies` per month of `year` (one `question` when given), with
/// the months that closed two days or more before `today` kept in `db`'s memory
/// ([`super::kept`]), as [`tallies_kept`] does for periods: a trend asks for them on every
/// page.
pub async fn months_kept(
    db: &crate::db::Db,
    today: NaiveDate,
    year: i32,
    agencies: &[i64],
    question: Option<&str>,
) -> Result<[Tally; 12]> {
    let summed = |mut by: HashMap<i64, [Tally; 12]>| by.remove(&0).unwrap_or_default();
    let (Some(january), Some(december)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 1),
    ) else {
        return Ok(<[Tally; 12]>::default());
    };
    // The first of the last month that closed, within the year.
    let closed = today
        .checked_sub_days(Days::new(2))
        .and_then(next_day)
        .and_then(|after| after.checked_sub_months(chrono::Months::new(1)))
        .map(|m| Ord::min(m.with_day(1).unwrap_or(m), december))
        .filter(|m| *m >= january);
    let epoch = match closed {
        Some(_) => super::kept::epoch(&db.read).await?,
        None => None,
    };
    let (Some(epoch), Some(closed)) = (epoch, closed) else {
        let by = monthly_tallies_in(&db.read, (january, december), agencies, question, false);
        return Ok(summed(by.await?));
    };
    let key = Key::new(
        Shape::ByMonth,
        Piece::Months(january, closed),
        question,
        agencies,
    );
    let kept = match db.kept.get(&epoch, &key) {
        Some(kept) => kept,
        None => {
            let by = monthly_tallies_in(&db.read, (january, closed), agencies, question, false);
            let months: super::kept::Tallies = summed(by.await?)
                .into_iter()
                .zip(0i64..)
                .map(|(tally, month)| (month, tally))
                .collect();
            let months = std::sync::Arc::new(months);
            db.kept.put(&epoch, key, months.clone());
            months
        }
    };
    let mut out = <[Tally; 12]>::default();
    for (month, tally) in kept.iter() {
        if let Some(slot) = usize::try_from(*month).ok().and_then(|m| out.get_mut(m)) {
            *slot = tally.clone();
        }
    }
    if let Some(open) = closed
        .checked_add_months(chrono::Months::new(1))
        .filter(|m| *m <= december)
    {
        let by = monthly_tallies_in(&db.read, (open, december), agencies, question, false);
        for (slot, tally) in out.iter_mut().zip(summed(by.await?)) {
            slot.merge(&tally);
        }
    }
    Ok(out)
}

/// [`monthly_tallies`] of the months from `first` to `last` (their first days).
async fn monthly_tallies_in(
    conn: &impl ConnectionTrait,
    (first, last): (NaiveDate, NaiveDate),
    agencies: &[i64],
    question: Option<&str>,
    per_agency: bool,
) -> Result<HashMap<i64, [Tally; 12]>> {
    use monthly::Column as M;
    let mut q = summed(Grain::Monthly);
    // The key: the month, and the agency when per agency (`2025-03-01/17`).
    let key = match per_agency {
        true => "CAST(month AS TEXT) || '/' || CAST(agency_id AS TEXT)",
        false => "CAST(month AS TEXT)",
    };
    q.expr_as(Expr::cust(key), Alias::new(KEY))
        .and_where(Expr::col(M::Month).between(first, last))
        .and_where(Expr::col(M::AgencyId).is_in(agencies.iter().copied()))
        .group_by_col(M::Month);
    if per_agency {
        q.group_by_col(M::AgencyId);
    }
    if let Some(key) = question {
        q.and_where(Expr::col(M::QuestionKey).eq(key));
    }
    let mut out: HashMap<i64, [Tally; 12]> = HashMap::new();
    for row in summed_rows::<String>(conn, q).await? {
        let (month, agency) = row.0.split_once('/').unwrap_or((&row.0, "0"));
        let (Ok(month), Ok(agency)) = (month.parse::<NaiveDate>(), agency.parse::<i64>()) else {
            return Err(DbErr::Type(format!("a monthly roll-up key reads {:?}", row.0)).into());
        };
        let months = out.entry(agency).or_default();
        if let Some(tally) = months.get_mut(month.month0() as usize) {
            row.add_to(tally);
        }
    }
    Ok(out)
}

/// One agency's tally per desk (0: no desk) over `from..=to`, from the daily roll-up.
pub async fn desk_tallies(
    conn: &impl ConnectionTrait,
    agency: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<i64, Tally>> {
    use daily::Column as D;
    let mut q = summed(Grain::Daily);
    q.expr_as(Expr::col(D::DeskId), Alias::new(KEY))
        .and_where(Expr::col(D::AgencyId).eq(agency))
        .and_where(Expr::col(D::Day).between(from, to))
        .group_by_col(D::DeskId);
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for row in summed_rows::<i64>(conn, q).await? {
        row.add_to(out.entry(row.0).or_default());
    }
    Ok(out)
}

/// The sum of the tallies of `ids`.
pub fn sum_of(tallies: &HashMap<i64, Tally>, ids: &[i64]) -> Tally {
    let mut total = Tally::default();
    for id in ids {
        if let Some(t) = tallies.get(id) {
            total.merge(t);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_are_cut_into_years_months_and_days() {
        assert_eq!(
            decompose(d(2026, 1, 1), d(2026, 12, 31)),
            [Piece::Years(2026, 2026)]
        );
        assert_eq!(
            decompose(d(2025, 12, 30), d(2028, 2, 3)),
            [
                Piece::Days(d(2025, 12, 30), d(2025, 12, 31)),
                Piece::Years(2026, 2027),
                Piece::Months(d(2028, 1, 1), d(2028, 1, 1)),
                Piece::Days(d(2028, 2, 1), d(2028, 2, 3)),
            ]
        );
        assert_eq!(
            decompose(d(2026, 3, 1), d(2026, 5, 31)),
            [Piece::Months(d(2026, 3, 1), d(2026, 5, 1))]
        );
        assert_eq!(
            decompose(d(2026, 2, 1), d(2026, 2, 28)),
            [Piece::Months(d(2026, 2, 1), d(2026, 2, 1))]
        );
        assert!(decompose(d(2026, 2, 2), d(2026, 2, 1)).is_empty());
    }

    fn expand(pieces: &[Piece]) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        for piece in pieces {
            let (a, b) = match *piece {
                Piece::Years(a, b) => (d(a, 1, 1), d(b, 12, 31)),
                Piece::Months(a, b) => (a, last_of_month(b)),
                Piece::Days(a, b) => (a, b),
            };
            let mut c = a;
            while c <= b {
                days.push(c);
                c = c.succ_opt().unwrap();
            }
        }
        days
    }

    proptest! {
        #[test]
        fn every_day_is_covered_once(start in 0i64..3000, len in 0i64..1200) {
            let from = d(2020, 1, 1) + chrono::TimeDelta::days(start);
            let to = from + chrono::TimeDelta::days(len);
            let days = expand(&decompose(from, to));
            prop_assert_eq!(days.len() as i64, len + 1);
            prop_assert!(days.windows(2).all(|w| w[1] == w[0].succ_opt().unwrap()));
            prop_assert_eq!(days[0], from);
        }
    }
}
