//! The annual ranking page with its freeze button, and the public page of frozen rankings.

use super::figure::{self, ChartBlock};
use super::*;
use crate::domain::AgencyCode;
use crate::report::export::ReportFormat;

/// One row of a ranking table, formatted.
struct RankRow {
    rank: String,
    name: String,
    responses: String,
    pct: String,
    ci: String,
    index: String,
    band: &'static str,
}

fn rank_rows(rows: &[Row]) -> Vec<RankRow> {
    rows.iter()
        .map(|r| RankRow {
            rank: r.rank.map_or("–".into(), |n| n.to_string()),
            name: r.name.clone(),
            responses: vn_count(r.responses),
            pct: pct_text(r.satisfaction_pct),
            ci: ci_text(r.ci95),
            index: pct_text(r.index),
            band: r.band.name_vi(),
        })
        .collect()
}

fn thresholds(b: &Bands) -> String {
    format!(
        "xuất sắc ≥ {}, tốt ≥ {}, hoàn thành ≥ {}",
        vn(b.outstanding),
        vn(b.good),
        vn(b.completed)
    )
}

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    chrome: Chrome,
    year: i32,
    parent: String,
    whose: String,
    frozen: bool,
    frozen_at: String,
    digest: String,
    late: String,
    verify_href: String,
    public_href: String,
    can_freeze: bool,
    bands: Vec<(String, String, String)>,
    links: Vec<(String, String)>,
    min_responses: u64,
    thresholds: String,
    rows: Vec<RankRow>,
    chart: ChartBlock,
    heatmap: ChartBlock,
    interval: &'static str,
}

/// The query of the annual page.
#[derive(Debug, Default, Deserialize)]
pub struct AnnualPageQuery {
    pub year: Option<String>,
    pub parent: Option<String>,
}

