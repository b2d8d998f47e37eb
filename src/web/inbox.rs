//! The agency's inbox of cases (API.md, "Closing the loop"): overdue first, then open,
//! answered and closed; filtered by status, desk and the days they opened; each row with
//! the rating, the comment, the desk and a reply form. Pages call `crate::follow::cases`
//! like the API does.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::AppState;
use super::pages::shown;
use super::pages::{Chrome, Staff, StaffForm, see_other};
use crate::domain::Role;
use crate::domain::period::parse_date;
use crate::follow::cases::{self, CaseDto, CasePage, CaseQuery, ReplyInput, Status, StatusCounts};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(inbox))
        .route("/cases/{id}/reply", post(reply))
}

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    agency: Option<String>,
    status: Option<String>,
    desk: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// Cases on one page of the inbox.
const PER_PAGE: usize = 50;

struct Row {
    id: i64,
    opened: String,
    due: String,
    desk: String,
    rating: &'static str,
    comment: String,
    status: &'static str,
    overdue: bool,
    reply: Option<String>,
    can_reply: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    agency: String,
    name: String,
    q: InboxQuery,
    rows: Vec<Row>,
    counts: StatusCounts,
    back: String,
    /// "Cases 51–100 of 312" and the links to the pages around this one.
    shown: String,
    previous: Option<String>,
    next: Option<String>,
}

const LEVELS: [&str; 5] = [
    "Rất không hài lòng",
    "Không hài lòng",
    "Bình thường",
    "Hài lòng",
    "Rất hài lòng",
];

fn status_vi(s: Status) -> &'static str {
    match s {
        Status::Open => "Chờ trả lời",
        Status::Overdue => "Quá hạn",
        Status::Answered => "Đã trả lời",
        Status::Closed => "Đã kết thúc",
    }
}

async fn inbox(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<InboxQuery>,
) -> Response {
    shown(page(&state, &staff, q).await)
}

async fn page(state: &AppState, staff: &Staff, q: InboxQuery) -> crate::Result<InboxPage> {
    let by = &staff.signed_in.principal;
    let cx = state.context(by);
    let agencies = cx.agencies().await?;
    let code = match q.agency.as_deref().filter(|a| !a.is_empty()) {
        Some(code) => code.to_string(),
        None => by
            .agency_id
            .and_then(|id| agencies.get(id))
            .or_else(|| agencies.tree.roots().first().and_then(|&r| agencies.get(r)))
            .map(|a| a.code.clone())
            .unwrap_or_default(),
    };
    let agency = crate::org::code_of(&code)?;
    let (found, _) = cx.in_scope(&agency).await?;
    let date = |raw: &Option<String>, field: &str| {
        raw.as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| parse_date(r).map_err(|e| crate::Error::invalid(field, e)))
            .transpose()
    };
    let number = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| (1..=cases::MAX_LISTED).contains(p))
        .unwrap_or(1);
    let query = CaseQuery {
        agency: Some(agency),
        status: q.status.as_deref().and_then(Status::parse),
        desk: q.desk.clone().filter(|d| !d.is_empty()),
        from: date(&q.from, "from")?,
        to: date(&q.to, "to")?,
        limit: Some(PER_PAGE),
        offset: (number - 1) * PER_PAGE,
    };
    let CasePage {
        cases: found_cases,
        counts,
    } = cases::list(&cx, &query).await?;
    let total = counts.selected(query.status) as usize;
    let first = query.offset + 1;
    let last = query.offset + found_cases.len();
    let shown = if found_cases.is_empty() {
        String::new()
    } else {
        format!("Phản ánh {first}–{last} trong tổng số {total}")
    };
    let link = |n: usize| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("agency", &found.code);
        for (key, value) in [
            ("status", &q.status),
            ("desk", &q.desk),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                url.append_pair(key, v);
            }
        }
        url.append_pair("page", &n.to_string());
        format!("/cases?{}", url.finish())
    };
    let previous = (number > 1).then(|| link(number - 1));
    let next = (last < total).then(|| link(number + 1));
    let may_reply = matches!(by.role, Role::Admin | Role::Manager);
    let rows = found_cases
        .into_iter()
        .map(|c: CaseDto| Row {
            id: c.id,
            opened: c
                .opened_at
                .with_timezone(&state.config.timezone)
                .format("%d/%m/%Y %H:%M")
                .to_string(),
            due: c.due.format("%d/%m/%Y").to_string(),
            desk: c.desk.unwrap_or_default(),
            rating: usize::try_from(c.overall - 1)
                .ok()
                .and_then(|i| LEVELS.get(i))
                .copied()
                .unwrap_or(""),
            comment: c.comment.unwrap_or_default(),
            status: status_vi(c.status),
            overdue: c.status == Status::Overdue,
            can_reply: may_reply && matches!(c.status, Status::Open | Status::Overdue),
            reply: c.reply,
        })
        .collect();
    Ok(InboxPage {
        chrome: Chrome::of(&staff.signed_in),
        back: format!("/dashboard?agency={}", found.code),
        agency: found.code,
        name: found.name,
        q,
        rows,
        counts,
        shown,
        previous,
        next,
    })
}

async fn reply(Path(id): Path<String>, form: StaffForm) -> Response {
    let back = format!("/cases?agency={}", form.field("agency"));
    let done = async {
        let id: i64 = id
            .parse()
            .map_err(|_| crate::Error::not_found("case_not_found", "there is no such case"))?;
        cases::reply(
            &form.context(),
            id,
            ReplyInput {
                text: form.field("text"),
            },
        )
        .await
    };
    see_other(done.await.map(|_| back))
}
