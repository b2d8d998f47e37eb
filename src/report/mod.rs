//! Reports: figures of agency subtrees over periods, read from the roll-ups
//! ([`crate::rollup::read`], never from the raw responses) and computed by
//! [`crate::score`].

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order};

use crate::collect::raw::{answer_rows, col, pick};
use crate::error::Result;
pub use crate::rollup::read::{desk_tallies, monthly_tallies, sum_of, tallies};
use crate::score::OVERALL;

/// The longest period a report covers.
pub const MAX_YEARS: i32 = 10;

/// A citizen's comment, with the overall answer it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub agency_id: i64,
    pub overall: i16,
    pub text: String,
}

/// The newest comments of `agencies` from `since` to before `until` that were not excluded: those with a low
/// overall answer (1 or 2) first, then the others, each newest first; at most `limit`.
pub async fn recent_comments(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<Comment>> {
    let t = |n: &str| Alias::new(n);
    let c = col;
    let mut q = answer_rows(None);
    pick(
        &mut q,
        &[
            ("r", "submitted_at", "submitted_at"),
            ("r", "agency_id", "agency_id"),
            ("r", "comment", "comment"),
            ("a", "value", "value"),
        ],
    )
    .and_where(c("a", "question_key").eq(OVERALL))
    .and_where(c("x", "id").is_null())
    .and_where(c("r", "comment").is_not_null())
    .and_where(c("r", "agency_id").is_in(agencies.iter().copied()))
    .and_where(c("r", "submitted_at").gte(since))
    .and_where(c("r", "submitted_at").lt(until))
    .order_by_expr(
        Expr::case(c("a", "value").lte(2), 0).finally(1).into(),
        Order::Asc,
    )
    .order_by((t("r"), t("submitted_at")), Order::Desc)
    .limit(limit);
    let mut out = Vec::new();
    for row in conn.query_all(&q).await? {
        out.push(Comment {
            submitted_at: row.try_get("", "submitted_at")?,
            agency_id: row.try_get("", "agency_id")?,
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
