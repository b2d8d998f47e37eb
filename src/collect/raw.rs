//! The raw rows behind every figure: responses with their answers and exclusions, for
//! what must not come from the roll-ups (recounting them, verifying a frozen report,
//! comments).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, JoinType, Query, SelectStatement, SimpleExpr,
};

/// `table.column` of a raw query (`r` responses, `a` answers, `x` exclusions, …).
pub fn col(table: &str, column: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(column)))
}

/// Selects each `(table, column, alias)`.
pub fn pick<'q>(
    q: &'q mut SelectStatement,
    columns: &[(&str, &str, &str)],
) -> &'q mut SelectStatement {
    for (table, column, alias) in columns {
        q.expr_as(col(table, column), Alias::new(*alias));
    }
    q
}

/// The raw rows behind every figure, to select from: responses `r` with their answers `a`
/// and, when there is one, their exclusion `x` (only one made by `excluded_by`, if given).
pub fn answer_rows(excluded_by: Option<DateTime<Utc>>) -> SelectStatement {
    let t = |n: &str| Alias::new(n);
    let c = col;
    let mut exclusion = c("x", "response_id").equals((t("r"), t("id")));
    if let Some(at) = excluded_by {
        exclusion = exclusion.and(c("x", "excluded_at").lte(at));
    }
    let mut q = Query::select();
    q.from_as(t("responses"), t("r"))
        .join_as(
            JoinType::InnerJoin,
            t("answers"),
            t("a"),
            c("a", "response_id").equals((t("r"), t("id"))),
        )
        .join_as(JoinType::LeftJoin, t("exclusions"), t("x"), exclusion);
    q
}

/// Joins `h`, the response's hold while it is not released (a held response has one).
pub fn join_open_hold(q: &mut SelectStatement) -> &mut SelectStatement {
    let t = |n: &str| Alias::new(n);
    q.join_as(
        JoinType::LeftJoin,
        t("holds"),
        t("h"),
        col("h", "response_id")
            .equals((t("r"), t("id")))
            .and(col("h", "released_at").is_null()),
    )
}

/// `COUNT(*)` as a 64-bit integer on both databases.
pub fn count_all() -> SimpleExpr {
    SimpleExpr::from(Expr::col(Asterisk).count()).cast_as(Alias::new("BIGINT"))
}
