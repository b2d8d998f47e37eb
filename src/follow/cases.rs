//! Cases (API.md, "Closing the loop"): a rating through a link whose overall answer is 2
//! or less, or whose citizen ticked "please answer me" with a comment, opens a case for
//! its agency, due a number of working days later. The citizen reads it, and rates the
//! reply, at `/f/{code}` (the code is the only key: no personal data is asked for); the
//! agency answers it once. A case closes when the reply is rated, ten days after the
//! reply, or when its rating is excluded (it then leaves the figures).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::case;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use super::figures::CaseCounts;
use super::webhooks::{self, Event};
use crate::app::Context;
use crate::domain::{AgencyCode, Invalid, Role, text};
use crate::error::{Error, Result};
use crate::govern::{audit, secrets};

/// The longest reply, in characters.
pub const MAX_REPLY: usize = 2000;
/// Days after the reply when an unrated case closes by itself.
pub const CLOSES_AFTER_REPLY_DAYS: i64 = 10;

/// Whether a rating opens a case: an overall answer of 2 or less (*Không hài lòng* or
/// worse; 1 on the three-level kiosk), or "please answer me" with a comment.
pub fn opens(overall: Option<i16>, want_reply: bool, has_comment: bool) -> bool {
    overall.is_some_and(|v| v <= 2) || (want_reply && has_comment)
}

/// A rating just stored that opens a case.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub response_id: i64,
    pub agency_id: i64,
    pub desk_id: Option<i64>,
    pub overall: i16,
    pub want_reply: bool,
    pub at: DateTime<Utc>,
}

/// What the citizen is told of the case their rating opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCase {
    pub code: String,
    pub due: NaiveDate,
}

fn db_err(e: Error) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Opens the cases of ratings stored in `txn` (the writer's transaction, so a rating and
/// its case are stored together) and queues their `case.opened` webhooks.
pub async fn open(
    txn: &DatabaseTransaction,
    tz: Tz,
    follow_up_days: u32,
    new: &[NewCase],
) -> Result<Vec<OpenedCase>, DbErr> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let days: Vec<NaiveDate> = new
        .iter()
        .map(|c| c.at.with_timezone(&tz).date_naive())
        .collect();
    let first = days.iter().map(Datelike::year).min().unwrap_or(2000);
    let last = days.iter().map(Datelike::year).max().unwrap_or(2000);
    let calendar = Calendar::load(txn, first, last + 1).await.map_err(db_err)?;
    let mut opened = Vec::with_capacity(new.len());
    let mut rows = Vec::with_capacity(new.len());
    for (c, day) in new.iter().zip(days) {
        let code = secrets::random_token(18).map_err(|e| DbErr::Custom(e.to_string()))?;
        let due = calendar.add_working_days(day, follow_up_days);
        rows.push(case::ActiveModel {
            code: Set(code.clone()),
            response_id: Set(c.response_id),
            agency_id: Set(c.agency_id),
            desk_id: Set(c.desk_id),
            overall: Set(c.overall),
            want_reply: Set(c.want_reply),
            opened_at: Set(c.at),
            opened_on: Set(day),
            due: Set(due),
            ..Default::default()
        });
        opened.push(OpenedCase { code, due });
    }
    for chunk in rows.chunks(1000) {
        case::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    // Events only for webhooks that asked: no more reads otherwise.
    let hooks = webhooks::subscribed(txn, Event::CaseOpened).await?;
    if !hooks.is_empty() {
        let stored = case::Entity::find()
            .filter(case::Column::ResponseId.is_in(new.iter().map(|c| c.response_id)))
            .all(txn)
            .await?;
        let mut items = Vec::with_capacity(stored.len());
        for c in &stored {
            items.push((c.agency_id, event_data(txn, c).await?));
        }
        webhooks::enqueue_to(txn, &hooks, Event::CaseOpened, &items).await?;
    }
    Ok(opened)
}

/// A case's state on `today` (local) at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Overdue,
    Answered,
    Closed,
}

impl Status {
    pub fn of(c: &case::Model, today: NaiveDate, now: DateTime<Utc>) -> Self {
        let expired = c
            .replied_at
            .is_some_and(|at| now - at >= chrono::Duration::days(CLOSES_AFTER_REPLY_DAYS));
        if c.closed_at.is_some() || expired {
            Status::Closed
        } else if c.reply.is_some() {
            Status::Answered
        } else if today > c.due {
            Status::Overdue
        } else {
            Status::Open
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "overdue" => Some(Self::Overdue),
            "answered" => Some(Self::Answered),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Overdue => "overdue",
            Self::Answered => "answered",
            Self::Closed => "closed",
        }
    }
}

