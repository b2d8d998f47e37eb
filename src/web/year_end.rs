//! The year-end in the UI (administrators): a checklist that links the steps in order, the
//! year's settings, the upload of paper forms (CSV, with the import's row errors in
//! Vietnamese), and verification of a frozen ranking as a readable page. Each page calls
//! the same use cases as the API (`crate::collect::import`, `crate::report::annual`).

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::extract::{parse_year, year_up_to_next};
use super::form::render;
use super::pages::shown;
use super::pages::{Chrome, Staff, StaffForm, error_page, message_vi};
use crate::chart::render::{vn, vn_count};
use crate::collect::import;
use crate::domain::{AgencyCode, Role, Year};
use crate::govern::secrets::constant_time_eq;
use crate::report::annual::{self, YearSettingsInput};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/year-end", get(checklist))
        .route(
            "/admin/year-end/settings",
            get(settings_page).post(save_settings),
        )
        .route(
            "/admin/year-end/import",
            get(import_page)
                .post(upload)
                .layer(DefaultBodyLimit::max(import::BODY_LIMIT)),
        )
        .route("/reports/annual/verify", get(verify_page))
}

#[derive(Debug, Default, Deserialize)]
pub struct YearQuery {
    year: Option<String>,
    parent: Option<String>,
}

/// The year a year-end page is about (last year by default) and the parent whose ranking it
/// prepares (the only top-level agency by default).
async fn subject(
    state: &AppState,
    staff: &Staff,
    q: &YearQuery,
) -> crate::Result<(Year, Option<AgencyCode>)> {
    let tz = state.config.timezone;
    let year = match q.year.as_deref().filter(|y| !y.is_empty()) {
        Some(raw) => parse_year(raw, tz)?,
        None => Year::of(crate::now().with_timezone(&tz).date_naive()).previous(),
    };
    let parent = match q.parent.as_deref().filter(|p| !p.is_empty()) {
        Some(code) => Some(crate::org::code_of(code)?),
        None => {
            let agencies = state.context(&staff.signed_in.principal).agencies().await?;
            match agencies.tree.roots() {
                [only] => agencies
                    .get(*only)
                    .map(|a| crate::org::code_of(&a.code))
                    .transpose()?,
                _ => None,
            }
        }
    };
    Ok((year, parent))
}

/// One step of the checklist.
struct Step {
    title: &'static str,
    href: String,
    /// Where it stands, in a few words.
    status: String,
    done: bool,
}

#[derive(Template)]
#[template(path = "year_end.html")]
struct ChecklistPage {
    chrome: Chrome,
    year: i32,
    whose: String,
    steps: Vec<Step>,
}

async fn checklist(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<YearQuery>,
) -> Response {
    shown(checklist_view(&state, &staff, &q).await)
}

