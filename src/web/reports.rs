//! Reports over HTTP: the agency report and the annual ranking (JSON, CSV, XLSX), freezing,
//! verification and the year settings.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiJson, ApiQuery, parse_period, parse_year, year_up_to_next};
use crate::domain::{AgencyCode, Year};
use crate::report::agency::{self, AgencyReport};
use crate::report::annual::{self, AnnualReport, Verification, YearSettings, YearSettingsInput};
use crate::report::export::{self, ReportFormat, Table};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/agencies/{code}", get(agency_report))
        .route("/api/v1/reports/annual/{year}", get(annual_report))
        .route("/api/v1/reports/annual/{year}/freeze", post(freeze))
        .route("/api/v1/reports/annual/{year}/verify", get(verify))
        .route("/api/v1/reports/annual/{year}/canonical", get(canonical))
        .route(
            "/api/v1/reports/annual/{year}/settings",
            get(get_settings).put(put_settings),
        )
}

/// The query of an agency report.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today), inclusive.
    pub to: Option<String>,
    /// `json` (default).
    pub format: Option<String>,
    /// The day whose agency tree the figures are read on, `YYYY-MM-DD` (default: today, or
    /// the agency's last day if it has ended).
    pub as_of: Option<String>,
}

/// The query of the annual endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AnnualQuery {
    /// The agency whose direct children are ranked (default: the top-level agencies).
    pub parent: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// What the annual endpoints are asked: the query (422 `invalid_query`), then the year in
/// the path (422 naming `year`), then the parent (404 when it cannot be a code).
pub struct Annual {
    year: Year,
    parent: Option<AgencyCode>,
    format: Option<String>,
}

impl FromRequestParts<AppState> for Annual {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ApiQuery(q) = ApiQuery::<AnnualQuery>::from_request_parts(parts, state).await?;
        let Path(year) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::unprocessable("invalid_path", e.body_text()))?;
        Ok(Self {
            year: parse_year(&year, state.config.timezone)?,
            parent: annual::parent_code(q.parent.as_deref())?,
            format: q.format,
        })
    }
}

