//! Pages for signed-in users (sign-in, dashboard, the annual report with its freeze
//! button) and the public page of frozen rankings. They call the same services as the API;
//! every state-changing form carries a CSRF token, and none needs JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, RawForm, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Datelike;
use entity::desk;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;

use super::AppState;
use super::cookies;
use super::error::Error;
use super::extract::{parse_year, year_or_this};
use super::form::render;
use crate::chart::Image;
use crate::chart::render::{vn, vn_count};
use crate::domain::{Period, Role, Year};
use crate::govern::login::Busy;
use crate::govern::secrets::{constant_time_eq, random_token};
use crate::govern::sessions::Attempt;
use crate::govern::sessions::{self, SignedIn};
use crate::org::{Tree, agency_in_scope};
use crate::report::agency::report;
use crate::report::annual::{self, AnnualReport, Row};
use crate::report::{desk_tallies, recent_comments};
use crate::score::{self, Band, Bands};

/// The cookie that binds the sign-in form's CSRF token (22 characters).
const LOGIN_COOKIE: &str = "hl_l";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/reports/annual", get(annual_page))
        .route("/reports/annual/freeze", post(freeze))
        .route("/public/annual/{year}", get(public_annual))
}

/// What the page frame shows: who is signed in, and the CSRF token of the logout form.
pub struct Chrome {
    pub user: Option<String>,
    pub csrf: String,
}

impl Chrome {
    pub fn of(s: &SignedIn) -> Self {
        Self {
            user: Some(
                s.user
                    .display_name
                    .clone()
                    .unwrap_or_else(|| s.user.username.clone()),
            ),
            csrf: s.csrf.clone(),
        }
    }

    fn anonymous() -> Self {
        Self {
            user: None,
            csrf: String::new(),
        }
    }
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// A signed-in user with the session's cookie value; pages without one redirect to
/// `/login`.
pub struct Staff {
    pub signed_in: SignedIn,
    pub token: String,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = cookies::read(&parts.headers, sessions::COOKIE, sessions::TOKEN_LEN)
            .ok_or_else(|| Redirect::to("/login").into_response())?;
        match sessions::find(&state.db, &token).await {
            Ok(Some(signed_in)) => Ok(Self { signed_in, token }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(error_page(e)),
        }
    }
}

#[derive(Template)]
#[template(path = "plain.html")]
struct PlainPage<'a> {
    chrome: Chrome,
    heading: &'a str,
    body: &'a str,
    back: &'a str,
    back_label: &'a str,
}

/// An error as a page with the same status.
pub(crate) fn error_page(e: Error) -> Response {
    use super::error::Kind;
    let heading = match e.kind {
        Kind::Forbidden => "Không có quyền truy cập",
        Kind::NotFound => "Không tìm thấy",
        Kind::Conflict => "Không thực hiện được",
        k if !k.is_ours() => "Yêu cầu không hợp lệ",
        _ => "Đã có lỗi",
    };
    let body = if e.kind.is_ours() {
        "Hệ thống đang gặp sự cố; vui lòng thử lại sau."
    } else {
        e.message.as_str()
    };
    let mut res = render(
        super::error::status_of(e.kind),
        &PlainPage {
            chrome: Chrome::anonymous(),
            heading,
            body,
            back: "/dashboard",
            back_label: "Về bảng điều khiển",
        },
    );
    super::error::keep_for_log(&mut res, &e);
    res
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    login_token: String,
    username: String,
    error: Option<&'static str>,
}

/// The sign-in form with a fresh token, bound to a cookie set with it.
fn login_page(
    state: &AppState,
    status: StatusCode,
    username: String,
    error: Option<&'static str>,
) -> Response {
    let token = match random_token(16) {
        Ok(t) => t,
        Err(e) => return Error::internal(e).into_response(),
    };
    let mut res = render(
        status,
        &LoginPage {
            chrome: Chrome::anonymous(),
            login_token: token.clone(),
            username,
            error,
        },
    );
    if let Ok(cookie) = cookies::set(LOGIN_COOKIE, &token, 3600, secure(state)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, String::new(), None)
}

pub(crate) fn form_fields(form: &RawForm) -> HashMap<String, String> {
    url::form_urlencoded::parse(&form.0).into_owned().collect()
}

pub(crate) fn forbidden_page() -> Response {
    error_page(Error::csrf_failed())
}

