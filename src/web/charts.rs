//! Charts over HTTP (same roles as reports), PNG or SVG by extension, and the bundled
//! fonts that SVG charts name.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiQuery, parse_period, year_or_this};
use crate::chart::render::{BOLD, FAMILY, REGULAR};
use crate::chart::{self, Image};
use crate::report::{annual, charts};

/// The query of every chart.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ChartQuery {
    /// The year (default: this year), for the ranking, trend and heat map.
    pub year: Option<String>,
    /// The agency whose children are shown (ranking, heat map).
    pub parent: Option<String>,
    /// First day, for the distribution (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day, for the distribution (default: today).
    pub to: Option<String>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/charts/{file}", get(province_chart))
        .route("/charts/agencies/{code}/{file}", get(agency_chart))
        .route("/assets/fonts/{file}", get(font))
}

fn nothing_here() -> Error {
    Error::not_found("not_found", "there is no such chart")
}

/// What a chart's address asks for: a picture, or the table of its figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Picture(Image),
    Csv,
}

/// `ranking.png` → ("ranking", PNG picture); `ranking.csv` → ("ranking", table).
fn split(file: &str) -> Result<(&str, Wanted)> {
    let (name, ext) = file.rsplit_once('.').ok_or_else(nothing_here)?;
    let wanted = match ext {
        "csv" => Wanted::Csv,
        _ => Wanted::Picture(Image::from_extension(ext).ok_or_else(nothing_here)?),
    };
    Ok((name, wanted))
}

/// SVG text names the bundled face; the picture says where to fetch it, so that every
/// viewer sets Vietnamese in the same font as the PNG.
fn with_fonts(svg: &[u8], base: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(svg);
    let style = format!(
        "<defs><style>@font-face{{font-family:\"{FAMILY}\";\
         src:url(\"{base}/assets/fonts/DejaVuSans.ttf\") format(\"truetype\")}}\
         @font-face{{font-family:\"{FAMILY}\";font-weight:bold;\
         src:url(\"{base}/assets/fonts/DejaVuSans-Bold.ttf\") format(\"truetype\")}}\
         </style></defs>"
    );
    match text.find('>') {
        Some(end) => format!("{}{style}{}", &text[..=end], &text[end + 1..]).into_bytes(),
        None => svg.to_vec(),
    }
}

async fn send(state: &AppState, chart: chart::Chart, wanted: Wanted) -> Result<Response> {
    let format = match wanted {
        Wanted::Picture(format) => format,
        Wanted::Csv => {
            let csv = super::pages::chart_csv(&chart)?;
            return Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CACHE_CONTROL, "private, max-age=60"),
                ],
                csv,
            )
                .into_response());
        }
    };
    let bytes = state.charts.render(chart, format).await?;
    let body = match format {
        Image::Png => bytes.to_vec(),
        Image::Svg => with_fonts(&bytes, &state.config.public_url),
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        body,
    )
        .into_response())
}

/// `ranking.{png,svg}?year&parent` (the annual ranking: bars in rank order, Wilson
/// whiskers, coloured by band) and `heatmap.{png,svg}?year&parent` (children × months).
#[utoipa::path(get, path = "/charts/{file}", tag = "charts", security(("bearer" = [])),
    params(("file" = String, Path, description = "ranking or heatmap, then .png, .svg or .csv (the table of its figures)"), ChartQuery),
    responses(
        (status = 200, description = "the picture", content_type = "image/png"),
        Denied,
        (status = 404, description = "unknown chart or parent", body = ErrorBody),
        (status = 422, description = "a bad year", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn province_chart(
    caller: Caller,
    Path(file): Path<String>,
    ApiQuery(q): ApiQuery<ChartQuery>,
) -> Result<Response> {
    let (name, format) = split(&file)?;
    let c = &caller.state.config;
    let parent = || annual::parent_code(q.parent.as_deref());
    let chart = match name {
        "ranking" => {
            let year = year_or_this(q.year.as_deref(), c.timezone)?;
            charts::ranking(&caller.context(), year, parent()?.as_ref()).await?
        }
        "heatmap" => {
            let year = year_or_this(q.year.as_deref(), c.timezone)?;
            charts::heatmap(&caller.context(), year, parent()?.as_ref()).await?
        }
        _ => return Err(nothing_here()),
    };
    send(&caller.state, chart, format).await
}

/// `trend.{png,svg}?year` (the monthly share with its interval, against the parent) and
/// `distribution.{png,svg}?from&to` (answers 1–5 per question).
#[utoipa::path(get, path = "/charts/agencies/{code}/{file}", tag = "charts", security(("bearer" = [])),
    params(("code" = String, Path), ("file" = String, Path, description = "trend or distribution, then .png, .svg or .csv (the table of its figures)"), ChartQuery),
    responses(
        (status = 200, description = "the picture", content_type = "image/png"),
        Denied,
        (status = 404, description = "unknown chart or agency", body = ErrorBody),
        (status = 422, description = "a bad year or dates", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn agency_chart(
    caller: Caller,
    Path((code, file)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ChartQuery>,
) -> Result<Response> {
    let (name, format) = split(&file)?;
    let tz = caller.state.config.timezone;
    let chart = match name {
        "trend" => {
            let year = year_or_this(q.year.as_deref(), tz)?;
            charts::trend(&caller.context(), &crate::org::code_of(&code)?, year).await?
        }
        "distribution" => {
            let given = parse_period(q.from.as_deref(), q.to.as_deref())?;
            let code = crate::org::code_of(&code)?;
            charts::distribution(&caller.context(), &code, given).await?
        }
        _ => return Err(nothing_here()),
    };
    send(&caller.state, chart, format).await
}

/// The bundled fonts (DejaVu, Bitstream Vera licence: `assets/fonts/LICENSE-DejaVu.txt`).
pub async fn font(Path(file): Path<String>) -> Result<Response> {
    let bytes = match file.as_str() {
        "DejaVuSans.ttf" => REGULAR,
        "DejaVuSans-Bold.ttf" => BOLD,
        _ => return Err(Error::not_found("not_found", "there is no such font")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "font/ttf"),
            (header::CACHE_CONTROL, "public, max-age=604800"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        bytes,
    )
        .into_response())
}
