//! The citizen form: `GET/POST /r/{token}` and `/r/{token}/thanks`. Server-rendered from
//! compiled, escaping templates; Vietnamese by default, English with `?lang=en`; one page
//! that works without JavaScript; kiosk mode with one-tap smiley buttons.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::client::{self, Who};
use super::error::Error;
use crate::collect::answers::{self, Problem, Raw};
use crate::collect::intake::{Extras, Refused};
use crate::collect::links::{self, Unusable};
use crate::collect::questionnaire::Questionnaire;
use crate::collect::store::Channel;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(show).post(submit))
        .route("/r/{token}/thanks", get(thanks))
        .route("/r/{token}/card", get(card))
}

/// The words of the citizen pages in one language.
pub struct Texts {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub title: &'static str,
    pub send: &'static str,
    /// Under the first send button: only question 1 is required.
    pub rest_optional: &'static str,
    /// After each question that may be left out.
    pub optional: &'static str,
    pub fix_these: &'static str,
    pub privacy: &'static str,
    pub thanks: &'static str,
    pub thanks_body: &'static str,
    pub assisted: &'static str,
    /// "Please answer me" (with a comment).
    pub want_reply: &'static str,
    pub unknown: (&'static str, &'static str),
    pub expired: (&'static str, &'static str),
    pub revoked: (&'static str, &'static str),
    pub used: (&'static str, &'static str),
    pub failed: (&'static str, &'static str),
    pub limited: (&'static str, &'static str),
}

pub const VI: Texts = Texts {
    lang: "vi",
    other_lang: "en",
    other_lang_name: "English",
    title: "Đánh giá mức độ hài lòng",
    send: "Gửi đánh giá",
    rest_optional: "Chỉ câu hỏi đầu tiên là bắt buộc. Ông/Bà có thể gửi ngay, hoặc trả lời thêm các câu dưới đây.",
    optional: "không bắt buộc",
    fix_these: "Vui lòng kiểm tra lại:",
    privacy: "Phiếu đánh giá ẩn danh: chúng tôi không thu thập họ tên hay số điện thoại.",
    thanks: "Cảm ơn Ông/Bà!",
    thanks_body: "Đánh giá của Ông/Bà đã được ghi nhận và giúp cơ quan phục vụ tốt hơn.",
    assisted: "Có người giúp tôi điền phiếu này (cán bộ, người thân…)",
    want_reply: "Tôi muốn cơ quan trả lời ý kiến trên (Ông/Bà sẽ nhận một địa chỉ để xem trả lời; không cần họ tên hay số điện thoại)",
    revoked: (
        "Mã QR này đã ngừng sử dụng",
        "Quầy đã đổi mã QR mới. Vui lòng quét mã đang dán tại quầy.",
    ),
    unknown: (
        "Không tìm thấy phiếu đánh giá",
        "Đường dẫn này không đúng. Vui lòng quét lại mã QR tại quầy.",
    ),
    expired: (
        "Phiếu đánh giá đã hết hạn",
        "Thời hạn đánh giá cho hồ sơ này đã kết thúc.",
    ),
    used: (
        "Hồ sơ này đã được đánh giá",
        "Mỗi hồ sơ được đánh giá một lần. Cảm ơn Ông/Bà đã tham gia.",
    ),
    failed: (
        "Chưa gửi được đánh giá",
        "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
    ),
    limited: (
        "Ông/Bà đã gửi nhiều đánh giá",
        "Cảm ơn Ông/Bà. Thiết bị này vừa gửi nhiều đánh giá cho quầy này; vui lòng thử lại sau ít phút.",
    ),
};