async fn login(
    State(state): State<AppState>,
    who: super::client::Who,
    headers: axum::http::HeaderMap,
    form: RawForm,
) -> Response {
    let fields = form_fields(&form);
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let bound = cookies::read(&headers, LOGIN_COOKIE, 22).unwrap_or_default();
    if bound.is_empty() || !constant_time_eq(get("csrf"), &bound) {
        return forbidden_page();
    }
    let username = get("username").trim().to_string();
    let attempt = sessions::sign_in(
        &state.db,
        &state.login,
        who.address,
        &username,
        get("password"),
    )
    .await;
    match attempt {
        Ok(Attempt::SignedIn(session)) => {
            let mut res = Redirect::to("/dashboard").into_response();
            *res.status_mut() = StatusCode::SEE_OTHER;
            let lifetime = u64::try_from(sessions::LIFETIME.num_seconds()).unwrap_or(0);
            for cookie in [
                cookies::set(sessions::COOKIE, &session.token, lifetime, secure(&state)),
                cookies::set(LOGIN_COOKIE, "", 0, secure(&state)),
            ]
            .into_iter()
            .flatten()
            {
                res.headers_mut().append(header::SET_COOKIE, cookie);
            }
            res
        }
        Ok(Attempt::Refused) => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            username,
            Some("Tên đăng nhập hoặc mật khẩu không đúng. / Wrong username or password."),
        ),
        Ok(Attempt::Busy(busy)) => {
            let (status, wait, message) = match busy {
                Busy::Limited(wait) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    wait.as_secs().max(1),
                    "Quá nhiều lần đăng nhập sai từ địa chỉ này; vui lòng thử lại sau. / Too many failed sign-ins from this address; try again later.",
                ),
                Busy::Overloaded => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    2,
                    "Hệ thống đang bận; vui lòng thử lại sau vài giây. / The system is busy; try again in a few seconds.",
                ),
            };
            let mut res = login_page(&state, status, username, Some(message));
            res.headers_mut().insert(header::RETRY_AFTER, wait.into());
            res
        }
        Err(e) => error_page(e),
    }
}

pub(crate) fn check_csrf(staff: &Staff, fields: &HashMap<String, String>) -> bool {
    let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
    constant_time_eq(sent, &staff.signed_in.csrf)
}

