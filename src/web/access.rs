//! `/api/v1/keys` and `/api/v1/users` (administrators): listing, creating, revoking keys,
//! and adding, disabling, enabling users.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::ApiJson;
use crate::domain::Role;
use crate::govern::access::{self, KeyDto, UserDto};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/keys", get(list_keys).post(create_key))
        .route("/api/v1/keys/{id}/revoke", post(revoke_key))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}/disable", post(disable_user))
        .route("/api/v1/users/{name}/enable", post(enable_user))
}

/// The body of `POST /api/v1/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub role: String,
    pub agency: Option<String>,
    pub name: Option<String>,
}

/// A new key: `key` is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub stored: KeyDto,
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: String,
    pub agency: Option<String>,
}

fn role(raw: &str) -> Result<Role> {
    raw.parse().map_err(|_| {
        Error::unprocessable(
            "invalid_role",
            "role is admin, manager, viewer or integrator",
        )
        .with_field("role")
    })
}

/// Every API key, never the key itself (administrators).
#[utoipa::path(get, path = "/api/v1/keys", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = [KeyDto]), Denied))]
pub async fn list_keys(caller: Caller) -> Result<Json<Vec<KeyDto>>> {
    Ok(Json(access::list_keys(&caller.context()).await?))
}

/// Creates an API key (administrators); the key is in this answer only.
#[utoipa::path(post, path = "/api/v1/keys", tag = "access", security(("bearer" = [])), request_body = NewKey,
    responses((status = 201, body = CreatedKey), Denied,
        (status = 422, body = ErrorBody)))]
pub async fn create_key(
    caller: Caller,
    body: Result<ApiJson<NewKey>, Error>,
) -> Result<(StatusCode, Json<CreatedKey>)> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    let role = role(&input.role)?;
    let (key, stored) = access::create_key(
        &caller.context(),
        role,
        input.agency.as_deref(),
        input.name.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, stored })))
}

/// Revokes a key: it answers 401 from the next request on (administrators).
#[utoipa::path(post, path = "/api/v1/keys/{id}/revoke", tag = "access", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = KeyDto), Denied,
        (status = 404, body = ErrorBody)))]
pub async fn revoke_key(caller: Caller, Path(id): Path<String>) -> Result<Json<KeyDto>> {
    caller.by.require_role(&[Role::Admin])?;
    let id: i64 = id
        .parse()
        .map_err(|_| Error::not_found("key_not_found", "there is no key with this id"))?;
    Ok(Json(access::revoke_key(&caller.context(), id).await?))
}

/// Every web user with role, agency and whether active (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = [UserDto]), Denied))]
pub async fn list_users(caller: Caller) -> Result<Json<Vec<UserDto>>> {
    Ok(Json(access::list_users(&caller.context()).await?))
}

/// Adds a web user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "access", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserDto), Denied,
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_user(
    caller: Caller,
    body: Result<ApiJson<NewUser>, Error>,
) -> Result<(StatusCode, Json<UserDto>)> {
    caller.by.require_role(&[Role::Admin])?;
    let ApiJson(input) = body?;
    let role = role(&input.role)?;
    let user = access::add_user(
        &caller.context(),
        &input.username,
        &input.password,
        role,
        input.agency.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Disables a user: no sign-in, and every session of theirs ends at once (administrators).
#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "access", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = UserDto), Denied,
        (status = 404, body = ErrorBody)))]
pub async fn disable_user(caller: Caller, Path(name): Path<String>) -> Result<Json<UserDto>> {
    Ok(Json(
        access::set_active(&caller.context(), &name, false).await?,
    ))
}

/// Enables a disabled user again (administrators).
#[utoipa::path(post, path = "/api/v1/users/{name}/enable", tag = "access", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = UserDto), Denied,
        (status = 404, body = ErrorBody)))]
pub async fn enable_user(caller: Caller, Path(name): Path<String>) -> Result<Json<UserDto>> {
    Ok(Json(
        access::set_active(&caller.context(), &name, true).await?,
    ))
}