pub const EN: Texts = Texts {
    lang: "en",
    other_lang: "vi",
    other_lang_name: "Tiếng Việt",
    title: "How satisfied are you?",
    send: "Send my rating",
    rest_optional: "Only the first question is required. Send now, or answer the questions below as well.",
    optional: "optional",
    fix_these: "Please check:",
    privacy: "This survey is anonymous: we collect no names or phone numbers.",
    thanks: "Thank you!",
    thanks_body: "Your rating has been recorded and helps the agency serve you better.",
    assisted: "Someone helped me fill in this form (staff, a relative…)",
    want_reply: "Please answer my comment (you get an address to read the answer; no name or phone number needed)",
    revoked: (
        "This QR code is no longer in use",
        "The desk has a new QR code. Please scan the one now shown at the desk.",
    ),
    unknown: (
        "Survey not found",
        "This link is not valid. Please scan the QR code at the desk again.",
    ),
    expired: (
        "This survey has expired",
        "The time to rate this dossier has ended.",
    ),
    used: (
        "This dossier has been rated",
        "Each dossier is rated once. Thank you for taking part.",
    ),
    failed: (
        "Your rating was not sent",
        "The system is busy. Please try again in a few minutes.",
    ),
    limited: (
        "You have sent several ratings",
        "Thank you. This device has just sent several ratings for this desk; please try again in a few minutes.",
    ),
};

fn texts(lang: Option<&str>) -> &'static Texts {
    if lang == Some("en") { &EN } else { &VI }
}

#[derive(Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    kiosk: Option<String>,
    /// The case the rating opened (on the thanks page).
    case: Option<String>,
}

pub struct ChoiceView {
    pub value: i16,
    pub label: String,
    pub face: &'static str,
    pub checked: bool,
}

pub struct QuestionView {
    pub key: String,
    pub text: String,
    pub required: bool,
    pub choices: Vec<ChoiceView>,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage<'a> {
    pub t: &'static Texts,
    pub token: &'a str,
    pub agency: String,
    pub desk: Option<String>,
    pub kiosk: bool,
    pub questions: Vec<QuestionView>,
    pub comment_label: String,
    pub comment: String,
    pub comment_error: Option<&'static str>,
    /// (question key, message) for the summary at the top.
    pub errors: Vec<(String, &'static str)>,
    pub other_lang_href: String,
    /// The form's signed render time (the `fast` rule).
    pub stamp: String,
    pub assisted: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub t: &'static Texts,
    pub heading: &'a str,
    pub body: &'a str,
    pub refresh: Option<String>,
}

/// The printable desk card: what a clerk prints and tapes to the desk.
#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPage {
    pub t: &'static Texts,
    pub agency: String,
    pub desk: Option<String>,
    pub url: String,
    /// Made by the `qrcode` crate from the link's URL; nothing in it comes from input.
    pub qr_svg: String,
    pub qr_label: &'static str,
    pub invitation: &'static str,
    pub invitation_en: &'static str,
    pub print_hint: &'static str,
}

pub(crate) fn page(
    status: StatusCode,
    t: &'static Texts,
    (heading, body): (&str, &str),
) -> Response {
    refusal(status, t, (heading, body), None)
}

/// A message page that goes to `refresh` by itself after a few seconds, when given.
fn refusal(
    status: StatusCode,
    t: &'static Texts,
    (heading, body): (&str, &str),
    refresh: Option<String>,
) -> Response {
    render(
        status,
        &MessagePage {
            t,
            heading,
            body,
            refresh,
        },
    )
}

pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => Error::internal(e).into_response(),
    }
}

fn unusable_page(t: &'static Texts, why: Unusable) -> Response {
    match why {
        Unusable::Unknown => page(StatusCode::NOT_FOUND, t, t.unknown),
        Unusable::Expired => page(StatusCode::GONE, t, t.expired),
        Unusable::Used => page(StatusCode::CONFLICT, t, t.used),
        Unusable::Revoked => page(StatusCode::GONE, t, t.revoked),
    }
}