async fn logout(State(state): State<AppState>, staff: Staff, form: RawForm) -> Response {
    if !check_csrf(&staff, &form_fields(&form)) {
        return forbidden_page();
    }
    if let Err(e) = sessions::sign_out(&state.db, &staff.token).await {
        return error_page(e);
    }
    let mut res = Redirect::to("/login").into_response();
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(cookie) = cookies::set(sessions::COOKIE, "", 0, secure(&state)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// The query of the dashboard.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    pub agency: Option<String>,
    /// A past year to show whole (default: this year to date).
    pub year: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
}

struct ChildRow {
    code: String,
    name: String,
    href: String,
    responses: String,
    pct: String,
    ci: String,
    mean: String,
    index: String,
    sort_key: (Option<f64>, u64),
}

struct Header {
    label: &'static str,
    href: String,
    aria_sort: Option<&'static str>,
    numeric: bool,
}

struct DeskRow {
    name: String,
    responses: String,
    pct: String,
    ci: String,
    mean: String,
}

struct CommentRow {
    when: String,
    place: String,
    overall: i16,
    low: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    name: String,
    year: i32,
    period: String,
    parent: Option<(String, String)>,
    figures: Vec<(String, String, String)>,
    links: Vec<(String, String)>,
    trend_src: String,
    distribution_src: String,
    ranking_src: String,
    headers: Vec<Header>,
    children: Vec<ChildRow>,
    desks: Vec<DeskRow>,
    comments: Vec<CommentRow>,
    /// Integrators may not read citizens' comments: the section is left out.
    show_comments: bool,
}

fn pct_text(p: Option<f64>) -> String {
    p.map(vn).unwrap_or_else(|| "–".into())
}

fn ci_text(ci: Option<[f64; 2]>) -> String {
    ci.map(|[lo, hi]| format!("{}–{}", vn(lo), vn(hi)))
        .unwrap_or_else(|| "–".into())
}

fn mean_text(m: Option<f64>) -> String {
    m.map(|m| format!("{m:.2}").replace('.', ","))
        .unwrap_or_else(|| "–".into())
}

/// The agency a dashboard shows by default: the user's own, or for an administrator the
/// first top-level agency.
fn home(tree_roots: &[entity::agency::Model], by: &SignedIn) -> Option<i64> {
    by.user.agency_id.or_else(|| {
        tree_roots
            .iter()
            .find(|a| a.parent_id.is_none())
            .map(|a| a.id)
    })
}

async fn dashboard(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DashboardQuery>,
) -> Response {
    match dashboard_page(&state, &staff, q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(e),
    }
}

async fn dashboard_page(
    state: &AppState,
    staff: &Staff,
    q: DashboardQuery,
) -> Result<DashboardPage, Error> {
    let by = &staff.signed_in.principal;
    let tz = state.config.timezone;
    let db = &state.db;
    let all = entity::agency::Entity::find()
        .order_by_asc(entity::agency::Column::Code)
        .all(&db.read)
        .await?;
    let code = match q.agency.clone().filter(|c| !c.is_empty()) {
        Some(code) => code,
        None => {
            let id = home(&all, &staff.signed_in)
                .ok_or_else(|| Error::not_found("agency_not_found", "chưa có cơ quan nào"))?;
            all.iter()
                .find(|a| a.id == id)
                .map(|a| a.code.clone())
                .unwrap_or_default()
        }
    };
    let (agency, tree): (entity::agency::Model, Tree) =
        agency_in_scope(&db.read, by, &code).await?;
    let names: HashMap<i64, &entity::agency::Model> = all.iter().map(|a| (a.id, a)).collect();
    let now = crate::now().with_timezone(&tz).date_naive();
    let year = year_or_this(q.year.as_deref(), tz)?;
    // The last day shown: today, or 31 December of a past year.
    let (first, last) = year.days();
    let today = last.min(now);
    let period = Period {
        from: Some(first),
        to: Some(today),
    };
    let cx = state.context(by);
    let r = report(&cx, &agency.code, period).await?;

    // Rank and band among the siblings, without the siblings' figures.
    let standing = annual::standing(&cx, year, &agency.code).await?;
    let rank_text = match standing.rank {
        Some(rank) => format!("{rank} / {}", standing.of),
        None => "chưa xếp hạng".into(),
    };
    let band = standing.band;
    let mut figures = vec![
        (
            "Tỷ lệ hài lòng".to_string(),
            r.satisfaction_pct
                .map_or("–".into(), |p| format!("{} %", vn(p))),
            format!("KTC 95%: {}", ci_text(r.ci95)),
        ),
        (
            "Số phiếu".to_string(),
            vn_count(r.responses),
            format!("{} phiếu bị loại", vn_count(r.excluded)),
        ),
        (
            "Điểm trung bình".to_string(),
            mean_text(r.mean),
            "trên thang 1–5".to_string(),
        ),
        (
            "Chỉ số hài lòng".to_string(),
            pct_text(r.index),
            "trung bình 5 nội dung".to_string(),
        ),
        (
            "Xếp loại".to_string(),
            band.name_vi().to_string(),
            format!("tối thiểu {} phiếu", standing.min_responses),
        ),
    ];
    figures.push((
        "Hạng trong cùng cấp".to_string(),
        rank_text,
        "năm đến nay".to_string(),
    ));

    // Children, sortable by any column without JavaScript.
    let sort = q.sort.as_deref().unwrap_or("pct");
    let descending = q.dir.as_deref() != Some("asc");
    let mut children: Vec<ChildRow> = r
        .children
        .iter()
        .map(|c| ChildRow {
            href: format!("/dashboard?agency={}&year={year}", c.agency),
            code: c.agency.clone(),
            name: c.name.clone(),
            responses: vn_count(c.responses),
            pct: pct_text(c.satisfaction_pct),
            ci: ci_text(c.ci95),
            mean: mean_text(c.mean),
            index: pct_text(c.index),
            sort_key: (
                match sort {
                    "mean" => c.mean,
                    "index" => c.index,
                    "responses" => Some(c.responses as f64),
                    _ => c.satisfaction_pct,
                },
                c.responses,
            ),
        })
        .collect();
    if sort == "name" {
        children.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        children.sort_by(|a, b| {
            let key = |x: &ChildRow| x.sort_key.0.unwrap_or(f64::NEG_INFINITY);
            key(a).total_cmp(&key(b)).then(a.code.cmp(&b.code))
        });
    }
    if descending {
        children.reverse();
    }
    let headers = [
        ("name", "Đơn vị", false),
        ("responses", "Số phiếu", true),
        ("pct", "Tỷ lệ hài lòng (%)", true),
        ("ci", "KTC 95%", true),
        ("mean", "Điểm TB", true),
        ("index", "Chỉ số", true),
    ]
    .into_iter()
    .map(|(key, label, numeric)| {
        let key = if key == "ci" { "pct" } else { key };
        let active = key == sort && label != "KTC 95%";
        let next = if active && descending { "asc" } else { "desc" };
        Header {
            label,
            href: format!(
                "/dashboard?agency={}&year={year}&sort={key}&dir={next}",
                agency.code
            ),
            aria_sort: active.then_some(if descending {
                "descending"
            } else {
                "ascending"
            }),
            numeric,
        }
    })
    .collect();

    // Desks of this agency.
    let desk_models = desk::Entity::find()
        .filter(desk::Column::AgencyId.eq(agency.id))
        .order_by_asc(desk::Column::Code)
        .all(&db.read)
        .await?;
    let by_desk = desk_tallies(&db.read, agency.id, first, today).await?;
    let desks = desk_models
        .iter()
        .map(|d| {
            let f = score::figures(&by_desk.get(&d.id).map(|t| t.overall()).unwrap_or_default());
            DeskRow {
                name: d.name.clone(),
                responses: vn_count(f.n),
                pct: pct_text(f.satisfaction_pct),
                ci: ci_text(f.ci95),
                mean: mean_text(f.mean),
            }
        })
        .collect();

    let subtree = tree.subtree(agency.id);
    let since = crate::domain::period::start_of(tz, first);
    let until = crate::domain::period::start_of(tz, today + chrono::Days::new(1));
    let may_read_comments = Role::READ_RESPONSES.contains(&by.role);
    let comments = if may_read_comments {
        recent_comments(&db.read, &subtree, since, until, 20).await?
    } else {
        Vec::new()
    };
    let comments = comments
        .into_iter()
        .map(|c| CommentRow {
            when: c
                .submitted_at
                .with_timezone(&tz)
                .format("%d/%m/%Y %H:%M")
                .to_string(),
            place: names
                .get(&c.agency_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            overall: c.overall,
            low: c.overall <= 2,
            text: c.text,
        })
        .collect();

    let period_q = format!("from={first}&to={today}");
    let mut links = vec![
        (
            "Báo cáo CSV".to_string(),
            format!(
                "/api/v1/reports/agencies/{}?{period_q}&format=csv",
                agency.code
            ),
        ),
        (
            "Báo cáo Excel".to_string(),
            format!(
                "/api/v1/reports/agencies/{}?{period_q}&format=xlsx",
                agency.code
            ),
        ),
    ];
    if by.role == Role::Admin {
        links.push((
            "Cơ quan, quầy và phiếu QR".to_string(),
            "/admin/agencies".to_string(),
        ));
        links.push((
            "Người dùng và khóa API".to_string(),
            "/admin/users".to_string(),
        ));
    }
    if Role::READ_RESPONSES.contains(&by.role) {
        links.push((
            "Phiếu đánh giá (CSV)".to_string(),
            format!(
                "/api/v1/responses?agency={}&{period_q}&format=csv",
                agency.code
            ),
        ));
    }
    if !r.children.is_empty() {
        links.push((
            format!("Xếp hạng năm {}", year.previous()),
            format!(
                "/reports/annual?year={}&parent={}",
                year.previous(),
                agency.code
            ),
        ));
        links.push((
            format!("Xếp hạng năm {year}"),
            format!("/reports/annual?year={year}&parent={}", agency.code),
        ));
    }
    let parent = agency
        .parent_id
        .filter(|p| by.covers(&tree, *p))
        .and_then(|p| names.get(&p))
        .map(|p| {
            (
                p.name.clone(),
                format!("/dashboard?agency={}&year={year}", p.code),
            )
        });
    Ok(DashboardPage {
        chrome: Chrome::of(&staff.signed_in),
        name: agency.name.clone(),
        year: year.get(),
        period: format!(
            "{} đến {}",
            first.format("%d/%m/%Y"),
            today.format("%d/%m/%Y")
        ),
        parent,
        figures,
        links,
        trend_src: format!("/charts/agencies/{}/trend.png?year={year}", agency.code),
        distribution_src: format!(
            "/charts/agencies/{}/distribution.png?{period_q}",
            agency.code
        ),
        ranking_src: format!("/charts/ranking.png?year={year}&parent={}", agency.code),
        headers,
        children,
        desks,
        comments,
        show_comments: may_read_comments,
    })
}

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
    chart_src: String,
}

/// The query of the annual page.
#[derive(Debug, Default, Deserialize)]
pub struct AnnualPageQuery {
    pub year: Option<String>,
    pub parent: Option<String>,
}

async fn annual_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<AnnualPageQuery>,
) -> Response {
    let by = &staff.signed_in.principal;
    let tz = state.config.timezone;
    let today = crate::now().with_timezone(&tz).date_naive();
    let parent = q.parent.clone().filter(|p| !p.is_empty());
    let year = match q.year.as_deref() {
        Some(raw) => parse_year(raw, tz),
        None => Ok(Year::of(today).previous()),
    };
    let ranked = match year {
        Ok(year) => annual::ranking(&state.context(by), year, parent.as_deref()).await,
        Err(e) => Err(e),
    };
    let report = match ranked {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let whose = match &report.parent {
        Some(code) => crate::org::agency_by_code(&state.db.read, code)
            .await
            .map(|a| a.name)
            .unwrap_or_default(),
        None => "cấp tỉnh".into(),
    };
    let page = annual_view(&staff, &report, whose, today.year(), tz);
    render(StatusCode::OK, &page)
}

fn annual_view(
    staff: &Staff,
    r: &AnnualReport,
    whose: String,
    this_year: i32,
    tz: chrono_tz::Tz,
) -> AnnualPage {
    let parent = r.parent.clone().unwrap_or_default();
    let query = format!("year={}&parent={parent}", r.year);
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
        verify_href: format!("/api/v1/reports/annual/{}/verify?parent={parent}", r.year),
        public_href: format!("/public/annual/{}?parent={parent}", r.year),
        can_freeze: staff.signed_in.principal.role == Role::Admin
            && !r.frozen
            && r.year < this_year,
        bands,
        links,
        min_responses: r.min_responses,
        thresholds: thresholds(&r.bands),
        rows: rank_rows(&r.rows),
        chart_src: format!("/charts/ranking.png?{query}"),
        parent,
    }
}

