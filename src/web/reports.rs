//! Reports over HTTP.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::govern::Principal;
use crate::report::agency::{self, AgencyReport, ReportQuery};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/agencies/{code}", get(agency_report))
}

/// The figures of an agency and all its descendants over a period, and of each direct
/// child over its own subtree (PRODUCT.md, "The scoring method"). With no responses the
/// shares, means and intervals are `null`.
#[utoipa::path(get, path = "/api/v1/reports/agencies/{code}", tag = "reports", security(("bearer" = [])),
    params(("code" = String, Path), ReportQuery),
    responses(
        (status = 200, body = AgencyReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown agency", body = ErrorBody),
        (status = 422, description = "bad date, `from` after `to`, a period over 10 years, bad format", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn agency_report(
    State(state): State<AppState>,
    by: Principal,
    Path(code): Path<String>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<AgencyReport>> {
    let Query(query) =
        query.map_err(|e| ApiError::unprocessable("invalid_query", e.body_text()))?;
    match query.format.as_deref() {
        None | Some("") | Some("json") => {}
        Some(_) => {
            return Err(
                ApiError::unprocessable("invalid_format", "format is json").with_field("format")
            );
        }
    }
    Ok(Json(
        agency::report(&state.db, &by, state.config.timezone, &code, &query).await?,
    ))
}