async fn checklist_view(
    state: &AppState,
    staff: &Staff,
    q: &YearQuery,
) -> crate::Result<ChecklistPage> {
    let cx = state.context(&staff.signed_in.principal);
    cx.by.require_role(&[Role::Admin])?;
    let (year, parent) = subject(state, staff, q).await?;
    let check = annual::freeze_check(&cx, year, parent.as_ref()).await?;
    let r = &check.report;
    let whose = annual::whose(&cx, r).await?;
    let y = r.year;
    let p = r.parent.clone().unwrap_or_default();
    let held: u64 = r.rows.iter().map(|row| row.held).sum();
    let ended = y < annual::this_year(state.config.timezone);
    let steps = vec![
        Step {
            title: "Nhập hết phiếu giấy của năm",
            href: "/admin/year-end/import".into(),
            status: format!(
                "Đã nhập {} phiếu giấy của năm {y}{}.",
                vn_count(check.paper_forms),
                check
                    .last_paper_form
                    .map(|t| format!(
                        ", lần gần nhất lúc {}",
                        t.with_timezone(&state.config.timezone)
                            .format("%H:%M %d/%m/%Y")
                    ))
                    .unwrap_or_default()
            ),
            done: check.paper_forms > 0,
        },
        Step {
            title: "Xem xét các phiếu bị giữ lại",
            href: "/admin/review".into(),
            status: if held == 0 {
                "Không còn phiếu nào chờ xem xét.".into()
            } else {
                format!("Còn {held} phiếu chờ xem xét: phải xử lý hết trước khi chốt.")
            },
            done: held == 0,
        },
        Step {
            title: "Loại các phiếu không hợp lệ (có lý do)",
            href: format!("/admin/responses?from={y}-01-01&to={y}-12-31"),
            status: format!("Đã loại {} phiếu của năm {y}.", vn_count(r_excluded(r))),
            done: true,
        },
        Step {
            title: "Kiểm tra ngưỡng xếp loại và số phiếu tối thiểu",
            href: format!("/admin/year-end/settings?year={y}"),
            status: format!(
                "Xuất sắc ≥ {}, tốt ≥ {}, hoàn thành ≥ {}; tối thiểu {} phiếu.",
                vn(r.bands.outstanding),
                vn(r.bands.good),
                vn(r.bands.completed),
                r.min_responses
            ),
            done: true,
        },
        Step {
            title: "Kiểm tra rồi chốt xếp hạng",
            href: format!("/reports/annual/freeze?year={y}&parent={p}"),
            status: if r.frozen {
                "Đã chốt.".into()
            } else if !ended {
                format!(
                    "Năm {y} chưa kết thúc: chỉ chốt được từ ngày 01/01/{}.",
                    y + 1
                )
            } else {
                "Chưa chốt.".into()
            },
            done: r.frozen,
        },
        Step {
            title: "Kiểm tra lại kết quả đã chốt",
            href: format!("/reports/annual/verify?year={y}&parent={p}"),
            status: if r.frozen {
                "Tính lại từ các phiếu đã lưu và so mã SHA-256.".into()
            } else {
                "Làm được sau khi chốt.".into()
            },
            done: false,
        },
        Step {
            title: "Công bố: trang công khai và tệp tải về",
            href: format!("/public/annual/{y}?parent={p}"),
            status: if r.frozen {
                "Đã công khai.".into()
            } else {
                "Công khai ngay khi chốt.".into()
            },
            done: r.frozen,
        },
        Step {
            title: "Rà soát người dùng và khóa API",
            href: "/admin/users".into(),
            status: "Khóa tài khoản của người đã chuyển công tác, thu hồi khóa API không dùng."
                .into(),
            done: false,
        },
    ];
    Ok(ChecklistPage {
        chrome: Chrome::of(&staff.signed_in),
        year: y,
        whose,
        steps,
    })
}

fn r_excluded(r: &annual::AnnualReport) -> u64 {
    r.rows.iter().map(|row| row.excluded).sum()
}

#[derive(Template)]
#[template(path = "year_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    year: i32,
    outstanding: String,
    good: String,
    completed: String,
    min_responses: String,
    default_min: u64,
    error: Option<String>,
    saved: bool,
}

impl SettingsPage {
    /// The form showing `s` as stored.
    fn of(staff: &Staff, s: &annual::YearSettings, default_min: u64, saved: bool) -> Self {
        Self {
            chrome: Chrome::of(&staff.signed_in),
            year: s.year,
            outstanding: s.bands.outstanding.to_string(),
            good: s.bands.good.to_string(),
            completed: s.bands.completed.to_string(),
            min_responses: s.min_responses.to_string(),
            default_min,
            error: None,
            saved,
        }
    }
}

async fn settings_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<YearQuery>,
) -> Response {
    let built = async {
        let by = &staff.signed_in.principal;
        by.require_role(&[Role::Admin])?;
        let tz = state.config.timezone;
        let year = match q.year.as_deref().filter(|y| !y.is_empty()) {
            Some(raw) => year_up_to_next(raw, tz)?,
            None => Year::of(crate::now().with_timezone(&tz).date_naive()).previous(),
        };
        let s = annual::get_settings(&state.context(by), year).await?;
        Ok::<_, crate::Error>(SettingsPage::of(
            &staff,
            &s,
            state.config.min_responses,
            false,
        ))
    };
    shown(built.await)
}