async fn freeze(State(state): State<AppState>, staff: Staff, form: RawForm) -> Response {
    let fields = form_fields(&form);
    if !check_csrf(&staff, &fields) {
        return forbidden_page();
    }
    let parent = fields.get("parent").cloned().filter(|p| !p.is_empty());
    let c = &state.config;
    let year = match parse_year(fields.get("year").map_or("", |y| y.as_str()), c.timezone) {
        Ok(year) => year,
        Err(e) => return error_page(e),
    };
    match annual::freeze(
        &state.context(&staff.signed_in.principal),
        year,
        parent.as_deref(),
    )
    .await
    {
        Ok(r) => {
            let to = format!(
                "/reports/annual?year={}&parent={}",
                r.year,
                r.parent.unwrap_or_default()
            );
            let mut res = Redirect::to(&to).into_response();
            *res.status_mut() = StatusCode::SEE_OTHER;
            res
        }
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
}

#[derive(Debug, Default, Deserialize)]
pub struct PublicQuery {
    pub parent: Option<String>,
}

/// The public page of a frozen ranking: no sign-in; 404 until it is frozen.
async fn public_annual(
    State(state): State<AppState>,
    Path(year): Path<String>,
    Query(q): Query<PublicQuery>,
) -> Response {
    let tz = state.config.timezone;
    let parent = q.parent.filter(|p| !p.is_empty());
    // A year that is not a year has no frozen report either.
    let year = parse_year(&year, tz).ok();
    let published = match year {
        Some(year) => annual::published(&state.db, year, parent.as_deref()).await,
        None => Ok(None),
    };
    let found = match published {
        Ok(Some(found)) => found,
        Ok(None) => {
            return error_page(Error::not_found(
                "report_not_frozen",
                "Báo cáo này chưa được chốt và công bố.",
            ));
        }
        Err(e) => return error_page(e),
    };
    let (report, whose) = found;
    let chart = crate::report::charts::ranking_chart(&report, &whose);
    let svg = match state.charts.render(chart, Image::Svg).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return error_page(e),
    };
    let mut res = render(
        StatusCode::OK,
        &PublicPage {
            year: report.year,
            whose,
            frozen_at: report
                .frozen_at
                .map(|t| t.with_timezone(&tz).format("%H:%M %d/%m/%Y").to_string())
                .unwrap_or_default(),
            digest: report.digest.clone().unwrap_or_default(),
            min_responses: report.min_responses,
            thresholds: thresholds(&report.bands),
            rows: rank_rows(&report.rows),
            chart_svg: svg,
        },
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=300"),
    );
    res
}
