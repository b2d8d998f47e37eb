//! `/api/v1/agencies` and their desks.

use axum::extract::{DefaultBodyLimit, Path, Request};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiJson, ApiQuery, media_type, read_body};
use crate::domain::Role;
use crate::domain::period::parse_date;
use crate::org::reorganise::{self, AgencyHistory, NewReorganisation, Reorganisation};
use crate::org::{self, AgencyDto, DeskDto, ListedAgency, NewAgency, NewDesk, Rename};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agencies", get(list_agencies).post(create_agency))
        .route(
            "/api/v1/agencies/{code}",
            get(get_agency).patch(rename_agency),
        )
        .route(
            "/api/v1/agencies/{code}/desks",
            get(list_desks).post(create_desk),
        )
        .route("/api/v1/agencies/{code}/desks/{desk}", patch(rename_desk))
        .route("/api/v1/agencies/{code}/history", get(agency_history))
        .route(
            "/api/v1/reorganisations",
            get(list_reorganisations)
                .post(reorganise)
                .layer(DefaultBodyLimit::max(crate::collect::import::BODY_LIMIT)),
        )
}

/// The day a tree is read on.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OnDay {
    /// YYYY-MM-DD; today when left out.
    pub date: Option<String>,
}

/// The query of the CSV form of a reorganisation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CsvReorganisation {
    pub effective: Option<String>,
    pub reason: Option<String>,
}

/// Applies a reorganisation (administrators): merges, moves, renames and closures from an
/// effective date, all or nothing. JSON, or CSV with `effective` and `reason` in the query.
#[utoipa::path(post, path = "/api/v1/reorganisations", tag = "agencies", security(("bearer" = [])),
    params(CsvReorganisation),
    request_body(content((NewReorganisation = "application/json"), (String = "text/csv"))),
    responses(
        (status = 201, body = Reorganisation),
        (status = 400, body = ErrorBody), Denied,
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "a bad change (`field` `changes[i]` or `changes[i].KEY`; `row` in CSV)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn reorganise(
    caller: Caller,
    ApiQuery(query): ApiQuery<CsvReorganisation>,
    req: Request,
) -> Result<(StatusCode, Json<Reorganisation>)> {
    caller.by.require_role(&[Role::Admin])?;
    let mime = media_type(&req);
    if !matches!(mime.as_str(), "application/json" | "text/csv") {
        return Err(Error::new(
            super::error::Kind::UnsupportedMediaType,
            "unsupported_media_type",
            "send application/json or text/csv",
        ));
    }
    let bytes = read_body(req, &caller.state).await?;
    let input = if mime == "text/csv" {
        reorganise::parse_csv_body(query.effective.as_deref(), query.reason.as_deref(), &bytes)?
    } else {
        reorganise::parse_json_body(&bytes)?
    };
    let done = reorganise::reorganise(&caller.context(), input).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// The reorganisations applied, newest first.
#[utoipa::path(get, path = "/api/v1/reorganisations", tag = "agencies", security(("bearer" = [])),
    responses((status = 200, body = [Reorganisation]), Denied))]
#[tracing::instrument(skip_all)]
pub async fn list_reorganisations(caller: Caller) -> Result<Json<Vec<Reorganisation>>> {
    Ok(Json(reorganise::list(&caller.context()).await?))
}

/// An agency's names, parents, predecessors and successor over time.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/history", tag = "agencies", security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code")),
    responses((status = 200, body = AgencyHistory), Denied, (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn agency_history(
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<AgencyHistory>> {
    Ok(Json(
        reorganise::history(&caller.context(), &org::code_of(&code)?).await?,
    ))
}

/// Renames an agency (administrators); its code and history stay.
#[utoipa::path(patch, path = "/api/v1/agencies/{code}", tag = "agencies", security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code")), request_body = Rename,
    responses((status = 200, body = AgencyDto), Denied, (status = 404, body = ErrorBody),
        (status = 422, description = "invalid name", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn rename_agency(
    caller: Caller,
    Path(code): Path<String>,
    body: Result<ApiJson<Rename>, Error>,
) -> Result<Json<AgencyDto>> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    Ok(Json(
        org::rename_agency(&caller.context(), &org::code_of(&code)?, input).await?,
    ))
}

/// Renames a desk (administrators).
#[utoipa::path(patch, path = "/api/v1/agencies/{code}/desks/{desk}", tag = "agencies", security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code"), ("desk" = String, Path, description = "desk code")),
    request_body = Rename,
    responses((status = 200, body = DeskDto), Denied, (status = 404, body = ErrorBody),
        (status = 422, description = "invalid name", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn rename_desk(
    caller: Caller,
    Path((code, desk)): Path<(String, String)>,
    body: Result<ApiJson<Rename>, Error>,
) -> Result<Json<DeskDto>> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    Ok(Json(
        org::rename_desk(&caller.context(), &org::code_of(&code)?, &desk, input).await?,
    ))
}

/// The agencies the caller may see (all for administrators, their subtree for others) as
/// they stood on `date`: the agencies that existed that day, with that day's names and
/// parents.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", security(("bearer" = [])),
    params(OnDay),
    responses((status = 200, body = [ListedAgency]), (status = 401, body = ErrorBody),
        (status = 422, description = "invalid date", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_agencies(
    caller: Caller,
    ApiQuery(query): ApiQuery<OnDay>,
) -> Result<Json<Vec<ListedAgency>>> {
    let day = query
        .date
        .as_deref()
        .map(|d| parse_date(d).map_err(|e| crate::Error::invalid("date", e)))
        .transpose()?;
    Ok(Json(org::list_agencies(&caller.context(), day).await?))
}

/// Creates an agency (administrators).
#[utoipa::path(post, path = "/api/v1/agencies", tag = "agencies", security(("bearer" = [])),
    request_body = NewAgency,
    responses(
        (status = 201, body = AgencyDto),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        Denied,
        (status = 409, description = "the code exists", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "invalid field or unknown parent", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_agency(
    caller: Caller,
    body: Result<ApiJson<NewAgency>, Error>,
) -> Result<(StatusCode, Json<AgencyDto>)> {
    // The role is checked before the body, so that a caller without the role learns nothing
    // about what a valid body would be.
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    let created = org::create_agency(&caller.context(), input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One agency, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/agencies/{code}", tag = "agencies", security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code")),
    responses((status = 200, body = AgencyDto), Denied, (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_agency(caller: Caller, Path(code): Path<String>) -> Result<Json<AgencyDto>> {
    Ok(Json(
        org::get_agency(&caller.context(), &org::code_of(&code)?).await?,
    ))
}

/// The desks of an agency, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/desks", tag = "agencies",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code")),
    responses((status = 200, body = [DeskDto]), Denied, (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_desks(caller: Caller, Path(code): Path<String>) -> Result<Json<Vec<DeskDto>>> {
    Ok(Json(
        org::list_desks(&caller.context(), &org::code_of(&code)?).await?,
    ))
}

/// Creates a desk in an agency (administrators). Desk codes are unique within their agency.
#[utoipa::path(post, path = "/api/v1/agencies/{code}/desks", tag = "agencies",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "agency code")),
    request_body = NewDesk,
    responses(
        (status = 201, body = DeskDto),
        (status = 400, body = ErrorBody), Denied, (status = 404, description = "unknown agency", body = ErrorBody),
        (status = 409, description = "the desk code exists in this agency", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_desk(
    caller: Caller,
    Path(code): Path<String>,
    body: Result<ApiJson<NewDesk>, Error>,
) -> Result<(StatusCode, Json<DeskDto>)> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    let created = org::create_desk(&caller.context(), &org::code_of(&code)?, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