/// A report in the asked format: JSON, or its table as CSV or XLSX, downloaded as
/// `name.csv` / `name.xlsx`.
fn respond<T: Serialize>(
    format: ReportFormat,
    status: StatusCode,
    report: &T,
    table: impl FnOnce(&T) -> Table,
    name: &str,
) -> Result<Response> {
    let bytes = match format {
        ReportFormat::Json => return Ok((status, Json(report)).into_response()),
        ReportFormat::Csv => export::to_csv(&table(report))?,
        ReportFormat::Xlsx => export::to_xlsx(&table(report))?,
    };
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    Ok((
        status,
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// A file name made of the characters agency codes may hold.
fn file_name(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The figures of an agency and all its descendants over a period, and of each direct
/// child over its own subtree (PRODUCT.md, "The scoring method"). With no responses the
/// shares, means and intervals are `null`. `format=csv` (UTF-8 with a byte-order mark) and
/// `format=xlsx` give the same figures as a table.
#[utoipa::path(get, path = "/api/v1/reports/agencies/{code}", tag = "reports", security(("bearer" = [])),
    params(("code" = String, Path), ReportQuery),
    responses(
        (status = 200, description = "JSON; with `format=csv` or `format=xlsx` the same figures as a table", body = AgencyReport),
        Denied,
        (status = 404, description = "unknown agency", body = ErrorBody),
        (status = 422, description = "bad date, `from` after `to`, a period over 10 years, bad format", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn agency_report(
    caller: Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response> {
    let format = ReportFormat::parse(q.format.as_deref())?;
    let given = parse_period(q.from.as_deref(), q.to.as_deref())?;
    let code = crate::org::code_of(&code)?;
    let as_of = q
        .as_of
        .as_deref()
        .map(|d| {
            crate::domain::period::parse_date(d).map_err(|e| crate::Error::invalid("as_of", e))
        })
        .transpose()?;
    let report = agency::report(&caller.context(), &code, given, as_of).await?;
    let name = file_name(&[
        "bao-cao",
        &report.agency,
        &report.from.to_string(),
        &report.to.to_string(),
    ]);
    respond(format, StatusCode::OK, &report, export::agency_table, &name)
}

/// The annual ranking in the asked format, downloaded as `xep-hang-YEAR-PARENT.*`.
pub(crate) fn annual_file(
    format: ReportFormat,
    status: StatusCode,
    r: &AnnualReport,
) -> Result<Response> {
    let name = file_name(&[
        "xep-hang",
        &r.year.to_string(),
        r.parent.as_deref().unwrap_or(""),
    ]);
    respond(format, status, r, export::annual_table, &name)
}

/// The ranking of the direct children of `parent` (without it, of the top-level agencies,
/// for administrators) over the year, each over its whole subtree; the frozen report once
/// there is one, with `late_responses`. Band counts come with their change against the
/// previous year's frozen report.
#[utoipa::path(get, path = "/api/v1/reports/annual/{year}", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path), AnnualQuery),
    responses(
        (status = 200, description = "JSON; with `format=csv` or `format=xlsx` the same figures as a table", body = AnnualReport),
        Denied,
        (status = 404, description = "unknown parent", body = ErrorBody),
        (status = 422, description = "a year out of range, bad format", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn annual_report(caller: Caller, a: Annual) -> Result<Response> {
    let format = ReportFormat::parse(a.format.as_deref())?;
    let report = annual::ranking(&caller.context(), a.year, a.parent.as_ref()).await?;
    annual_file(format, StatusCode::OK, &report)
}

/// Freezes a past year's ranking: stores it with the method version, its parameters, the
/// cut-off and the SHA-256 of its canonical text. Administrators only.
#[utoipa::path(post, path = "/api/v1/reports/annual/{year}/freeze", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path), AnnualQuery),
    responses(
        (status = 201, body = AnnualReport),
        Denied,
        (status = 404, description = "unknown parent", body = ErrorBody),
        (status = 409, description = "already frozen, or the year has not ended", body = ErrorBody),
        (status = 422, description = "a year out of range", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn freeze(caller: Caller, a: Annual) -> Result<Response> {
    let format = ReportFormat::parse(a.format.as_deref())?;
    let report = annual::freeze(&caller.context(), a.year, a.parent.as_ref()).await?;
    annual_file(format, StatusCode::CREATED, &report)
}

/// Recomputes a frozen report from the stored responses and exclusions it covers (not from
/// the roll-ups) and compares the digests.
#[utoipa::path(get, path = "/api/v1/reports/annual/{year}/verify", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path), AnnualQuery),
    responses(
        (status = 200, body = Verification),
        Denied,
        (status = 404, description = "unknown parent, or not frozen", body = ErrorBody),
        (status = 422, description = "a year out of range", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn verify(caller: Caller, a: Annual) -> Result<Json<Verification>> {
    let stored = annual::frozen_report(&caller.context(), a.year, a.parent.as_ref()).await?;
    Ok(Json(
        annual::verify_stored(&caller.state.db.read, &stored).await?,
    ))
}

/// The exact canonical text of a frozen report: its SHA-256 is the published digest.
#[utoipa::path(get, path = "/api/v1/reports/annual/{year}/canonical", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path), AnnualQuery),
    responses(
        (status = 200, description = "the canonical JSON text", content_type = "application/json"),
        Denied,
        (status = 404, description = "unknown parent, or not frozen", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn canonical(caller: Caller, a: Annual) -> Result<Response> {
    let stored = annual::frozen_report(&caller.context(), a.year, a.parent.as_ref()).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], stored.body).into_response())
}

/// The band thresholds and minimum sample of a year (defaults when never set).
#[utoipa::path(get, path = "/api/v1/reports/annual/{year}/settings", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path)),
    responses((status = 200, body = YearSettings), Denied, (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn get_settings(caller: Caller, Path(year): Path<String>) -> Result<Json<YearSettings>> {
    let c = &caller.state.config;
    Ok(Json(
        annual::get_settings(&caller.context(), parse_year(&year, c.timezone)?).await?,
    ))
}

/// Sets a year's band thresholds (`outstanding` ≥ `good` ≥ `completed`, in percent) and its
/// minimum sample (`null`: the deployment's default). Reports frozen before keep theirs.
/// Administrators only.
#[utoipa::path(put, path = "/api/v1/reports/annual/{year}/settings", tag = "reports", security(("bearer" = [])),
    params(("year" = String, Path)), request_body = YearSettingsInput,
    responses((status = 200, body = YearSettings), Denied,
        (status = 422, description = "thresholds out of order, a year out of range", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn put_settings(
    caller: Caller,
    Path(year): Path<String>,
    ApiJson(input): ApiJson<YearSettingsInput>,
) -> Result<Json<YearSettings>> {
    let c = &caller.state.config;
    Ok(Json(
        annual::put_settings(
            &caller.context(),
            year_up_to_next(&year, c.timezone)?,
            input,
        )
        .await?,
    ))
}
