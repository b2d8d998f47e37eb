//! Reports: figures of agency subtrees over periods, read from the roll-ups
//! ([`crate::rollup::read`], never from the raw responses) and computed by
//! [`crate::score`].

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Order};

use crate::collect::raw::{answer_rows, col, pick};
use crate::error::Result;
pub use crate::rollup::read::{
    desk_tallies, monthly_tallies, months_kept, sum_of, tallies, tallies_kept,
};
use crate::score::OVERALL;

/// The longest period a report covers.
pub const MAX_YEARS: i32 = 10;

/// A citizen's comment, with the overall answer it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub agency_id: i64,
    pub desk_id: Option<i64>,
    pub overall: i16,
    pub text: String,
}

/// Which comments a page of them shows: the days (`since` to before `until`), the words
/// they hold (`search`, as typed), and the page (`offset`, at most `limit`).
#[derive(Debug, Clone)]
pub struct CommentQuery<'a> {
    pub since: chrono::DateTime<chrono::Utc>,
    pub until: chrono::DateTime<chrono::Utc>,
    pub search: Option<&'a str>,
    pub offset: u64,
    pub limit: u64,
    /// Only the comments of one desk or channel, when the slice says so.
    pub slice: slice::Slice,
}

/// The comments of `agencies` that were not excluded: those with a low overall answer (1 or
/// 2) first, then the others, each newest first; one page of them.
pub async fn recent_comments(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    q: &CommentQuery<'_>,
) -> Result<Vec<Comment>> {
    let t = |n: &str| Alias::new(n);
    let c = col;
    let mut sql = answer_rows(None);
    pick(
        &mut sql,
        &[
            ("r", "submitted_at", "submitted_at"),
            ("r", "agency_id", "agency_id"),
            ("r", "desk_id", "desk_id"),
            ("r", "comment", "comment"),
            ("a", "value", "value"),
        ],
    )
    .and_where(c("a", "question_key").eq(OVERALL))
    .and_where(c("x", "id").is_null())
    .and_where(c("r", "comment").is_not_null())
    .and_where(c("r", "agency_id").is_in(agencies.iter().copied()))
    .and_where(c("r", "submitted_at").gte(q.since))
    .and_where(c("r", "submitted_at").lt(q.until));
    q.slice.narrow(&mut sql);
    if let Some(words) = q.search.map(str::trim).filter(|w| !w.is_empty()) {
        // The words as typed, `%` and `_` taken literally.
        let escaped = words
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        sql.and_where(c("r", "comment").like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
    }
    sql.order_by_expr(
        Expr::case(c("a", "value").lte(2), 0).finally(1).into(),
        Order::Asc,
    )
    .order_by((t("r"), t("submitted_at")), Order::Desc)
    .order_by((t("r"), t("id")), Order::Desc)
    .offset(q.offset)
    .limit(q.limit);
    let mut out = Vec::new();
    for row in conn.query_all(&sql).await? {
        out.push(Comment {
            submitted_at: row.try_get("", "submitted_at")?,
            agency_id: row.try_get("", "agency_id")?,
            desk_id: row.try_get("", "desk_id")?,
            overall: row.try_get("", "value")?,
            text: row.try_get("", "comment")?,
        });
    }
    Ok(out)
}

pub mod agency;
pub mod annual;
pub mod charts;
pub mod export;
pub mod slice;
