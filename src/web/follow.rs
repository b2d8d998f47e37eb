//! The citizen's side of a case (API.md, "Closing the loop"): `GET /f/{code}` shows the
//! rating, the status, the due date and the agency's reply; `POST /f/{code}` takes one
//! rating of the reply. No sign-in, no personal data: the code is the key. Vietnamese by
//! default, English with `?lang=en`; no JavaScript.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::NaiveDate;
use serde::Deserialize;

use super::AppState;
use super::error::Error;
use super::form::render;
use crate::follow::cases::{self, CitizenView, ReplyRating, Status};
use crate::govern::Principal;

pub fn router() -> Router<AppState> {
    Router::new().route("/f/{code}", get(show).post(rate))
}

/// The texts of the case pages.
pub struct CaseTexts {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub title: &'static str,
    pub your_rating: &'static str,
    pub your_comment: &'static str,
    pub status: &'static str,
    pub statuses: [&'static str; 4],
    pub due: &'static str,
    pub opened: &'static str,
    pub reply: &'static str,
    pub no_reply: &'static str,
    pub question: &'static str,
    pub satisfied: &'static str,
    pub dissatisfied: &'static str,
    pub rated: (&'static str, &'static str),
    pub keep: &'static str,
    pub address: &'static str,
    pub not_found: (&'static str, &'static str),
    pub conflict: (&'static str, &'static str),
    pub levels: [&'static str; 5],
}

pub const VI: CaseTexts = CaseTexts {
    lang: "vi",
    other_lang: "en",
    other_lang_name: "English",
    title: "Theo dõi phản ánh",
    your_rating: "Đánh giá của Ông/Bà",
    your_comment: "Ý kiến của Ông/Bà",
    status: "Tình trạng",
    statuses: ["Đang xử lý", "Quá hạn trả lời", "Đã trả lời", "Đã kết thúc"],
    due: "Cơ quan trả lời chậm nhất ngày",
    opened: "Ngày gửi",
    reply: "Trả lời của cơ quan",
    no_reply: "Cơ quan chưa trả lời. Ông/Bà có thể mở lại trang này sau.",
    question: "Ông/Bà có hài lòng với cách giải quyết không?",
    satisfied: "Hài lòng",
    dissatisfied: "Không hài lòng",
    rated: ("Ông/Bà đã đánh giá cách giải quyết:", "Cảm ơn Ông/Bà."),
    keep: "Hãy lưu lại địa chỉ này (chụp màn hình hoặc chép lại) để xem trả lời của cơ quan. Chỉ ai có địa chỉ này mới xem được phản ánh; chúng tôi không hỏi họ tên hay số điện thoại.",
    address: "Địa chỉ theo dõi",
    not_found: (
        "Không tìm thấy phản ánh",
        "Địa chỉ này không đúng. Vui lòng kiểm tra lại đường dẫn đã lưu.",
    ),
    conflict: (
        "Không thể ghi nhận",
        "Cách giải quyết đã được đánh giá, hoặc cơ quan chưa trả lời.",
    ),
    levels: [
        "Rất không hài lòng",
        "Không hài lòng",
        "Bình thường",
        "Hài lòng",
        "Rất hài lòng",
    ],
};

pub const EN: CaseTexts = CaseTexts {
    lang: "en",
    other_lang: "vi",
    other_lang_name: "Tiếng Việt",
    title: "Your feedback",
    your_rating: "Your rating",
    your_comment: "Your comment",
    status: "Status",
    statuses: ["Being handled", "Answer overdue", "Answered", "Closed"],
    due: "The agency answers by",
    opened: "Sent on",
    reply: "The agency's answer",
    no_reply: "The agency has not answered yet. Come back to this page later.",
    question: "Are you satisfied with how your feedback was handled?",
    satisfied: "Satisfied",
    dissatisfied: "Dissatisfied",
    rated: ("You rated how it was handled:", "Thank you."),
    keep: "Keep this address (take a screenshot or copy it) to read the agency's answer. Only someone with this address can see your feedback; we ask for no name or phone number.",
    address: "Address to follow",
    not_found: (
        "Feedback not found",
        "This address is not valid. Please check the link you kept.",
    ),
    conflict: (
        "Not recorded",
        "The answer has been rated already, or the agency has not answered yet.",
    ),
    levels: [
        "Very dissatisfied",
        "Dissatisfied",
        "Neutral",
        "Satisfied",
        "Very satisfied",
    ],
};

pub fn case_texts(lang: Option<&str>) -> &'static CaseTexts {
    if lang == Some("en") { &EN } else { &VI }
}

/// `dd/mm/yyyy`.
pub fn day_text(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The block that tells the citizen where to follow their case: on the thanks page and
/// on the case page.
pub struct Follow {
    pub url: String,
    pub due: String,
}

/// The thanks page after a rating that opened a case: where to follow it, and by when the
/// agency answers.
#[derive(Template)]
#[template(path = "thanks_case.html")]
pub struct ThanksCase {
    pub t: &'static super::form::Texts,
    pub c: &'static CaseTexts,
    pub follow: Follow,
    pub refresh: Option<String>,
}

/// The [`ThanksCase`] page of case `code`, if there is one.
pub async fn thanks_case(
    state: &AppState,
    t: &'static super::form::Texts,
    code: &str,
    refresh: Option<String>,
) -> Result<Option<ThanksCase>, Error> {
    let by = Principal::citizen();
    let cx = state.context(&by);
    match cases::for_citizen(&cx, code).await {
        Ok(view) => Ok(Some(ThanksCase {
            t,
            c: case_texts(Some(t.lang)),
            follow: Follow {
                url: case_url(state, code),
                due: day_text(view.due),
            },
            refresh,
        })),
        Err(e) if e.code == "case_not_found" => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: &'static CaseTexts,
    t: &'static super::form::Texts,
    code: String,
    view: CitizenView,
    status: &'static str,
    rating: &'static str,
    follow: Follow,
    can_rate: bool,
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

fn message(
    status: StatusCode,
    lang: Option<&str>,
    (heading, body): (&'static str, &'static str),
) -> Response {
    let t = if lang == Some("en") {
        &super::form::EN
    } else {
        &super::form::VI
    };
    render(
        status,
        &super::form::MessagePage {
            t,
            heading,
            body,
            refresh: None,
        },
    )
}

/// The public address of case `code`.
pub fn case_url(state: &AppState, code: &str) -> String {
    format!("{}/f/{code}", state.config.public_url)
}

async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, Error> {
    let c = case_texts(q.lang.as_deref());
    let by = Principal::citizen();
    let cx = state.context(&by);
    let view = match cases::for_citizen(&cx, &code).await {
        Ok(view) => view,
        Err(e) if e.code == "case_not_found" => {
            return Ok(message(
                StatusCode::NOT_FOUND,
                q.lang.as_deref(),
                c.not_found,
            ));
        }
        Err(e) => return Err(e),
    };
    let status = c.statuses[match view.status {
        Status::Open => 0,
        Status::Overdue => 1,
        Status::Answered => 2,
        Status::Closed => 3,
    }];
    let rating = usize::try_from(view.overall - 1)
        .ok()
        .and_then(|i| c.levels.get(i))
        .copied()
        .unwrap_or("");
    let t = if c.lang == "en" {
        &super::form::EN
    } else {
        &super::form::VI
    };
    Ok(render(
        StatusCode::OK,
        &CasePage {
            c,
            t,
            can_rate: view.reply.is_some()
                && view.reply_rating.is_none()
                && view.status != Status::Closed,
            follow: Follow {
                url: case_url(&state, &code),
                due: day_text(view.due),
            },
            code,
            view,
            status,
            rating,
        },
    ))
}

async fn rate(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
    RawForm(body): RawForm,
) -> Result<Response, Error> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let lang = field("lang").or(q.lang.as_deref()).map(str::to_string);
    let c = case_texts(lang.as_deref());
    let Some(rating) = field("reply_rating").and_then(ReplyRating::parse) else {
        return Err(crate::Error::invalid(
            "reply_rating",
            crate::domain::Invalid::new("invalid_rating", "satisfied or dissatisfied"),
        ));
    };
    let by = Principal::citizen();
    let cx = state.context(&by);
    match cases::rate_reply(&cx, &code, rating).await {
        Ok(()) => {
            let back = format!("/f/{code}?lang={}", c.lang);
            let mut res = Redirect::to(&back).into_response();
            *res.status_mut() = StatusCode::SEE_OTHER;
            Ok(res)
        }
        Err(e) if e.code == "case_not_found" => {
            Ok(message(StatusCode::NOT_FOUND, lang.as_deref(), c.not_found))
        }
        Err(e) if e.kind == crate::error::Kind::Conflict => {
            Ok(message(StatusCode::CONFLICT, lang.as_deref(), c.conflict))
        }
        Err(e) => Err(e),
    }
}
