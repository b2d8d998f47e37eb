//! The ratings of an agency as a list (`/admin/responses`), a page at a time, where an
//! administrator ticks ratings and excludes them with one reason (all or nothing, as
//! `POST /api/v1/responses/exclude`). Managers and viewers see the list without the form.

use super::*;
use crate::collect::listing::{self, ListedResponse};
use crate::collect::review::{self, Bulk};
use crate::collect::store::Channel;
use crate::rollup::Status;

/// Ratings on one page.
const PER_PAGE: u64 = 100;

/// The query of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListPageQuery {
    pub agency: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The last rating of the page before.
    pub after: Option<String>,
    /// How many ratings the last decision excluded.
    pub excluded: Option<String>,
}

struct Line {
    id: i64,
    when: String,
    place: String,
    channel: String,
    answers: String,
    comment: String,
    status: &'static str,
    /// Whether the rating may still be excluded, and whether it was ticked.
    open: bool,
    ticked: bool,
}

#[derive(Template)]
#[template(path = "responses.html")]
struct ListPage {
    chrome: Chrome,
    agency: String,
    from: String,
    to: String,
    after: String,
    lines: Vec<Line>,
    next: Option<String>,
    first: Option<String>,
    may_exclude: bool,
    /// What the last action did, or why it was refused.
    done: Option<String>,
    error: Option<String>,
    reason: String,
}

fn status_vi(s: Status) -> &'static str {
    match s {
        Status::Counted => "Đã tính",
        Status::Held => "Chờ xem xét",
        Status::Excluded => "Đã loại",
    }
}

/// The list as asked by `q`, with the ticks and reason of a refused form.
async fn view(
    state: &AppState,
    staff: &Staff,
    q: &ListPageQuery,
    refused: Option<(&Error, &[i64], String)>,
) -> Result<ListPage, Error> {
    let by = &staff.signed_in.principal;
    let tz = state.config.timezone;
    let given = |raw: &Option<String>| raw.clone().filter(|v| !v.trim().is_empty());
    let (agency, from, to) = (given(&q.agency), given(&q.from), given(&q.to));
    let period = Period::parse(from.as_deref(), to.as_deref())
        .map_err(|(field, e)| Error::invalid(field, e))?;
    let code = crate::org::code_of_opt(agency.as_deref())?;
    let after = match given(&q.after) {
        Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
            Error::invalid(
                "after",
                crate::domain::Invalid::new("invalid_after", "`after` is a rating's id"),
            )
        })?),
        None => None,
    };
    let cx = state.context(by);
    let listed = listing::page(&cx, code.as_ref(), period, after, PER_PAGE).await?;
    let ticked: &[i64] = refused.as_ref().map_or(&[], |r| r.1);
    let time = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string()
    };
    let line = |r: &ListedResponse| Line {
        id: r.id,
        when: time(r.submitted_at),
        place: match &r.desk {
            Some(d) => format!("{} · {d}", r.agency),
            None => r.agency.clone(),
        },
        channel: Channel::parse(&r.channel).map_or(r.channel.clone(), |c| c.name_vi().to_string()),
        // The overall answer first, then the elements in the questionnaire's order.
        answers: std::iter::once(crate::score::OVERALL)
            .chain(crate::score::ELEMENTS.iter().copied())
            .filter_map(|k| {
                let v = r.answers.get(k)?;
                Some(format!("{}: {v}", crate::report::export::element_label(k)))
            })
            .collect::<Vec<_>>()
            .join(", "),
        comment: r.comment.clone().unwrap_or_default(),
        status: status_vi(r.status),
        open: r.status != Status::Excluded,
        ticked: ticked.contains(&r.id),
    };
    let lines: Vec<Line> = listed.iter().map(line).collect();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("agency", &agency), ("from", &from), ("to", &to)] {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    let base = format!("/admin/responses?{}", query.finish());
    let next = (listed.len() as u64 == PER_PAGE)
        .then(|| listed.last().map(|r| format!("{base}&after={}", r.id)))
        .flatten();
    let done = q
        .excluded
        .as_deref()
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| format!("Đã loại {} phiếu khỏi số liệu.", vn_count(n)));
    let (error, reason) = match refused {
        Some((e, _, reason)) => (Some(message_vi(e)), reason),
        None => (None, String::new()),
    };
    Ok(ListPage {
        chrome: Chrome::of(&staff.signed_in),
        agency: agency.unwrap_or_default(),
        from: from.unwrap_or_default(),
        to: to.unwrap_or_default(),
        after: after.map(|a| a.to_string()).unwrap_or_default(),
        lines,
        next,
        first: after.is_some().then_some(base),
        may_exclude: by.role == Role::Admin,
        done,
        error,
        reason,
    })
}

pub(super) async fn list_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<ListPageQuery>,
) -> Response {
    shown(view(&state, &staff, &q, None).await)
}

/// Excludes the ticked ratings (`id`, repeated) with `reason`; back to the same page.
pub(super) async fn exclude(form: StaffForm) -> Response {
    let q = ListPageQuery {
        agency: form.optional("agency"),
        from: form.optional("from"),
        to: form.optional("to"),
        after: form.optional("after"),
        excluded: None,
    };
    let ids: Vec<i64> = form
        .all("id")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let reason = form.field("reason");
    let decided = if ids.is_empty() {
        Err(Error::unprocessable(
            "no_ratings_ticked",
            "tick at least one rating",
        ))
    } else {
        let bulk = Bulk {
            ids: ids.clone(),
            reason: Some(reason.clone()),
        };
        review::decide_many(&form.context(), false, bulk).await
    };
    match decided {
        Ok(done) => {
            let mut back = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("agency", &q.agency),
                ("from", &q.from),
                ("to", &q.to),
                ("after", &q.after),
            ] {
                if let Some(v) = v {
                    back.append_pair(k, v);
                }
            }
            back.append_pair("excluded", &done.ids.len().to_string());
            see_other(Ok(format!("/admin/responses?{}", back.finish())))
        }
        Err(e) => {
            let status = crate::web::error::status_of(e.kind);
            match view(&form.state, &form.staff, &q, Some((&e, &ids, reason))).await {
                Ok(page) => render(status, &page),
                Err(_) => error_page(e),
            }
        }
    }
}
