//! The staff's side of closing the loop over the API (API.md, "Closing the loop"): cases
//! and replies, the working-day calendar, dossier counts, webhooks.

use axum::extract::{DefaultBodyLimit, Path, Request};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiJson, ApiQuery, media_type, read_body, year_up_to_next};
use crate::domain::Role;
use crate::domain::period::parse_date;
use crate::follow::calendar::{self, CalendarInput, YearCalendar};
use crate::follow::cases::{self, CaseDto, CaseQuery, ReplyInput, Status};
use crate::follow::dossiers::{self, Counts, DayCounts};
use crate::follow::webhooks::{self, CreatedWebhook, DeliveryDto, NewWebhook, WebhookDto};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list_cases))
        .route("/api/v1/cases/{id}/reply", post(reply))
        .route(
            "/api/v1/calendar/{year}",
            get(get_calendar).put(put_calendar),
        )
        .route("/api/v1/dossiers/{agency}/{date}", put(put_dossiers))
        .route(
            "/api/v1/dossiers",
            post(import_dossiers).layer(DefaultBodyLimit::max(crate::collect::import::BODY_LIMIT)),
        )
        .route("/api/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/v1/webhooks/{id}", delete(delete_webhook))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// The query of `GET /api/v1/cases`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    pub agency: Option<String>,
    /// `open`, `overdue`, `answered` or `closed`.
    pub status: Option<String>,
    /// A desk's code.
    pub desk: Option<String>,
    /// Opened from this day (YYYY-MM-DD).
    pub from: Option<String>,
    /// Opened up to this day.
    pub to: Option<String>,
    /// At most this many cases (1–10,000; default 10,000).
    pub limit: Option<String>,
    /// Skip this many cases first (default 0).
    pub offset: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseList {
    pub cases: Vec<CaseDto>,
    /// How many cases the filters select, of which `cases` is the page from `offset`.
    pub total: u64,
    /// How many cases of the filters (whatever the status) are in each status.
    pub counts: cases::StatusCounts,
}

/// A paging number of a query: absent or empty is `None`; else an integer in `range`.
fn paging_of(
    raw: Option<&str>,
    field: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>> {
    raw.filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    crate::Error::invalid(
                        field,
                        crate::domain::Invalid::new(
                            "invalid_paging",
                            format!(
                                "{field} is a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        ),
                    )
                })
        })
        .transpose()
}

fn date_of(raw: Option<&str>, field: &str) -> Result<Option<chrono::NaiveDate>> {
    raw.filter(|r| !r.is_empty())
        .map(|r| parse_date(r).map_err(|e| crate::Error::invalid(field, e)))
        .transpose()
}

/// The cases of an agency's subtree: overdue first, then open, answered and closed.
#[utoipa::path(get, path = "/api/v1/cases", tag = "follow-up", security(("bearer" = [])),
    params(CasesQuery),
    responses((status = 200, body = CaseList), Denied, (status = 404, body = ErrorBody),
        (status = 422, description = "bad status or date", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_cases(
    caller: Caller,
    ApiQuery(q): ApiQuery<CasesQuery>,
) -> Result<Json<CaseList>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(Status::parse(raw).ok_or_else(|| {
            crate::Error::invalid(
                "status",
                crate::domain::Invalid::new("invalid_status", "open, overdue, answered or closed"),
            )
        })?),
        None => None,
    };
    let query = CaseQuery {
        agency: crate::org::code_of_opt(q.agency.as_deref().filter(|a| !a.is_empty()))?,
        status,
        desk: q.desk.filter(|d| !d.is_empty()),
        from: date_of(q.from.as_deref(), "from")?,
        to: date_of(q.to.as_deref(), "to")?,
        limit: paging_of(q.limit.as_deref(), "limit", 1..=cases::MAX_LISTED)?,
        offset: paging_of(q.offset.as_deref(), "offset", 0..=usize::MAX)?.unwrap_or(0),
    };
    let page = cases::list(&caller.context(), &query).await?;
    Ok(Json(CaseList {
        total: page.counts.selected(query.status),
        counts: page.counts,
        cases: page.cases,
    }))
}

