//! A slice of an agency's ratings: those of one desk, one channel, or both, as the
//! dashboard's filters pick them.
//!
//! The roll-ups keep desks but not channels, so a slice is counted from the raw rows (the
//! same rows and rules as the roll-ups: excluded and held ratings apart, assisted ones
//! counted). That costs time in proportion to the ratings read, so a slice is counted
//! only over at most [`MAX_RATINGS`]; the caller checks the period's count first (from the
//! roll-ups) with [`Slice::fits`]. (A desk alone needs no slice: the daily roll-up keeps
//! desks, `crate::rollup::read::desk_tallies`.)

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SelectStatement, SimpleExpr};

use crate::collect::raw::{answer_rows, col, count_all, join_open_hold};
use crate::collect::store::Channel;
use crate::error::Result;
use crate::score::{OVERALL, Tally};

/// The most ratings a slice is counted over.
pub const MAX_RATINGS: u64 = 200_000;

/// Which ratings: all of them, or those of one desk and/or one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    pub desk: Option<i64>,
    pub channel: Option<Channel>,
}

impl Slice {
    /// Whether the slice is every rating.
    pub fn is_all(&self) -> bool {
        self.desk.is_none() && self.channel.is_none()
    }

    /// Whether a period of `ratings` ratings (counted, held and excluded) may be sliced.
    pub fn fits(ratings: u64) -> bool {
        ratings <= MAX_RATINGS
    }

    /// Narrows a query over responses `r` to the slice.
    pub fn narrow(&self, q: &mut SelectStatement) {
        if let Some(desk) = self.desk {
            q.and_where(col("r", "desk_id").eq(desk));
        }
        if let Some(channel) = self.channel {
            q.and_where(col("r", "channel").eq(channel.as_str()));
        }
    }
}

/// The tally of the slice's ratings of `agencies` submitted from `since` to before `until`.
pub async fn tally(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    (since, until): (DateTime<Utc>, DateTime<Utc>),
    slice: Slice,
) -> Result<Tally> {
    let t = |n: &str| Alias::new(n);
    let mut q = answer_rows(None);
    join_open_hold(&mut q);
    let flag = |cond: SimpleExpr| -> SimpleExpr { Expr::case(cond, 1).finally(0).into() };
    q.expr_as(col("a", "question_key"), t("question_key"))
        .expr_as(col("a", "value"), t("value"))
        .expr_as(flag(col("x", "id").is_not_null()), t("is_excluded"))
        .expr_as(flag(col("h", "response_id").is_not_null()), t("is_held"))
        .expr_as(flag(col("r", "assisted").eq(true)), t("is_assisted"))
        .expr_as(count_all(), t("n"))
        .and_where(col("r", "agency_id").is_in(agencies.iter().copied()))
        .and_where(col("r", "submitted_at").gte(since))
        .and_where(col("r", "submitted_at").lt(until))
        .group_by_col((t("a"), t("question_key")))
        .group_by_col((t("a"), t("value")))
        .group_by_col(t("is_excluded"))
        .group_by_col(t("is_held"))
        .group_by_col(t("is_assisted"));
    slice.narrow(&mut q);
    let mut out = Tally::default();
    for row in conn.query_all(&q).await? {
        let question: String = row.try_get("", "question_key")?;
        let value: i16 = row.try_get("", "value")?;
        let excluded: i32 = row.try_get("", "is_excluded")?;
        let held: i32 = row.try_get("", "is_held")?;
        let assisted: i32 = row.try_get("", "is_assisted")?;
        let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0);
        let overall = question == OVERALL;
        if excluded != 0 {
            if overall {
                out.excluded += n;
            }
        } else if held != 0 {
            if overall {
                out.held += n;
            }
        } else {
            out.add(&question, value, n);
            if overall && assisted != 0 {
                out.assisted += n;
            }
        }
    }
    Ok(out)
}
