//! Reading the roll-ups: a period is cut into whole years, whole months and single days
//! ([`decompose`]); each piece is read from the roll-up of its grain, so a report over a
//! year reads one row per agency × question × answer value, whatever the number of
//! ratings.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate};
use entity::{rollup_daily as daily, rollup_monthly as monthly};
use sea_orm::sea_query::{DynIden, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, IdenStatic, QueryResult, Value};

use super::{ASSISTED, Col, Grain};
use crate::error::Result;
use crate::score::{OVERALL, Tally};

/// The result columns of a summed read: counted, excluded and held answers.
const N: &str = "n";
const X: &str = "x";
const H: &str = "h";

/// A run of whole periods of one grain, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    q.column(grain.col(Col::Question))
        .column(grain.col(Col::Value))
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
        let (grain, lo, hi): (Grain, Value, Value) = match piece {
            Piece::Years(a, b) => (Grain::Yearly, a.into(), b.into()),
            Piece::Months(a, b) => (Grain::Monthly, a.into(), b.into()),
            Piece::Days(a, b) => (Grain::Daily, a.into(), b.into()),
        };
        let agency: DynIden = grain.col(Col::Agency);
        let mut q = summed(grain);
        q.column(agency.clone())
            .and_where(Expr::col(grain.period()).between(lo, hi))
            .group_by_col(agency.clone())
            .order_by(agency.clone(), Order::Asc);
        if let Some(ids) = agencies {
            q.and_where(Expr::col(agency).is_in(ids.iter().copied()));
        }
        if let Some(key) = question {
            q.and_where(Expr::col(grain.col(Col::Question)).eq(key));
        }
        for row in conn.query_all(&q).await? {
            let agency: i64 = row.try_get("", Col::Agency.name())?;
            add_row(out.entry(agency).or_default(), &row)?;
        }
    }
    Ok(out)
}

/// Adds one summed roll-up row (question, value, `n`, `x`, `h`) to `tally`: excluded and
/// held responses count once, on the overall question; assisted counted ones on
/// [`ASSISTED`].
fn add_row(tally: &mut Tally, row: &QueryResult) -> Result<(), sea_orm::DbErr> {
    let question: String = row.try_get("", Col::Question.name())?;
    let value: i16 = row.try_get("", Col::Value.name())?;
    let count = |column| -> Result<u64, sea_orm::DbErr> {
        let n: i64 = row.try_get("", column)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    if question == ASSISTED {
        tally.assisted += count(N)?;
        return Ok(());
    }
    tally.add(&question, value, count(N)?);
    if question == OVERALL {
        tally.excluded += count(X)?;
        tally.held += count(H)?;
    }
    Ok(())
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
    use monthly::Column as M;
    let mut q = summed(Grain::Monthly);
    q.column(M::Month)
        .and_where(Expr::col(M::Month).between(first, last))
        .and_where(Expr::col(M::AgencyId).is_in(agencies.iter().copied()))
        .group_by_col(M::Month);
    if per_agency {
        q.column(M::AgencyId).group_by_col(M::AgencyId);
    }
    if let Some(key) = question {
        q.and_where(Expr::col(M::QuestionKey).eq(key));
    }
    let mut out: HashMap<i64, [Tally; 12]> = HashMap::new();
    for row in conn.query_all(&q).await? {
        let month: NaiveDate = row.try_get("", M::Month.as_str())?;
        let agency: i64 = if per_agency {
            row.try_get("", M::AgencyId.as_str())?
        } else {
            0
        };
        let months = out.entry(agency).or_default();
        if let Some(tally) = months.get_mut(month.month0() as usize) {
            add_row(tally, &row)?;
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
    q.column(D::DeskId)
        .and_where(Expr::col(D::AgencyId).eq(agency))
        .and_where(Expr::col(D::Day).between(from, to))
        .group_by_col(D::DeskId);
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for row in conn.query_all(&q).await? {
        let desk: i64 = row.try_get("", D::DeskId.as_str())?;
        add_row(out.entry(desk).or_default(), &row)?;
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
