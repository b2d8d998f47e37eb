//! `POST /api/v1/links` and the QR code images of a link.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::ApiJson;
use crate::collect::links::{self, Created, LinkDto, NewLink, Revoked};
use crate::collect::qr;
use crate::domain::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/links", post(create_link))
        .route("/api/v1/links/{token}/revoke", post(revoke_link))
        .route(
            "/api/v1/agencies/{code}/desks/{desk}/rotate",
            post(rotate_desk),
        )
        .route("/r/{token}/qr.png", get(qr_png))
        .route("/r/{token}/qr.svg", get(qr_svg))
}

/// Creates a rating link (administrators, and integrators within their scope). A single-use
/// link whose `reference` already has one answers 200 with that same link.
#[utoipa::path(post, path = "/api/v1/links", tag = "links", security(("bearer" = [])),
    request_body = NewLink,
    responses(
        (status = 201, body = LinkDto), (status = 200, description = "the reference's existing link", body = LinkDto),
        (status = 400, body = ErrorBody), Denied,
        (status = 404, description = "unknown agency or desk", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "expires_at in the past, unknown questionnaire, bad field", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn create_link(
    caller: Caller,
    body: Result<ApiJson<NewLink>, Error>,
) -> Result<(StatusCode, Json<LinkDto>)> {
    caller.by.require_role(&[Role::Admin, Role::Integrator])?;
    let ApiJson(input) = body?;
    match links::create(&caller.context(), input).await? {
        Created::New(link) => Ok((StatusCode::CREATED, Json(link))),
        Created::Existing(link) => Ok((StatusCode::OK, Json(link))),
    }
}

/// Withdraws a link: from then on it answers 410 `link_revoked` (administrators, and
/// integrators within their scope). Revoking twice answers the first revocation.
#[utoipa::path(post, path = "/api/v1/links/{token}/revoke", tag = "links", security(("bearer" = [])),
    params(("token" = String, Path)),
    responses((status = 200, body = Revoked), Denied,
        (status = 404, description = "unknown token", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn revoke_link(caller: Caller, Path(token): Path<String>) -> Result<Json<Revoked>> {
    Ok(Json(links::revoke(&caller.context(), &token).await?))
}

/// Gives a desk a new permanent link (its new QR card) and withdraws its previous
/// permanent links, card and kiosk (administrators): for a leaked code.
#[utoipa::path(post, path = "/api/v1/agencies/{code}/desks/{desk}/rotate", tag = "links", security(("bearer" = [])),
    params(("code" = String, Path), ("desk" = String, Path)),
    responses((status = 201, body = LinkDto), Denied,
        (status = 404, description = "unknown agency or desk", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn rotate_desk(
    caller: Caller,
    Path((code, desk)): Path<(String, String)>,
) -> Result<(StatusCode, Json<LinkDto>)> {
    let code = crate::org::code_of(&code)?;
    let link = links::rotate(&caller.context(), &code, &desk).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// The link's QR code as PNG (error correction M, quiet zone, 10 px modules).
#[utoipa::path(get, path = "/r/{token}/qr.png", tag = "links",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = ErrorBody)))]
pub async fn qr_png(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let url = known_url(&state, &token).await?;
    let png = tokio::task::spawn_blocking(move || qr::png(&url))
        .await
        .map_err(Error::internal)??;
    Ok(image(png, "image/png"))
}

/// The link's QR code as SVG.
#[utoipa::path(get, path = "/r/{token}/qr.svg", tag = "links",
    params(("token" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = ErrorBody)))]
pub async fn qr_svg(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let url = known_url(&state, &token).await?;
    Ok(image(qr::svg(&url)?, "image/svg+xml"))
}

fn image(body: impl IntoResponse, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // A link's URL never changes.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// The URL of an existing link (expired or used links keep their printed codes).
async fn known_url(state: &AppState, token: &str) -> Result<String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let found = entity::rating_link::Entity::find()
        .filter(entity::rating_link::Column::Token.eq(token))
        .one(&state.db.read)
        .await?;
    match found {
        Some(link) => Ok(links::link_url(&state.config.public_url, &link.token)),
        None => Err(link_not_found()),
    }
}

pub fn link_not_found() -> Error {
    Error::not_found("link_not_found", "there is no rating link with this token")
}