/// The kiosk's faces, drawn (no emoji font needed): a frown, a straight mouth, a smile and
/// a broad smile, each with its own colour and shape, so that neither colour nor shape
/// alone carries it (the label under each says it in words).
fn face(value: i16) -> &'static str {
    match value {
        1 | 2 => concat!(
            "<svg viewBox=\"0 0 64 64\" width=\"96\" height=\"96\" focusable=\"false\">",
            "<circle cx=\"32\" cy=\"32\" r=\"29\" fill=\"#fde2e1\" stroke=\"#b00020\" stroke-width=\"4\"/>",
            "<circle cx=\"22\" cy=\"25\" r=\"4\" fill=\"#b00020\"/><circle cx=\"42\" cy=\"25\" r=\"4\" fill=\"#b00020\"/>",
            "<path d=\"M19 47q13-12 26 0\" fill=\"none\" stroke=\"#b00020\" stroke-width=\"4\" stroke-linecap=\"round\"/></svg>"
        ),
        3 => concat!(
            "<svg viewBox=\"0 0 64 64\" width=\"96\" height=\"96\" focusable=\"false\">",
            "<circle cx=\"32\" cy=\"32\" r=\"29\" fill=\"#fff3d6\" stroke=\"#8a5a00\" stroke-width=\"4\"/>",
            "<circle cx=\"22\" cy=\"25\" r=\"4\" fill=\"#8a5a00\"/><circle cx=\"42\" cy=\"25\" r=\"4\" fill=\"#8a5a00\"/>",
            "<path d=\"M20 42h24\" fill=\"none\" stroke=\"#8a5a00\" stroke-width=\"4\" stroke-linecap=\"round\"/></svg>"
        ),
        4 => concat!(
            "<svg viewBox=\"0 0 64 64\" width=\"96\" height=\"96\" focusable=\"false\">",
            "<circle cx=\"32\" cy=\"32\" r=\"29\" fill=\"#dff3e4\" stroke=\"#1a6b35\" stroke-width=\"4\"/>",
            "<circle cx=\"22\" cy=\"25\" r=\"4\" fill=\"#1a6b35\"/><circle cx=\"42\" cy=\"25\" r=\"4\" fill=\"#1a6b35\"/>",
            "<path d=\"M20 39q12 10 24 0\" fill=\"none\" stroke=\"#1a6b35\" stroke-width=\"4\" stroke-linecap=\"round\"/></svg>"
        ),
        _ => concat!(
            "<svg viewBox=\"0 0 64 64\" width=\"96\" height=\"96\" focusable=\"false\">",
            "<circle cx=\"32\" cy=\"32\" r=\"29\" fill=\"#d3ecf9\" stroke=\"#0b4f7a\" stroke-width=\"4\"/>",
            "<path d=\"M16 26q6-7 12 0M36 26q6-7 12 0\" fill=\"none\" stroke=\"#0b4f7a\" stroke-width=\"4\" stroke-linecap=\"round\"/>",
            "<path d=\"M17 36h30q-3 15-15 15t-15-15z\" fill=\"#0b4f7a\"/></svg>"
        ),
    }
}

/// Where a kiosk goes back to by itself: its blank form, in Vietnamese, whatever language
/// the last citizen chose.
fn kiosk_home(token: &str) -> String {
    format!("/r/{token}?kiosk=1&lang=vi")
}

struct Filled<'a> {
    raw: &'a [(String, Raw)],
    comment: &'a str,
    assisted: bool,
    problems: &'a [Problem],
    stamp: String,
}

#[allow(clippy::too_many_arguments)]
fn form_page<'a>(
    t: &'static Texts,
    token: &'a str,
    agency: String,
    desk: Option<String>,
    q: &Questionnaire,
    kiosk: bool,
    filled: Filled<'_>,
) -> FormPage<'a> {
    let english = t.lang == "en";
    let problem = |key: &str| {
        filled
            .problems
            .iter()
            .find(|p| p.field == key)
            .map(|p| p.message(english))
    };
    let questions = q
        .scale_questions()
        .map(|question| {
            let given = filled
                .raw
                .iter()
                .find(|(k, _)| *k == question.key)
                .map(|(_, v)| v.clone());
            QuestionView {
                key: question.key.clone(),
                text: if english {
                    &question.text_en
                } else {
                    &question.text_vi
                }
                .clone(),
                required: question.required,
                choices: question
                    .choices
                    .iter()
                    .map(|c| ChoiceView {
                        value: c.value,
                        label: if english { &c.en } else { &c.vi }.clone(),
                        face: face(c.value),
                        checked: given == Some(Raw::Int(i64::from(c.value))),
                    })
                    .collect(),
                error: problem(&question.key),
            }
        })
        .collect();
    let comment_label = q
        .comment()
        .map(|c| if english { &c.text_en } else { &c.text_vi }.clone())
        .unwrap_or_default();
    let errors = filled
        .problems
        .iter()
        .map(|p| (p.field.clone(), p.message(english)))
        .collect();
    FormPage {
        t,
        token,
        agency,
        desk,
        kiosk,
        questions,
        comment_label,
        comment: filled.comment.to_string(),
        comment_error: problem("comment"),
        errors,
        other_lang_href: format!(
            "/r/{token}?lang={}{}",
            t.other_lang,
            if kiosk { "&kiosk=1" } else { "" }
        ),
        stamp: filled.stamp,
        assisted: filled.assisted,
    }
}