/// A case as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseDto {
    pub id: i64,
    pub code: String,
    pub agency: String,
    pub desk: Option<String>,
    pub response: i64,
    pub opened_at: DateTime<Utc>,
    pub due: NaiveDate,
    pub status: Status,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub replied_by: Option<String>,
    pub reply_rating: Option<String>,
    /// The rating's overall answer and comment, for the inbox.
    pub overall: i16,
    pub comment: Option<String>,
}

/// The JSON `data` of a case's webhook events.
async fn event_data(
    conn: &impl ConnectionTrait,
    c: &case::Model,
) -> Result<serde_json::Value, DbErr> {
    let agency = entity::agency::Entity::find_by_id(c.agency_id)
        .one(conn)
        .await?
        .map(|a| a.code);
    Ok(serde_json::json!({
        "case": c.id,
        "agency": agency,
        "response": c.response_id,
        "overall": c.overall,
        "due": c.due,
        "opened_at": c.opened_at,
        "replied_at": c.replied_at,
    }))
}

/// What a listing of cases asks for: the filters, then the page (`offset` cases skipped,
/// at most `limit` returned; no limit is [`MAX_LISTED`]).
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub agency: Option<AgencyCode>,
    pub status: Option<Status>,
    pub desk: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// The most cases one listing returns.
pub const MAX_LISTED: usize = 10_000;

/// The order of an inbox: overdue first, then open, answered and closed.
pub const INBOX_ORDER: [Status; 4] = [
    Status::Overdue,
    Status::Open,
    Status::Answered,
    Status::Closed,
];

/// How many cases of a listing's filters are in each status (whatever its `status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub overdue: u64,
    pub open: u64,
    pub answered: u64,
    pub closed: u64,
}

impl StatusCounts {
    pub fn of(&self, s: Status) -> u64 {
        match s {
            Status::Overdue => self.overdue,
            Status::Open => self.open,
            Status::Answered => self.answered,
            Status::Closed => self.closed,
        }
    }

    /// The cases the listing's `status` selects (all without one).
    pub fn selected(&self, status: Option<Status>) -> u64 {
        status.map_or(
            self.overdue + self.open + self.answered + self.closed,
            |s| self.of(s),
        )
    }
}

/// One page of a listing of cases, and how many each status holds.
#[derive(Debug, Clone)]
pub struct CasePage {
    pub cases: Vec<CaseDto>,
    pub counts: StatusCounts,
}

/// The cases of an agency's subtree (administrators; managers and viewers within their
/// scope), overdue first, then open, answered and closed, by due date within each. The
/// database filters, counts and pages them, status by status, so that a page of an inbox
/// of many thousand cases reads only that page's rows.
pub async fn list(cx: &Context<'_>, q: &CaseQuery) -> Result<CasePage> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer])?;
    let ids = cx.subtree_or_own(q.agency.as_ref()).await?;
    let agencies = cx.agencies().await?;
    let desks = desk_names(&db.read).await?;
    let mut filters = Condition::all();
    if let Some(ids) = &ids {
        filters = filters.add(case::Column::AgencyId.is_in(ids.iter().copied()));
    }
    if let Some(from) = q.from {
        filters = filters.add(case::Column::OpenedOn.gte(from));
    }
    if let Some(to) = q.to {
        filters = filters.add(case::Column::OpenedOn.lte(to));
    }
    if let Some(code) = &q.desk {
        let of_desk = desks
            .iter()
            .filter(|(_, (c, _))| c == code)
            .map(|(id, _)| *id);
        filters = filters.add(case::Column::DeskId.is_in(of_desk));
    }
    let today = cx.today();
    let now = crate::now();
    // One pass over the filtered cases counts all four: COUNT(CASE WHEN … THEN 1 END).
    let mut counting = case::Entity::find().select_only().filter(filters.clone());
    for (i, s) in INBOX_ORDER.into_iter().enumerate() {
        counting = counting.column_as(
            Expr::expr(Func::count(Expr::case(status_condition(s, today, now), 1))),
            format!("n{i}"),
        );
    }
    let (overdue, open, answered, closed): (i64, i64, i64, i64) = counting
        .into_tuple()
        .one(&db.read)
        .await?
        .unwrap_or_default();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let counts = StatusCounts {
        overdue: count(overdue),
        open: count(open),
        answered: count(answered),
        closed: count(closed),
    };
    let mut remaining = q.limit.unwrap_or(MAX_LISTED).min(MAX_LISTED) as u64;
    let mut skip = q.offset as u64;
    let mut rows = Vec::new();
    for s in INBOX_ORDER {
        if q.status.is_some_and(|wanted| wanted != s) || remaining == 0 {
            continue;
        }
        let n = counts.of(s);
        if skip >= n {
            skip -= n;
            continue;
        }
        let page = case::Entity::find()
            .filter(filters.clone())
            .filter(status_condition(s, today, now))
            .order_by_asc(case::Column::Due)
            .order_by_asc(case::Column::Id)
            .offset(skip)
            .limit(remaining)
            .all(&db.read)
            .await?;
        skip = 0;
        remaining = remaining.saturating_sub(page.len() as u64);
        rows.extend(page);
    }
    let comments = comments_of(&db.read, rows.iter().map(|c| c.response_id)).await?;
    let cases = rows
        .into_iter()
        .map(|c| {
            let comment = comments.get(&c.response_id).cloned().flatten();
            dto(c, today, now, &agencies, &desks, comment)
        })
        .collect();
    Ok(CasePage { cases, counts })
}