/// A number typed in a Vietnamese form: `89,5` or `89.5`.
fn number(raw: &str, field: &str) -> crate::Result<Option<f64>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Some)
        .ok_or_else(|| {
            crate::Error::unprocessable("invalid_bands", format!("{field} is not a number"))
                .with_field(field)
        })
}

async fn save_settings(form: StaffForm) -> Response {
    let tz = form.state.config.timezone;
    let raw_year = form.field("year");
    let saved = async {
        let year = year_up_to_next(&raw_year, tz)?;
        let min = form.field("min_responses");
        let input = YearSettingsInput {
            outstanding: number(&form.field("outstanding"), "outstanding")?,
            good: number(&form.field("good"), "good")?,
            completed: number(&form.field("completed"), "completed")?,
            min_responses: Some(match min.trim() {
                "" => None,
                m => Some(m.parse::<u64>().map_err(|_| {
                    crate::Error::unprocessable(
                        "invalid_min_responses",
                        "min_responses is a whole number",
                    )
                    .with_field("min_responses")
                })?),
            }),
        };
        annual::put_settings(&form.context(), year, input).await
    };
    let (status, page) = match saved.await {
        Ok(s) => (
            StatusCode::OK,
            SettingsPage::of(&form.staff, &s, form.state.config.min_responses, true),
        ),
        Err(e) if e.kind.is_ours() || e.code == "forbidden" => return error_page(e),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            SettingsPage {
                chrome: Chrome::of(&form.staff.signed_in),
                year: raw_year.parse().unwrap_or_default(),
                outstanding: form.field("outstanding"),
                good: form.field("good"),
                completed: form.field("completed"),
                min_responses: form.field("min_responses"),
                default_min: form.state.config.min_responses,
                error: Some(settings_error_vi(&e)),
                saved: false,
            },
        ),
    };
    render(status, &page)
}

fn settings_error_vi(e: &crate::Error) -> String {
    match e.code {
        "invalid_bands" => {
            "Ngưỡng phải là số và thỏa 0 ≤ hoàn thành ≤ tốt ≤ xuất sắc ≤ 100.".to_string()
        }
        "invalid_min_responses" => {
            "Số phiếu tối thiểu phải là số nguyên không âm (để trống: mặc định).".to_string()
        }
        _ => message_vi(e),
    }
}

#[derive(Template)]
#[template(path = "year_import.html")]
struct ImportPage {
    chrome: Chrome,
    header: String,
    /// What went wrong, in Vietnamese, with the row.
    error: Option<String>,
    imported: Option<String>,
}

fn import_view(staff: &Staff, error: Option<String>, imported: Option<String>) -> ImportPage {
    ImportPage {
        chrome: Chrome::of(&staff.signed_in),
        header: import::CSV_HEADER.join(","),
        error,
        imported,
    }
}

async fn import_page(staff: Staff) -> Response {
    if let Err(e) = staff.signed_in.principal.require_role(&[Role::Admin]) {
        return error_page(e);
    }
    render(StatusCode::OK, &import_view(&staff, None, None))
}