pub(super) async fn annual_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AnnualPageQuery>,
) -> Response {
    let by = &staff.signed_in.principal;
    let tz = state.config.timezone;
    let today = crate::now().with_timezone(&tz).date_naive();
    let parent = annual::parent_code(q.parent.as_deref());
    let year = match q.year.as_deref() {
        Some(raw) => parse_year(raw, tz),
        None => Ok(Year::of(today).previous()),
    };
    let cx = state.context(by);
    let ranked = match (year, parent) {
        (Ok(year), Ok(parent)) => annual::ranking(&cx, year, parent.as_ref()).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let report = match ranked {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let whose = match annual::whose(&cx, &report).await {
        Ok(whose) => whose,
        Err(e) => return error_page(e),
    };
    let charts = async {
        let query = format!(
            "year={}&parent={}",
            report.year,
            report.parent.as_deref().unwrap_or_default()
        );
        let at = |name: &str| (format!("/charts/{name}"), query.clone());
        if report.rows.len() > figure::INLINE_ROWS {
            let year = report.year;
            return Ok((
                figure::linked(
                    at("ranking"),
                    format!("Biểu đồ xếp hạng năm {year}: {whose}"),
                ),
                figure::linked(
                    at("heatmap"),
                    format!("Bản đồ nhiệt theo tháng năm {year}: {whose}"),
                ),
            ));
        }
        let chart = crate::report::charts::ranking_chart(&report, &whose);
        let chart = figure::block(&state, chart, at("ranking")).await?;
        let year = Year::stored(report.year);
        let parent = annual::parent_code(report.parent.as_deref())?;
        let heatmap = crate::report::charts::heatmap(&cx, year, parent.as_ref()).await?;
        let heatmap = figure::block(&state, heatmap, at("heatmap")).await?;
        Ok::<_, Error>((chart, heatmap))
    };
    let charts = match charts.await {
        Ok(charts) => charts,
        Err(e) => return error_page(e),
    };
    let page = annual_view(&staff, &report, whose, (today.year(), tz), charts);
    render(StatusCode::OK, &page)
}

fn annual_view(
    staff: &Staff,
    r: &AnnualReport,
    whose: String,
    (this_year, tz): (i32, chrono_tz::Tz),
    (chart, heatmap): (ChartBlock, ChartBlock),
) -> AnnualPage {
    let parent = r.parent.clone().unwrap_or_default();
    let api = format!("/api/v1/reports/annual/{}?parent={parent}", r.year);
    let mut links = vec![
        ("Tải CSV".to_string(), format!("{api}&format=csv")),
        ("Tải Excel".to_string(), format!("{api}&format=xlsx")),
        ("JSON".to_string(), api.clone()),
    ];
    if r.frozen {
        links.push((
            "Văn bản chuẩn (để kiểm tra SHA-256)".to_string(),
            format!(
                "/api/v1/reports/annual/{}/canonical?parent={parent}",
                r.year
            ),
        ));
    }
    let bands = Band::ALL
        .iter()
        .map(|b| {
            let c = r.band_counts.get(b.as_str());
            let count = c.map_or(0, |c| c.count);
            let change = match c.and_then(|c| c.previous.zip(c.change)) {
                Some((prev, change)) => format!("năm trước {prev} ({change:+})"),
                None => "chưa có năm trước đã chốt".to_string(),
            };
            (b.name_vi().to_string(), count.to_string(), change)
        })
        .collect();
    AnnualPage {
        chrome: Chrome::of(&staff.signed_in),
        year: r.year,
        whose,
        frozen: r.frozen,
        frozen_at: r
            .frozen_at
            .map(|t| t.with_timezone(&tz).format("%H:%M %d/%m/%Y").to_string())
            .unwrap_or_default(),
        digest: r.digest.clone().unwrap_or_default(),
        late: r.late_responses.map_or("0".into(), vn_count),
        verify_href: format!("/reports/annual/verify?year={}&parent={parent}", r.year),
        public_href: format!("/public/annual/{}?parent={parent}", r.year),
        can_freeze: staff.signed_in.principal.role == Role::Admin
            && !r.frozen
            && r.year < this_year,
        bands,
        links,
        min_responses: r.min_responses,
        thresholds: thresholds(&r.bands),
        rows: rank_rows(&r.rows),
        chart,
        heatmap,
        interval: figure::INTERVAL,
        parent,
    }
}

#[derive(Template)]
#[template(path = "freeze_check.html")]
struct FreezeCheckPage {
    chrome: Chrome,
    year: i32,
    parent: String,
    whose: String,
    back: String,
    public_href: String,
    /// Why it cannot be frozen now, in Vietnamese.
    blocked: Option<String>,
    error: Option<String>,
    responses: String,
    bands: Vec<(&'static str, u64)>,
    /// Units with fewer ratings than the minimum: name and count.
    insufficient: Vec<(String, String)>,
    empty: usize,
    held: u64,
    paper_forms: String,
    last_paper_form: Option<String>,
    min_responses: u64,
    thresholds: String,
    rows: Vec<RankRow>,
}

/// Why freezing is refused, in Vietnamese.
fn refusal_vi(e: &Error, year: i32) -> String {
    match e.code {
        "already_frozen" => format!("Xếp hạng năm {year} của cơ quan này đã được chốt."),
        "year_not_ended" => {
            format!(
                "Năm {year} chưa kết thúc: chỉ chốt được từ ngày 01/01/{}.",
                year + 1
            )
        }
        "review_pending" => format!(
            "Còn phiếu của năm {year} đang chờ xem xét: hãy chấp nhận hoặc loại các phiếu đó trước khi chốt."
        ),
        _ => e.message.clone(),
    }
}

/// The check before freezing, with `error` when a confirmation was missing or refused.
async fn freeze_check_view(
    state: &AppState,
    staff: &Staff,
    year: &str,
    parent: Option<&str>,
    error: Option<String>,
) -> crate::Result<FreezeCheckPage> {
    let tz = state.config.timezone;
    let year = parse_year(year, tz)?;
    let parent = annual::parent_code(parent)?;
    let cx = state.context(&staff.signed_in.principal);
    let check = annual::freeze_check(&cx, year, parent.as_ref()).await?;
    let r = &check.report;
    let whose = annual::whose(&cx, r).await?;
    let code = r.parent.clone().unwrap_or_default();
    let count = |b: Band| r.rows.iter().filter(|row| row.band == b).count() as u64;
    Ok(FreezeCheckPage {
        chrome: Chrome::of(&staff.signed_in),
        year: r.year,
        whose,
        back: format!("/reports/annual?year={}&parent={code}", r.year),
        public_href: format!("/public/annual/{}?parent={code}", r.year),
        blocked: check.blocked.as_ref().map(|e| refusal_vi(e, r.year)),
        error,
        responses: vn_count(r.rows.iter().map(|row| row.responses).sum()),
        bands: Band::ALL.iter().map(|&b| (b.name_vi(), count(b))).collect(),
        insufficient: r
            .rows
            .iter()
            .filter(|row| row.band == Band::InsufficientData)
            .map(|row| (row.name.clone(), vn_count(row.responses)))
            .collect(),
        empty: r.rows.iter().filter(|row| row.responses == 0).count(),
        held: r.rows.iter().map(|row| row.held).sum(),
        paper_forms: vn_count(check.paper_forms),
        last_paper_form: check
            .last_paper_form
            .map(|t| t.with_timezone(&tz).format("%H:%M %d/%m/%Y").to_string()),
        min_responses: r.min_responses,
        thresholds: thresholds(&r.bands),
        rows: rank_rows(&r.rows),
        parent: code,
    })
}

/// `GET /reports/annual/freeze?year&parent`: what freezing would publish, and the
/// confirmation (administrators).
pub(super) async fn freeze_check(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AnnualPageQuery>,
) -> Response {
    let year = q.year.unwrap_or_default();
    shown(freeze_check_view(&state, &staff, &year, q.parent.as_deref(), None).await)
}

/// `POST /reports/annual/freeze`: freezes only with the confirmation ticked; otherwise, or
/// when freezing is refused, the check comes back with the reason.
pub(super) async fn freeze(form: StaffForm) -> Response {
    let year = form.field("year");
    let parent = form.optional("parent");
    let (status, error) = if form.field("confirm") != "yes" {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Hãy đánh dấu ô xác nhận trước khi chốt.".to_string(),
        )
    } else {
        let frozen = async {
            let y = parse_year(&year, form.state.config.timezone)?;
            let parent = annual::parent_code(parent.as_deref())?;
            annual::freeze(&form.context(), y, parent.as_ref()).await
        };
        match frozen.await {
            Ok(r) => {
                return see_other(Ok(format!(
                    "/reports/annual?year={}&parent={}",
                    r.year,
                    r.parent.unwrap_or_default()
                )));
            }
            Err(e) if e.kind == super::super::error::Kind::Conflict => {
                let y = year.parse().unwrap_or_default();
                (StatusCode::CONFLICT, refusal_vi(&e, y))
            }
            Err(e) => return error_page(e),
        }
    };
    match freeze_check_view(
        &form.state,
        &form.staff,
        &year,
        parent.as_deref(),
        Some(error),
    )
    .await
    {
        Ok(page) => render(status, &page),
        Err(e) => error_page(e),
    }
}

#[derive(Template)]
#[template(path = "public_annual.html")]
struct PublicPage {
    year: i32,
    whose: String,
    frozen_at: String,
    digest: String,
    min_responses: u64,
    thresholds: String,
    rows: Vec<RankRow>,
    /// Drawn by plotters, which escapes every text it writes.
    chart_svg: String,
    /// `?parent=CODE` or nothing, for the download links.
    query: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PublicQuery {
    pub parent: Option<String>,
}

/// A frozen ranking as the public may have it: `2025` (the page), `2025.csv`, `2025.xlsx`,
/// `2025.json`.
fn public_segment(segment: &str) -> (&str, Option<ReportFormat>) {
    match segment.rsplit_once('.') {
        Some((year, "csv")) => (year, Some(ReportFormat::Csv)),
        Some((year, "xlsx")) => (year, Some(ReportFormat::Xlsx)),
        Some((year, "json")) => (year, Some(ReportFormat::Json)),
        _ => (segment, None),
    }
}

/// The year and parent of a public address, or `None` when they cannot name a frozen
/// report (a year that is not a year, a parent that is no code).
fn public_subject(
    state: &AppState,
    year: &str,
    q: &PublicQuery,
) -> Option<(Year, Option<AgencyCode>)> {
    let parent = annual::parent_code(q.parent.as_deref()).ok()?;
    let year = parse_year(year, state.config.timezone).ok()?;
    Some((year, parent))
}

/// 404 `report_not_frozen`: in Vietnamese on the page, in English (as the API's errors) for
/// the files.
fn not_frozen(page: bool) -> Error {
    let message = if page {
        "Báo cáo này chưa được chốt và công bố."
    } else {
        "this report has not been frozen"
    };
    Error::not_found("report_not_frozen", message)
}

/// Frozen reports never change, and the index only grows: five minutes in shared caches is
/// safe.
fn cached_publicly(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// The public page of a frozen ranking, or its CSV, XLSX or JSON: no sign-in; 404 until
/// it is frozen (an HTML page for the page, the JSON error for the files).
pub(super) async fn public_annual(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    Query(q): Query<PublicQuery>,
) -> Response {
    let (year, format) = public_segment(&segment);
    let published = match public_subject(&state, year, &q) {
        Some((year, parent)) => annual::published(&state.db, year, parent.as_ref()).await,
        None => Ok(None),
    };
    let found = published.and_then(|found| found.ok_or_else(|| not_frozen(format.is_none())));
    if let Some(format) = format {
        let file = found.and_then(|(report, _)| {
            crate::web::reports::annual_file(format, StatusCode::OK, &report)
        });
        return match file {
            Ok(res) => cached_publicly(res),
            Err(e) => e.into_response(),
        };
    }
    let (report, whose) = match found {
        Ok(found) => found,
        Err(e) => return error_page(e),
    };
    let chart = crate::report::charts::ranking_chart(&report, &whose);
    let label = format!(
        "Biểu đồ xếp hạng năm {}: {whose} (số liệu trong bảng ở trên)",
        report.year
    );
    let svg = match state.charts.render(chart, Image::Svg).await {
        Ok(bytes) => figure::named(&String::from_utf8_lossy(&bytes), &label),
        Err(e) => return error_page(e),
    };
    let query = report
        .parent
        .as_deref()
        .map(|p| format!("?parent={p}"))
        .unwrap_or_default();
    cached_publicly(render(
        StatusCode::OK,
        &PublicPage {
            year: report.year,
            whose,
            frozen_at: report
                .frozen_at
                .map(|t| {
                    t.with_timezone(&state.config.timezone)
                        .format("%H:%M %d/%m/%Y")
                        .to_string()
                })
                .unwrap_or_default(),
            digest: report.digest.clone().unwrap_or_default(),
            min_responses: report.min_responses,
            thresholds: thresholds(&report.bands),
            rows: rank_rows(&report.rows),
            chart_svg: svg,
            query,
        },
    ))
}

/// The canonical text of a frozen ranking, whose SHA-256 is the published digest.
pub(super) async fn public_canonical(
    State(state): State<AppState>,
    Path(year): Path<String>,
    Query(q): Query<PublicQuery>,
) -> Response {
    let text = match public_subject(&state, &year, &q) {
        Some((year, parent)) => annual::published_text(&state.db, year, parent.as_ref()).await,
        None => Ok(None),
    };
    match text.and_then(|t| t.ok_or_else(|| not_frozen(false))) {
        Ok(body) => {
            cached_publicly(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(e) => e.into_response(),
    }
}

struct PublishedRow {
    year: i32,
    whose: String,
    digest: String,
    frozen_at: String,
    href: String,
}

#[derive(Template)]
#[template(path = "public_index.html")]
struct PublicIndex {
    rows: Vec<PublishedRow>,
}

/// `/public`: every frozen ranking, newest first, with its digest and link.
pub(super) async fn public_index(State(state): State<AppState>) -> Response {
    let list = match annual::published_list(&state.db).await {
        Ok(list) => list,
        Err(e) => return error_page(e),
    };
    let tz = state.config.timezone;
    let rows = list
        .into_iter()
        .map(|p| PublishedRow {
            year: p.year,
            href: match &p.parent {
                Some(code) => format!("/public/annual/{}?parent={code}", p.year),
                None => format!("/public/annual/{}", p.year),
            },
            whose: p.whose,
            digest: p.digest,
            frozen_at: p
                .frozen_at
                .with_timezone(&tz)
                .format("%d/%m/%Y")
                .to_string(),
        })
        .collect();
    cached_publicly(render(StatusCode::OK, &PublicIndex { rows }))
}
