//! `/api/v1/agencies` and their desks.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::ApiJson;
use crate::domain::Role;
use crate::org::{self, AgencyDto, DeskDto, NewAgency, NewDesk, Rename};

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

/// The agencies the caller may see: all for administrators, their subtree for others.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", security(("bearer" = [])),
    responses((status = 200, body = [AgencyDto]), (status = 401, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list_agencies(caller: Caller) -> Result<Json<Vec<AgencyDto>>> {
    Ok(Json(org::list_agencies(&caller.context()).await?))
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