/// An import refusal in Vietnamese, naming the row (counted from the first line after the
/// header) and the column.
fn import_error_vi(e: &crate::Error) -> String {
    let what = match e.code {
        "invalid_header" => format!(
            "Dòng tiêu đề phải có các cột {}.",
            import::CSV_HEADER.join(",")
        ),
        "invalid_csv" => {
            "Tệp không đọc được như CSV (số cột không khớp, hoặc dấu ngoặc kép chưa đóng).".into()
        }
        "no_rows" => "Tệp không có dòng phiếu nào.".into(),
        "too_many_rows" => format!(
            "Mỗi lần nhập tối đa {} phiếu: hãy chia tệp.",
            vn_count(import::MAX_ROWS as u64)
        ),
        "unknown_agency" => "Không có cơ quan với mã này.".into(),
        "unknown_desk" => "Cơ quan không có quầy với mã này.".into(),
        "unknown_questionnaire" => "Không có bộ câu hỏi với mã này.".into(),
        "unknown_question" => "Bộ câu hỏi không có câu hỏi này.".into(),
        "invalid_answer" => "Câu trả lời phải là một số trong thang điểm của câu hỏi.".into(),
        "missing_answer" => "Thiếu câu trả lời cho câu hỏi bắt buộc (đánh giá chung).".into(),
        "invalid_date" => "Ngày giờ không hợp lệ (ví dụ 2025-03-14 09:30).".into(),
        "submitted_at_in_future" => "Ngày trên phiếu ở tương lai.".into(),
        "invalid_channel" => "Kênh không hợp lệ (paper, qr, kiosk, web).".into(),
        "comment_too_long" | "text_too_long" => "Ý kiến dài quá mức cho phép.".into(),
        "invalid_text" => "Ý kiến có ký tự không hợp lệ.".into(),
        _ => message_vi(e),
    };
    let mut place = Vec::new();
    if let Some(row) = e.row {
        place.push(format!("dòng {row}"));
    }
    if let Some(field) = &e.field {
        place.push(format!("cột {field}"));
    }
    if place.is_empty() {
        what
    } else {
        format!("Không nhập phiếu nào. Lỗi ở {}: {what}", place.join(", "))
    }
}

/// `POST /admin/year-end/import` (multipart: `csrf`, `file`): all or nothing, like the API.
async fn upload(State(state): State<AppState>, staff: Staff, mut parts: Multipart) -> Response {
    let mut csrf = String::new();
    let mut file = Vec::new();
    loop {
        match parts.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(bytes) if name == "csrf" => {
                        csrf = String::from_utf8_lossy(&bytes).into_owned();
                    }
                    Ok(bytes) if name == "file" => file = bytes.to_vec(),
                    Ok(_) => {}
                    Err(_) => return error_page(crate::Error::payload_too_large()),
                }
            }
            Ok(None) => break,
            Err(_) => return error_page(crate::Error::payload_too_large()),
        }
    }
    if !constant_time_eq(&csrf, &staff.signed_in.csrf) {
        return super::pages::forbidden_page();
    }
    let cx = state.context(&staff.signed_in.principal);
    if let Err(e) = cx.by.require_role(&[Role::Admin]) {
        return error_page(e);
    }
    let done = async {
        let rows = import::parse_csv_rows(&file)?;
        import::import(&cx, rows, None).await
    };
    match done.await {
        Ok(n) => render(
            StatusCode::OK,
            &import_view(
                &staff,
                None,
                Some(format!("Đã nhập {} phiếu giấy.", vn_count(n as u64))),
            ),
        ),
        Err(e) if e.kind.is_ours() => error_page(e),
        Err(e) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &import_view(&staff, Some(import_error_vi(&e)), None),
        ),
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    year: i32,
    whose: String,
    ok: bool,
    digest: String,
    recomputed: String,
    back: String,
}

/// `GET /reports/annual/verify?year&parent`: the frozen ranking recomputed from the stored
/// ratings, as a page.
async fn verify_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<YearQuery>,
) -> Response {
    let built = async {
        let cx = state.context(&staff.signed_in.principal);
        let year = parse_year(q.year.as_deref().unwrap_or(""), state.config.timezone)?;
        let parent = annual::parent_code(q.parent.as_deref())?;
        let stored = annual::frozen_report(&cx, year, parent.as_ref()).await?;
        let check = annual::verify_stored(&state.db.read, &stored).await?;
        let code = parent.as_ref().map(|p| p.as_str().to_string());
        let whose = annual::whose_of(&cx, code.as_deref()).await?;
        Ok::<_, crate::Error>(VerifyPage {
            chrome: Chrome::of(&staff.signed_in),
            year: year.get(),
            whose,
            ok: check.ok,
            digest: check.digest,
            recomputed: check.recomputed,
            back: format!(
                "/reports/annual?year={}&parent={}",
                year.get(),
                code.unwrap_or_default()
            ),
        })
    };
    shown(built.await)
}