/// Answers a case, once (administrators; managers within their scope).
#[utoipa::path(post, path = "/api/v1/cases/{id}/reply", tag = "follow-up", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReplyInput,
    responses((status = 200, body = CaseDto), Denied, (status = 404, body = ErrorBody),
        (status = 409, description = "answered already, or closed", body = ErrorBody),
        (status = 422, description = "empty, invisible or over 2,000 characters", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn reply(
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<ReplyInput>, Error>,
) -> Result<Json<CaseDto>> {
    caller.by.require_role(&[Role::Admin, Role::Manager])?;
    let id: i64 = id
        .parse()
        .map_err(|_| crate::Error::not_found("case_not_found", "there is no such case"))?;
    let ApiJson(input) = body?;
    Ok(Json(cases::reply(&caller.context(), id, input).await?))
}

/// A year's days off and make-up working days (the default: Vietnam's public holidays).
#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "follow-up", security(("bearer" = [])),
    params(("year" = String, Path)),
    responses((status = 200, body = YearCalendar), Denied, (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_calendar(caller: Caller, Path(year): Path<String>) -> Result<Json<YearCalendar>> {
    let year = year_up_to_next(&year, caller.state.config.timezone)?;
    Ok(Json(calendar::get(&caller.context(), year).await?))
}

/// Sets a year's days off and make-up working days (administrators).
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "follow-up", security(("bearer" = [])),
    params(("year" = String, Path)), request_body = CalendarInput,
    responses((status = 200, body = YearCalendar), Denied,
        (status = 422, description = "a date outside the year, or both off and worked", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn put_calendar(
    caller: Caller,
    Path(year): Path<String>,
    body: Result<ApiJson<CalendarInput>, Error>,
) -> Result<Json<YearCalendar>> {
    caller.by.require_role(&[Role::Admin])?;
    let year = year_up_to_next(&year, caller.state.config.timezone)?;
    let ApiJson(input) = body?;
    Ok(Json(calendar::put(&caller.context(), year, input).await?))
}

/// Replaces an agency's dossier counts of a day (administrators; integrators within scope).
#[utoipa::path(put, path = "/api/v1/dossiers/{agency}/{date}", tag = "follow-up", security(("bearer" = [])),
    params(("agency" = String, Path), ("date" = String, Path)), request_body = Counts,
    responses((status = 200, body = DayCounts), Denied,
        (status = 422, description = "negative or not whole, a future date, an unknown agency", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn put_dossiers(
    caller: Caller,
    Path((agency, date)): Path<(String, String)>,
    body: Result<ApiJson<Counts>, Error>,
) -> Result<Json<DayCounts>> {
    caller.by.require_role(&[Role::Admin, Role::Integrator])?;
    let ApiJson(input) = body?;
    Ok(Json(
        dossiers::put(&caller.context(), &agency, &date, input).await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub imported: u64,
}

/// Dossier counts as CSV `agency,date,received,resolved`, all or nothing.
#[utoipa::path(post, path = "/api/v1/dossiers", tag = "follow-up", security(("bearer" = [])),
    request_body(content((String = "text/csv"))),
    responses((status = 200, body = Imported), Denied, (status = 415, body = ErrorBody),
        (status = 422, description = "a bad row (see `row`)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn import_dossiers(caller: Caller, req: Request) -> Result<Json<Imported>> {
    caller.by.require_role(&[Role::Admin, Role::Integrator])?;
    if media_type(&req) != "text/csv" {
        return Err(Error::new(
            super::error::Kind::UnsupportedMediaType,
            "unsupported_media_type",
            "send text/csv: agency,date,received,resolved",
        ));
    }
    let bytes = read_body(req, &caller.state).await?;
    Ok(Json(Imported {
        imported: dossiers::import_csv(&caller.context(), &bytes).await?,
    }))
}

/// Registers a webhook (administrators); its secret is shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "follow-up", security(("bearer" = [])),
    request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), Denied,
        (status = 422, description = "not an http(s) URL, an unknown event", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_webhook(
    caller: Caller,
    body: Result<ApiJson<NewWebhook>, Error>,
) -> Result<(StatusCode, Json<CreatedWebhook>)> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    Ok((
        StatusCode::CREATED,
        Json(webhooks::create(&caller.context(), input).await?),
    ))
}

/// The live webhooks (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "follow-up", security(("bearer" = [])),
    responses((status = 200, body = [WebhookDto]), Denied))]
#[tracing::instrument(skip_all)]
pub async fn list_webhooks(caller: Caller) -> Result<Json<Vec<WebhookDto>>> {
    Ok(Json(webhooks::list(&caller.context()).await?))
}

fn webhook_id(raw: &str) -> Result<i64> {
    raw.parse()
        .map_err(|_| crate::Error::not_found("webhook_not_found", "there is no such webhook"))
}

/// Deletes a webhook (administrators).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "follow-up", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), Denied, (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn delete_webhook(caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    webhooks::delete(&caller.context(), webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "follow-up", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = [DeliveryDto]), Denied, (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn deliveries(caller: Caller, Path(id): Path<String>) -> Result<Json<Vec<DeliveryDto>>> {
    Ok(Json(
        webhooks::deliveries(&caller.context(), webhook_id(&id)?).await?,
    ))
}