/// The agency's and desk's names for the page heading: the agency the rating will count
/// for (a merged agency's successor, for an old printed card).
async fn place(
    state: &AppState,
    link: &entity::rating_link::Model,
) -> Result<(String, Option<String>), Error> {
    let agency = state.intake.carrier(link.agency_id).await?;
    let names = state
        .places
        .get(&state.db.read, agency, link.desk_id)
        .await?;
    Ok((names.agency, names.desk))
}

async fn show(
    State(state): State<AppState>,
    who: Who,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, Error> {
    let t = texts(query.lang.as_deref());
    let link = match links::usable(&state.db.read, &token).await? {
        Ok(link) => link,
        Err(why) => return Ok(unusable_page(t, why)),
    };
    let q = state
        .questionnaires
        .get(&state.db.read, link.questionnaire_id)
        .await?;
    let kiosk = (link.kiosk || query.kiosk.as_deref() == Some("1")) && q.scale == 3;
    let (agency, desk) = place(&state, &link).await?;
    let filled = Filled {
        raw: &[],
        comment: "",
        assisted: false,
        problems: &[],
        stamp: state.intake.keys().await?.stamp(crate::now()),
    };
    let mut res = render(
        StatusCode::OK,
        &form_page(t, &token, agency, desk, &q, kiosk, filled),
    );
    client::give_cookie(&state, &who, &mut res).await;
    Ok(res)
}

/// Form fields that are not answers.
const CONTROL_FIELDS: [&str; 7] = [
    "lang",
    "kiosk",
    "website",
    "comment",
    "assisted",
    "t",
    "want_reply",
];

async fn submit(
    State(state): State<AppState>,
    who: Who,
    Path(token): Path<String>,
    RawForm(body): RawForm,
) -> Result<Response, Error> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let t = texts(field("lang"));
    let kiosk_post = field("kiosk") == Some("1");
    let thanks_url = format!(
        "/r/{token}/thanks?lang={}{}",
        t.lang,
        if kiosk_post { "&kiosk=1" } else { "" }
    );
    let link = match links::usable(&state.db.read, &token).await? {
        Ok(link) => link,
        Err(why) => return Ok(unusable_page(t, why)),
    };
    // A bot filled the field people cannot see: thank it, store nothing.
    if field("website").is_some_and(|v| !v.is_empty()) {
        metrics::counter!("hailong_honeypot_total").increment(1);
        return Ok(Redirect::to(&thanks_url).into_response());
    }
    let q = state
        .questionnaires
        .get(&state.db.read, link.questionnaire_id)
        .await?;
    let raw: Vec<(String, Raw)> = fields
        .iter()
        .filter(|(k, _)| !CONTROL_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), Raw::from_text(v)))
        .collect();
    let comment = field("comment").unwrap_or("");
    let extras = Extras {
        assisted: field("assisted") == Some("1"),
        stamp: field("t").map(str::to_string),
        // The tick counts only with a comment; without one it is simply ignored.
        want_reply: field("want_reply") == Some("1"),
    };
    let checked = match answers::check(&q, &raw, Some(comment)) {
        Ok(checked) => checked,
        Err(problems) => {
            let kiosk = kiosk_post && q.scale == 3;
            let (agency, desk) = place(&state, &link).await?;
            // The form comes back with its first stamp: correcting it is not a new form.
            let stamp = match extras.stamp {
                Some(stamp) => stamp,
                None => state.intake.keys().await?.stamp(crate::now()),
            };
            let filled = Filled {
                raw: &raw,
                comment,
                assisted: extras.assisted,
                problems: &problems,
                stamp,
            };
            return Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(t, &token, agency, desk, &q, kiosk, filled),
            ));
        }
    };
    // A kiosk's refusal pages go back to its blank form by themselves.
    let back = (kiosk_post || link.kiosk).then(|| kiosk_home(&token));
    // The link says whether it sits on a kiosk; a client's `kiosk=1` only changes the page.
    let channel = if link.kiosk {
        Channel::Kiosk
    } else {
        Channel::Qr
    };
    match state
        .intake
        .rate(&who, &link, channel, checked, extras)
        .await
    {
        Ok(Ok(stored)) => {
            // A rating that opened a case: the thanks page shows where to follow it.
            let to = match stored.case {
                Some(case) => format!("{thanks_url}&case={}", case.code),
                None => thanks_url,
            };
            Ok(Redirect::to(&to).into_response())
        }
        Ok(Err(Refused::Used)) => Ok(unusable_page(t, Unusable::Used)),
        Ok(Err(Refused::Limited(wait))) => {
            let mut res = refusal(StatusCode::TOO_MANY_REQUESTS, t, t.limited, back);
            res.headers_mut()
                .insert(header::RETRY_AFTER, wait.as_secs().max(1).into());
            Ok(res)
        }
        Err(e) => {
            let mut res = refusal(StatusCode::SERVICE_UNAVAILABLE, t, t.failed, back);
            super::error::keep_for_log(&mut res, &e);
            if let Some(secs) = e.retry_after_secs() {
                res.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            Ok(res)
        }
    }
}

