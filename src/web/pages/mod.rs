//! Pages for signed-in users (sign-in, dashboard, the annual report with its freeze
//! button) and the public page of frozen rankings. They call the same services as the API;
//! every state-changing form carries a CSRF token, and none needs JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawForm, Request, State};
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
use crate::report::agency::report;
use crate::report::annual::{self, AnnualReport, Row};
use crate::report::{desk_tallies, recent_comments};
use crate::score::{self, Band, Bands};

/// The cookie that binds the sign-in form's CSRF token (22 characters).
const LOGIN_COOKIE: &str = "hl_l";

mod dashboard;
mod figure;
pub(crate) use figure::csv_of as chart_csv;
mod login;
mod ranking;
mod responses;
mod review;

use dashboard::dashboard;
pub(crate) use login::signed_out;
use login::{login, login_form, logout};
use ranking::{annual_page, freeze, freeze_check, public_annual};
use review::{decide, review_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/admin/review", get(review_page).post(decide))
        .route("/admin/responses", get(responses::list_page))
        .route("/admin/responses/exclude", post(responses::exclude))
        .route("/reports/annual", get(annual_page))
        .route("/reports/annual/freeze", get(freeze_check).post(freeze))
        .route("/public", get(ranking::public_index))
        .route("/public/annual/{year}", get(public_annual))
        .route(
            "/public/annual/{year}/canonical",
            get(ranking::public_canonical),
        )
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
        // A page asked for without a session comes back after signing in.
        let to_login = || {
            let asked = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            // (The dashboard is where signing in leads anyway.)
            let back = (parts.method == axum::http::Method::GET && asked != "/dashboard")
                .then(|| login::safe_next(asked))
                .flatten();
            let to = match back {
                Some(next) => format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                ),
                None => "/login".to_string(),
            };
            Redirect::to(&to).into_response()
        };
        let token = cookies::read(&parts.headers, sessions::COOKIE, sessions::TOKEN_LEN)
            .ok_or_else(to_login)?;
        match sessions::find(&state.db, &token).await {
            Ok(Some(signed_in)) => Ok(Self { signed_in, token }),
            Ok(None) => Err(to_login()),
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
/// What went wrong, in Vietnamese, for the error codes a page can meet; the English message
/// of the API for the rare others.
pub(crate) fn message_vi(e: &Error) -> String {
    let text = match e.code {
        "forbidden" => "Vai trò hoặc phạm vi cơ quan của tài khoản không bao gồm nội dung này.",
        "not_found" => "Không có trang hay nội dung này.",
        "agency_not_found" | "unknown_agency" => "Không có cơ quan với mã đã chọn.",
        "unknown_desk" => "Cơ quan này không có quầy đã chọn.",
        "agency_exists" => "Đã có cơ quan với mã này.",
        "desk_exists" => "Cơ quan này đã có quầy với mã này.",
        "invalid_role" => "Vai trò không hợp lệ.",
        "weak_password" => "Mật khẩu phải có ít nhất 8 ký tự.",
        "invalid_username" => {
            "Tên đăng nhập có từ 1 đến 64 ký tự: chữ cái không dấu, chữ số, dấu . _ - @."
        }
        "no_ratings_ticked" => "Hãy đánh dấu ít nhất một phiếu cần loại.",
        "invalid_reason" => "Hãy ghi lý do trên một dòng, từ 1 đến 500 ký tự.",
        "unknown_channel" => "Không có kênh đánh giá này.",
        "unknown_parent" => "Không có cơ quan cấp trên với mã đã chọn.",
        "case_not_found" => "Không tìm thấy phản ánh này.",
        "response_not_found" => "Không tìm thấy phiếu đánh giá này.",
        "user_not_found" => "Không có người dùng này.",
        "key_not_found" => "Không có khóa API này.",
        "link_not_found" => "Không có đường dẫn đánh giá này.",
        "report_not_frozen" => "Báo cáo này chưa được chốt.",
        "invalid_year" => "Năm không hợp lệ.",
        "invalid_date" => "Ngày không hợp lệ (dạng năm-tháng-ngày, ví dụ 2025-07-01).",
        "invalid_period" => "Khoảng thời gian không hợp lệ: ngày bắt đầu phải trước ngày kết thúc.",
        "too_many_days" => "Khoảng thời gian quá dài.",
        "invalid_code" => {
            "Mã không hợp lệ (1–32 ký tự A-Z, a-z, 0-9, dấu chấm, gạch dưới, gạch ngang)."
        }
        "invalid_name" => "Tên không hợp lệ (không để trống, không quá dài).",
        "invalid_password" => "Mật khẩu không đạt yêu cầu.",
        "user_exists" => "Tên đăng nhập này đã có.",
        "empty_reply" => "Câu trả lời đang trống.",
        "already_answered" => "Phản ánh này đã được trả lời.",
        "case_closed" => "Phản ánh này đã kết thúc.",
        "agency_ended" => "Cơ quan đã chọn không còn tồn tại vào ngày hiệu lực.",
        "merge_into_itself" => "Không thể sáp nhập một cơ quan vào chính nó.",
        "cycle" => "Thay đổi này làm một cơ quan trực thuộc chính cấp dưới của nó.",
        "children_left" => {
            "Cơ quan còn đơn vị trực thuộc vào ngày đó: hãy chuyển hoặc sáp nhập các đơn vị đó trước."
        }
        "out_of_order" => {
            "Cơ quan này (hoặc đơn vị trực thuộc) đã có thay đổi với ngày hiệu lực muộn hơn: hãy nhập các thay đổi theo thứ tự ngày."
        }
        "required" => "Còn thiếu thông tin bắt buộc.",
        "text_too_long" => "Nội dung dài quá mức cho phép.",
        "duplicate_agency" => "Một cơ quan được chọn hai lần.",
        "no_changes" => "Chưa có thay đổi nào.",
        "already_frozen" => "Báo cáo này đã được chốt.",
        "year_not_ended" => "Năm này chưa kết thúc.",
        "review_pending" => "Còn phiếu đang chờ xem xét.",
        _ => return e.message.clone(),
    };
    text.to_string()
}

/// A page that was built, with 200, or the error page of why it could not be.
pub(crate) fn shown(page: Result<impl Template, Error>) -> Response {
    match page {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(e),
    }
}

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
        "Hệ thống đang gặp sự cố; vui lòng thử lại sau.".to_string()
    } else {
        message_vi(&e)
    };
    let mut res = render(
        super::error::status_of(e.kind),
        &PlainPage {
            chrome: Chrome::anonymous(),
            heading,
            body: &body,
            back: "/dashboard",
            back_label: "Về bảng điều khiển",
        },
    );
    super::error::keep_for_log(&mut res, &e);
    res
}