/// [`Status::of`] as a condition the database checks (the same rule; `tests/api/follow.rs`
/// lists cases of every status both ways), so that an inbox is filtered, counted and paged
/// by the database.
fn status_condition(status: Status, today: NaiveDate, now: DateTime<Utc>) -> Condition {
    use case::Column as C;
    let expired = now - chrono::Duration::days(CLOSES_AFTER_REPLY_DAYS);
    let unanswered = Condition::all()
        .add(C::Reply.is_null())
        .add(C::ClosedAt.is_null());
    match status {
        Status::Overdue => unanswered.add(C::Due.lt(today)),
        Status::Open => unanswered.add(C::Due.gte(today)),
        Status::Answered => Condition::all()
            .add(C::Reply.is_not_null())
            .add(C::ClosedAt.is_null())
            .add(C::RepliedAt.gt(expired)),
        Status::Closed => Condition::any()
            .add(C::ClosedAt.is_not_null())
            .add(C::RepliedAt.lte(expired)),
    }
}

type Desks = std::collections::HashMap<i64, (String, String)>;

async fn desk_names(conn: &impl ConnectionTrait) -> Result<Desks> {
    Ok(entity::desk::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|d| (d.id, (d.code, d.name)))
        .collect())
}

async fn comments_of(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Option<String>>> {
    let ids: Vec<i64> = ids.collect();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(5000) {
        let rows: Vec<(i64, Option<String>)> = entity::response::Entity::find()
            .select_only()
            .column(entity::response::Column::Id)
            .column(entity::response::Column::Comment)
            .filter(entity::response::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

use sea_orm::{Condition, QuerySelect};

fn dto(
    c: case::Model,
    today: NaiveDate,
    now: DateTime<Utc>,
    agencies: &crate::org::Agencies,
    desks: &Desks,
    comment: Option<String>,
) -> CaseDto {
    CaseDto {
        status: Status::of(&c, today, now),
        agency: agencies
            .get(c.agency_id)
            .map(|a| a.code.clone())
            .unwrap_or_default(),
        desk: c
            .desk_id
            .and_then(|d| desks.get(&d))
            .map(|(code, _)| code.clone()),
        id: c.id,
        code: c.code,
        response: c.response_id,
        opened_at: c.opened_at,
        due: c.due,
        reply: c.reply,
        replied_at: c.replied_at,
        replied_by: c.replied_by,
        reply_rating: c.reply_rating,
        overall: c.overall,
        comment,
    }
}

/// The body of `POST /api/v1/cases/{id}/reply`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    pub text: String,
}

/// Answers case `id` (administrators; managers within their scope), once.
pub async fn reply(cx: &Context<'_>, id: i64, input: ReplyInput) -> Result<CaseDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin, Role::Manager])?;
    let text = text::clean(&input.text, MAX_REPLY)
        .map_err(|e| Error::invalid("text", e))?
        .ok_or_else(|| {
            Error::invalid("text", Invalid::new("empty_reply", "the reply has no text"))
        })?;
    let agencies = cx.agencies().await?;
    let found = case::Entity::find_by_id(id)
        .one(&db.read)
        .await?
        .ok_or_else(no_case)?;
    by.require_scope(&agencies.tree, found.agency_id)?;
    let today = cx.today();
    let now = crate::now();
    let txn = db.begin_write().await?;
    // Only a case without a reply and not closed takes one: a second reply is refused
    // even when two arrive together.
    let updated = case::Entity::update_many()
        .col_expr(case::Column::Reply, Expr::value(text.clone()))
        .col_expr(case::Column::RepliedAt, Expr::value(now))
        .col_expr(case::Column::RepliedOn, Expr::value(today))
        .col_expr(case::Column::RepliedBy, Expr::value(by.actor.clone()))
        .filter(case::Column::Id.eq(id))
        .filter(case::Column::Reply.is_null())
        .filter(case::Column::ClosedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(if found.reply.is_some() {
            Error::conflict("already_answered", "this case has been answered already")
        } else {
            Error::conflict("case_closed", "this case is closed")
        });
    }
    let stored = case::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(no_case)?;
    webhooks::enqueue(
        &txn,
        Event::CaseAnswered,
        stored.agency_id,
        &event_data(&txn, &stored).await?,
    )
    .await?;
    audit::commit(
        txn,
        &by.actor,
        "case.reply",
        &format!("case:{id}"),
        serde_json::json!({"chars": text.chars().count()}),
    )
    .await?;
    let desks = desk_names(&db.read).await?;
    let comment = comments_of(&db.read, std::iter::once(stored.response_id))
        .await?
        .remove(&stored.response_id)
        .flatten();
    Ok(dto(stored, today, now, &agencies, &desks, comment))
}

fn no_case() -> Error {
    Error::not_found("case_not_found", "there is no such case")
}

/// What the citizen sees at `/f/{code}`.
#[derive(Debug, Clone)]
pub struct CitizenView {
    pub agency: String,
    pub desk: Option<String>,
    pub overall: i16,
    pub comment: Option<String>,
    pub opened_on: NaiveDate,
    pub due: NaiveDate,
    pub status: Status,
    pub reply: Option<String>,
    pub replied_on: Option<NaiveDate>,
    pub reply_rating: Option<String>,
}

/// A code that cannot be a case's is not looked up.
fn plausible(code: &str) -> bool {
    (16..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn by_code(conn: &impl ConnectionTrait, code: &str) -> Result<case::Model> {
    if !plausible(code) {
        return Err(no_case());
    }
    case::Entity::find()
        .filter(case::Column::Code.eq(code))
        .one(conn)
        .await?
        .ok_or_else(no_case)
}

/// The case with `code`, for its citizen (no sign-in: the code is the key).
pub async fn for_citizen(cx: &Context<'_>, code: &str) -> Result<CitizenView> {
    let c = by_code(&cx.db.read, code).await?;
    let agencies = cx.agencies().await?;
    let desks = desk_names(&cx.db.read).await?;
    let comment = comments_of(&cx.db.read, std::iter::once(c.response_id))
        .await?
        .remove(&c.response_id)
        .flatten();
    Ok(CitizenView {
        agency: agencies
            .get(c.agency_id)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        desk: c
            .desk_id
            .and_then(|d| desks.get(&d))
            .map(|(_, n)| n.clone()),
        status: Status::of(&c, cx.today(), crate::now()),
        overall: c.overall,
        comment,
        opened_on: c.opened_on,
        due: c.due,
        reply: c.reply,
        replied_on: c.replied_on,
        reply_rating: c.reply_rating,
    })
}

/// The citizen's rating of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRating {
    Satisfied,
    Dissatisfied,
}

impl ReplyRating {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "satisfied" => Some(Self::Satisfied),
            "dissatisfied" => Some(Self::Dissatisfied),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Satisfied => "satisfied",
            Self::Dissatisfied => "dissatisfied",
        }
    }
}

/// Records the citizen's one rating of the reply; the case closes. Before a reply, or a
/// second time: 409.
pub async fn rate_reply(cx: &Context<'_>, code: &str, rating: ReplyRating) -> Result<()> {
    let found = by_code(&cx.db.read, code).await?;
    if found.reply.is_none() {
        return Err(Error::conflict(
            "not_answered",
            "the agency has not answered yet",
        ));
    }
    let now = crate::now();
    let txn = cx.db.begin_write().await?;
    let updated = case::Entity::update_many()
        .col_expr(case::Column::ReplyRating, Expr::value(rating.as_str()))
        .col_expr(case::Column::ReplyRatedAt, Expr::value(now))
        .col_expr(case::Column::ClosedAt, Expr::value(now))
        .col_expr(case::Column::ClosedReason, Expr::value("rated"))
        .filter(case::Column::Id.eq(found.id))
        .filter(case::Column::ReplyRating.is_null())
        .filter(case::Column::Reply.is_not_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(Error::conflict(
            "already_rated",
            "the reply has been rated already",
        ));
    }
    txn.commit().await?;
    Ok(())
}

/// Closes the cases of excluded responses (inside the exclusion's transaction): they leave
/// the figures.
pub async fn close_excluded(txn: &DatabaseTransaction, responses: &[i64]) -> Result<(), DbErr> {
    for chunk in responses.chunks(5000) {
        case::Entity::update_many()
            .col_expr(case::Column::ClosedAt, Expr::value(crate::now()))
            .col_expr(case::Column::ClosedReason, Expr::value("excluded"))
            .filter(case::Column::ResponseId.is_in(chunk.iter().copied()))
            .filter(case::Column::ClosedAt.is_null())
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Queues `case.overdue` once for every open case past its due day: run periodically by
/// the server. Returns how many were queued.
pub async fn send_overdue(db: &crate::db::Db, tz: Tz) -> Result<u64> {
    let today = crate::now().with_timezone(&tz).date_naive();
    let txn = db.begin_write().await?;
    let late = case::Entity::find()
        .filter(case::Column::Due.lt(today))
        .filter(case::Column::Reply.is_null())
        .filter(case::Column::ClosedAt.is_null())
        .filter(case::Column::OverdueSentAt.is_null())
        .limit(1000)
        .all(&txn)
        .await?;
    for c in &late {
        case::Entity::update_many()
            .col_expr(case::Column::OverdueSentAt, Expr::value(crate::now()))
            .filter(case::Column::Id.eq(c.id))
            .exec(&txn)
            .await?;
        webhooks::enqueue(
            &txn,
            Event::CaseOverdue,
            c.agency_id,
            &event_data(&txn, c).await?,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(late.len() as u64)
}

/// An agency's id and its eight counts, as the database gives them.
type CountRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// The follow-up counts of the cases opened over `from..=to` by each of `agencies` (those
/// with none are absent): counted by the database, one row per agency, so that a report's
/// cost does not grow with its cases. The rule of each count is `CaseCounts::of`'s.
pub async fn counts_by_agency(
    conn: &impl ConnectionTrait,
    agencies: &[i64],
    (from, to): (NaiveDate, NaiveDate),
    (today, now): (NaiveDate, DateTime<Utc>),
) -> Result<std::collections::HashMap<i64, CaseCounts>> {
    use case::Column as C;
    let overdue = || status_condition(Status::Overdue, today, now);
    let dissatisfied = || C::ReplyRating.eq("dissatisfied");
    let late = || Expr::col(C::RepliedOn).gt(Expr::col(C::Due));
    let counted: [(&str, Condition); 7] = [
        ("answered", Condition::all().add(C::Reply.is_not_null())),
        (
            "on_time",
            Condition::all().add(Expr::col(C::RepliedOn).lte(Expr::col(C::Due))),
        ),
        ("overdue", overdue()),
        ("rated", Condition::all().add(C::ReplyRating.is_not_null())),
        ("dissatisfied", Condition::all().add(dissatisfied())),
        (
            "unhappy",
            Condition::any()
                .add(dissatisfied())
                .add(late())
                .add(overdue()),
        ),
        ("satisfied", Condition::all().add(C::Overall.gte(4))),
    ];
    let mut out = std::collections::HashMap::new();
    for chunk in agencies.chunks(5000) {
        let mut q = case::Entity::find()
            .select_only()
            .column(C::AgencyId)
            .column_as(Expr::expr(Func::count(Expr::col(C::Id))), "cases");
        for (name, condition) in &counted {
            q = q.column_as(
                Expr::expr(Func::count(Expr::case(condition.clone(), 1))),
                *name,
            );
        }
        let rows: Vec<CountRow> = q
            .filter(C::AgencyId.is_in(chunk.iter().copied()))
            .filter(C::OpenedOn.between(from, to))
            .filter(
                Condition::any()
                    .add(C::ClosedReason.is_null())
                    .add(C::ClosedReason.ne("excluded")),
            )
            .group_by(C::AgencyId)
            .into_tuple()
            .all(conn)
            .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        for (id, cases, answered, on_time, overdue, rated, dissatisfied, unhappy, satisfied) in rows
        {
            out.insert(
                id,
                CaseCounts {
                    cases: n(cases),
                    answered: n(answered),
                    answered_on_time: n(on_time),
                    overdue_open: n(overdue),
                    reply_rated: n(rated),
                    reply_dissatisfied: n(dissatisfied),
                    unhappy: n(unhappy),
                    satisfied_with_case: n(satisfied),
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhappy_ratings_and_asked_replies_open_cases() {
        assert!(opens(Some(1), false, false));
        assert!(opens(Some(2), false, false));
        assert!(!opens(Some(3), false, false));
        assert!(!opens(Some(5), true, false), "the tick needs a comment");
        assert!(opens(Some(5), true, true));
        assert!(!opens(None, false, true));
    }
}