/// `GET /r/{token}/card`: the agency's and desk's names, the QR code, and an invitation in
/// Vietnamese (with a smaller English line). A link that can no longer take ratings gets
/// the same friendly page as the form, so that nobody prints a dead code.
async fn card(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, Error> {
    let link = match links::usable(&state.db.read, &token).await? {
        Ok(link) => link,
        Err(why) => return Ok(unusable_page(&VI, why)),
    };
    let (agency, desk) = place(&state, &link).await?;
    let url = links::link_url(&state.config.public_url, &link.token);
    let svg = crate::collect::qr::svg(&url)?;
    // Inline SVG: drop the XML declaration the renderer puts first.
    let qr_svg = svg
        .find("<svg")
        .map_or(svg.clone(), |at| svg[at..].to_string());
    Ok(render(
        StatusCode::OK,
        &CardPage {
            t: &VI,
            agency,
            desk,
            url,
            qr_svg,
            qr_label: "Mã QR đánh giá mức độ hài lòng",
            invitation: "Mời Ông/Bà quét mã QR để đánh giá mức độ hài lòng về việc giải quyết thủ tục hành chính",
            invitation_en: "Scan the QR code to rate the service you received today",
            print_hint: "In trang này và dán tại quầy (Ctrl+P). / Print this page and tape it to the desk.",
        },
    ))
}

async fn thanks(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, Error> {
    let t = texts(query.lang.as_deref());
    // Only a real link has a thanks page (used and expired ones too: the rating that used
    // the link lands here).
    if let Err(Unusable::Unknown) = links::usable(&state.db.read, &token).await? {
        return Ok(unusable_page(t, Unusable::Unknown));
    }
    let kiosk = query.kiosk.as_deref() == Some("1");
    // The kiosk returns to a blank form by itself, without JavaScript.
    let refresh = kiosk.then(|| kiosk_home(&token));
    if let Some(code) = query.case.as_deref()
        && let Some(page) = super::follow::thanks_case(&state, t, code, refresh.clone()).await?
    {
        return Ok(render(StatusCode::OK, &page));
    }
    Ok(render(
        StatusCode::OK,
        &MessagePage {
            t,
            heading: t.thanks,
            body: t.thanks_body,
            refresh,
        },
    ))
}
