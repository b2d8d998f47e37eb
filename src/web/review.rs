//! Trust in the figures over HTTP: the integrity rules, the review of held ratings, and
//! decisions on them (API.md, "Trust in the figures").

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiJson, ApiQuery, parse_period};
use crate::collect::integrity::{self, Rules};
use crate::collect::review::{self, Bulk, BulkDecided, Decided, ReviewList};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrity/rules", get(get_rules).put(put_rules))
        .route("/api/v1/review", get(held))
        .route("/api/v1/review/release", post(release_many))
        .route("/api/v1/review/exclude", post(exclude_many))
        .route("/api/v1/responses/{id}/release", post(release))
}

/// The rules that hold ratings for review; a value of 0 turns a rule off.
#[utoipa::path(get, path = "/api/v1/integrity/rules", tag = "review", security(("bearer" = [])),
    responses((status = 200, body = Rules), Denied))]
pub async fn get_rules(caller: Caller) -> Result<Json<Rules>> {
    Ok(Json(integrity::get_rules(&caller.context()).await?))
}

/// Sets the rules (administrators), audited; every server applies them from its next
/// batch of ratings.
#[utoipa::path(put, path = "/api/v1/integrity/rules", tag = "review", security(("bearer" = [])),
    request_body = Rules,
    responses((status = 200, body = Rules), Denied,
        (status = 422, description = "a rule missing, negative, not a whole number or absurd: `invalid_rules`", body = ErrorBody)))]
pub async fn put_rules(
    caller: Caller,
    body: Result<ApiJson<serde_json::Value>, Error>,
) -> Result<Json<Rules>> {
    caller.by.require_role(&[crate::domain::Role::Admin])?;
    let ApiJson(body) = body?;
    Ok(Json(integrity::put_rules(&caller.context(), &body).await?))
}

/// The query of the review list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// The agency whose subtree is reviewed; by default the caller's own (every agency for
    /// administrators).
    pub agency: Option<String>,
    /// First day, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// The held ratings, oldest first (at most 10,000). Administrators; managers and viewers
/// within their scope.
#[utoipa::path(get, path = "/api/v1/review", tag = "review", security(("bearer" = [])),
    params(ReviewQuery),
    responses((status = 200, body = ReviewList), Denied,
        (status = 404, description = "unknown agency", body = ErrorBody),
        (status = 422, description = "bad date or period", body = ErrorBody)))]
pub async fn held(caller: Caller, ApiQuery(q): ApiQuery<ReviewQuery>) -> Result<Json<ReviewList>> {
    let period = parse_period(q.from.as_deref(), q.to.as_deref())?;
    let agency = crate::org::code_of_opt(q.agency.as_deref())?;
    Ok(Json(
        review::held(&caller.context(), agency.as_ref(), period).await?,
    ))
}

/// Releases a held rating into the figures (administrators).
#[utoipa::path(post, path = "/api/v1/responses/{id}/release", tag = "review", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Decided), Denied,
        (status = 404, description = "no such response", body = ErrorBody),
        (status = 409, description = "not held: `not_held`", body = ErrorBody)))]
pub async fn release(caller: Caller, Path(id): Path<String>) -> Result<Json<Decided>> {
    caller.by.require_role(&[crate::domain::Role::Admin])?;
    let id: i64 = id
        .parse()
        .map_err(|_| Error::not_found("response_not_found", "there is no response with this id"))?;
    Ok(Json(review::release(&caller.context(), id).await?))
}

/// Releases many held ratings at once, all or nothing (administrators).
#[utoipa::path(post, path = "/api/v1/review/release", tag = "review", security(("bearer" = [])),
    request_body = Bulk,
    responses((status = 200, body = BulkDecided), Denied,
        (status = 409, description = "one of them is not held: `not_held`", body = ErrorBody),
        (status = 422, description = "no ids, over 10,000, duplicates or unknown ids", body = ErrorBody)))]
pub async fn release_many(
    caller: Caller,
    body: Result<ApiJson<Bulk>, Error>,
) -> Result<Json<BulkDecided>> {
    decide_many(caller, body, true).await
}

/// Excludes many ratings (held or counted) at once with one reason, all or nothing
/// (administrators).
#[utoipa::path(post, path = "/api/v1/review/exclude", tag = "review", security(("bearer" = [])),
    request_body = Bulk,
    responses((status = 200, body = BulkDecided), Denied,
        (status = 422, description = "no ids, over 10,000, duplicates, unknown ids, or no reason", body = ErrorBody)))]
pub async fn exclude_many(
    caller: Caller,
    body: Result<ApiJson<Bulk>, Error>,
) -> Result<Json<BulkDecided>> {
    decide_many(caller, body, false).await
}

/// The role first (403 before any look at the body), then the decision.
async fn decide_many(
    caller: Caller,
    body: Result<ApiJson<Bulk>, Error>,
    release: bool,
) -> Result<Json<BulkDecided>> {
    caller.by.require_role(&[crate::domain::Role::Admin])?;
    let ApiJson(bulk) = body?;
    let decided = review::decide_many(&caller.context(), release, bulk).await?;
    Ok(Json(decided))
}