pub(crate) fn form_fields(form: &RawForm) -> HashMap<String, String> {
    url::form_urlencoded::parse(&form.0).into_owned().collect()
}

pub(crate) fn forbidden_page() -> Response {
    error_page(Error::csrf_failed())
}

/// A signed-in user's form whose CSRF token matched the session's. Without a session the
/// request is sent to `/login`; with a wrong or missing token it gets the forbidden page,
/// before any handler runs.
pub struct StaffForm {
    pub state: AppState,
    pub staff: Staff,
    fields: HashMap<String, String>,
    /// Every field in the order sent (a field may repeat: ticked boxes).
    pairs: Vec<(String, String)>,
}

impl FromRequest<AppState> for StaffForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        let form = RawForm::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = form_fields(&form);
        let pairs = url::form_urlencoded::parse(&form.0).into_owned().collect();
        let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
        if !constant_time_eq(sent, &staff.signed_in.csrf) {
            return Err(forbidden_page());
        }
        Ok(Self {
            state: state.clone(),
            staff,
            fields,
            pairs,
        })
    }
}

impl StaffForm {
    /// Who sent the form.
    pub fn by(&self) -> &crate::govern::Principal {
        &self.staff.signed_in.principal
    }

    /// The context of a use case called by whoever sent the form.
    pub fn context(&self) -> crate::app::Context<'_> {
        self.state.context(self.by())
    }

    /// A field's value, empty when the form lacks it.
    pub fn field(&self, key: &str) -> String {
        self.fields.get(key).cloned().unwrap_or_default()
    }

    /// Every non-empty value of a field that may repeat, in the order sent.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A field's value, `None` when it is missing or empty.
    pub fn optional(&self, key: &str) -> Option<String> {
        self.fields.get(key).filter(|v| !v.is_empty()).cloned()
    }
}

/// A refused form, to show again: which form it was, why (in Vietnamese), and what was
/// typed in it (never a password).
#[derive(Debug, Default)]
pub struct Kept {
    form: String,
    pub error: String,
    values: HashMap<String, String>,
}

impl Kept {
    /// Form `form` of `sent`, refused with `e`.
    pub fn of(form: &str, e: &Error, sent: &StaffForm) -> Self {
        Self {
            form: form.to_string(),
            error: message_vi(e),
            values: sent
                .fields
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "csrf" | "password"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Whether `form` is the one refused.
    pub fn is(&self, form: &str) -> bool {
        !self.form.is_empty() && self.form == form
    }

    /// What was typed in `field` of `form`, else `otherwise`.
    pub fn value<'a>(&'a self, form: &str, field: &str, otherwise: &'a str) -> &'a str {
        match self.values.get(field) {
            Some(v) if self.is(form) => v,
            _ => otherwise,
        }
    }

    /// Whether `option` was chosen in `field` of `form`.
    pub fn chosen(&self, form: &str, field: &str, option: &str) -> bool {
        self.is(form) && self.values.get(field).is_some_and(|v| v == option)
    }
}

/// A page shown again after a refused form, with the refusal's status (a failure of ours
/// gets the error page instead, which says nothing of it).
pub(crate) fn refused(e: Error, page: Result<impl Template, Error>) -> Response {
    if e.kind.is_ours() {
        return error_page(e);
    }
    match page {
        Ok(page) => {
            let mut res = render(super::error::status_of(e.kind), &page);
            super::error::keep_for_log(&mut res, &e);
            res
        }
        Err(other) => error_page(other),
    }
}

/// After a form's action: `303 See Other` to the address it gives, or its error as a page.
pub(crate) fn see_other(to: crate::error::Result<String>) -> Response {
    match to {
        Ok(to) => {
            let mut res = Redirect::to(&to).into_response();
            *res.status_mut() = StatusCode::SEE_OTHER;
            res
        }
        Err(e) => error_page(e),
    }
}

fn pct_text(p: Option<f64>) -> String {
    p.map(vn).unwrap_or_else(|| "–".into())
}

fn ci_text(ci: Option<[f64; 2]>) -> String {
    ci.map(|[lo, hi]| crate::score::shown::interval(lo, hi))
        .unwrap_or_else(|| "–".into())
}

fn mean_text(m: Option<f64>) -> String {
    m.map(|m| format!("{m:.2}").replace('.', ","))
        .unwrap_or_else(|| "–".into())
}
