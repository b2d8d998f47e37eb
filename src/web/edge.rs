//! What every answer passes through on its way out, and every request on its way in:
//! - requests whose path or query holds a NUL byte are refused (400) before any handler;
//! - every error answer has the documented shape: JSON `{"error": …}` on API routes, a
//!   Vietnamese HTML page (English with `lang=en`) on pages and the citizen form, whatever
//!   produced it (our handlers, axum's own rejections, the fallback). Nothing internal is
//!   ever passed on;
//! - security headers: `nosniff`, `Referrer-Policy`, and on pages a CSP that forbids
//!   framing; `Cache-Control: no-store` on API answers unless a handler chose otherwise;
//! - log lines name paths with rating tokens and case codes blanked.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::Error;
use super::form::{EN, Texts, VI, page};

/// Whether `path` belongs to the machine interface (JSON errors) rather than to pages.
fn is_api(path: &str) -> bool {
    ["/api/", "/charts/", "/healthz", "/metrics", "/fonts/"]
        .iter()
        .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
        || is_public_file(path)
}

/// The downloads of a frozen ranking (`/public/annual/2025.csv`, `…/canonical`): files,
/// whose errors are JSON like the API's.
fn is_public_file(path: &str) -> bool {
    path.strip_prefix("/public/annual/").is_some_and(|rest| {
        rest.ends_with("/canonical") || [".csv", ".xlsx", ".json"].iter().any(|e| rest.ends_with(e))
    })
}

/// The known page routes: errors there are HTML pages.
fn is_page(path: &str) -> bool {
    if is_public_file(path) {
        return false;
    }
    path == "/"
        || [
            "/r/",
            "/f/",
            "/cases",
            "/login",
            "/logout",
            "/dashboard",
            "/reports/",
            "/public",
            "/admin",
        ]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Refuses a request whose path or query holds a NUL byte (raw or percent-encoded): no
/// handler or database ever sees one.
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let raw = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let has_nul = raw.contains('\0')
        || raw
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0');
    if has_nul {
        let error = Error::bad_request(
            "invalid_path",
            "the address holds a character that is not allowed",
        );
        return shaped(
            req.uri().path(),
            wants_english(&req),
            wants_html(&req),
            super::error::status_of(error.kind),
            None,
        );
    }
    next.run(req).await
}

/// Gives every error its documented shape, and adds the security headers.
pub async fn shape_answers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let english = wants_english(&req);
    let html = wants_html(&req);
    let res = next.run(req).await;
    let mut res = if needs_reshaping(&path, html, &res) {
        let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
        shaped(&path, english, html, res.status(), retry_after)
    } else {
        res
    };
    let is_html = content_type(&res).starts_with("text/html");
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if is_html {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(
                "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'",
            ));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if is_api(&path) && !path.starts_with("/charts/") && !path.starts_with("/fonts/") {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    res
}

fn content_type(res: &Response) -> &str {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An error whose shape is not the one its route promises: plain text from a rejection
/// anywhere, JSON on a page, or an unknown path that a browser asked for.
fn needs_reshaping(path: &str, wants_html: bool, res: &Response) -> bool {
    if !(res.status().is_client_error() || res.status().is_server_error()) {
        return false;
    }
    let ct = content_type(res);
    let page = is_page(path) || (!is_api(path) && wants_html);
    if page {
        !ct.starts_with("text/html")
    } else {
        !ct.starts_with("application/json")
    }
}

/// The answer for `status` in the route's shape.
fn shaped(
    path: &str,
    english: bool,
    wants_html: bool,
    status: StatusCode,
    retry_after: Option<HeaderValue>,
) -> Response {
    let is_page_route = is_page(path) || (!is_api(path) && wants_html);
    let mut res = if is_page_route {
        let t: &'static Texts = if english { &EN } else { &VI };
        page(status, t, page_text(status, english))
    } else {
        let (code, message) = api_text(status);
        Error::new(super::error::kind_of(status), code, message).into_response()
    };
    if let Some(v) = retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn wants_english(req: &Request) -> bool {
    req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "lang" && v == "en")
    })
}

fn wants_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// A stable code and a message for an error that reached us without our shape.
fn api_text(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad_request", "the request could not be read"),
        401 => ("unauthorized", "missing or invalid credentials"),
        403 => ("forbidden", "your role or agency scope does not cover this"),
        404 => ("not_found", "there is nothing at this address"),
        405 => (
            "method_not_allowed",
            "this address does not answer that method",
        ),
        408 => ("request_timeout", "the request took too long to arrive"),
        409 => ("conflict", "the request conflicts with the current state"),
        413 => ("payload_too_large", "the request body is too large"),
        415 => (
            "unsupported_media_type",
            "this content type is not accepted here",
        ),
        422 => ("invalid_body", "the request is not valid"),
        429 => ("too_many_requests", "too many requests; try again later"),
        503 => (
            "unavailable",
            "the service is busy; please try again shortly",
        ),
        _ if status.is_client_error() => ("bad_request", "the request could not be handled"),
        _ => (
            "internal",
            "something went wrong on our side; please try again",
        ),
    }
}

/// The heading and sentence of an error page.
fn page_text(status: StatusCode, english: bool) -> (&'static str, &'static str) {
    match (status.as_u16(), english) {
        (400 | 413 | 415 | 422, false) => (
            "Yêu cầu không hợp lệ",
            "Nội dung gửi lên không đọc được. Vui lòng quay lại và thử lại.",
        ),
        (400 | 413 | 415 | 422, true) => (
            "The request could not be read",
            "Please go back and try again.",
        ),
        (401 | 403, false) => (
            "Không có quyền truy cập",
            "Tài khoản của Ông/Bà không được xem trang này. Vui lòng đăng nhập lại.",
        ),
        (401 | 403, true) => (
            "Access denied",
            "Your account may not see this page. Please sign in again.",
        ),
        (404 | 405, false) => (
            "Không tìm thấy trang",
            "Địa chỉ này không có trang nào. Vui lòng kiểm tra lại đường dẫn.",
        ),
        (404 | 405, true) => (
            "Page not found",
            "There is no page at this address. Please check the link.",
        ),
        (408, false) => (
            "Hết thời gian chờ",
            "Yêu cầu gửi quá chậm. Vui lòng thử lại.",
        ),
        (408, true) => (
            "Request timed out",
            "The request was too slow. Please try again.",
        ),
        (429, false) => ("Quá nhiều yêu cầu", "Vui lòng chờ ít phút rồi thử lại."),
        (429, true) => (
            "Too many requests",
            "Please wait a few minutes and try again.",
        ),
        (_, false) => (
            "Hệ thống đang bận",
            "Vui lòng thử lại sau ít phút. Dữ liệu của Ông/Bà không bị mất.",
        ),
        (_, true) => ("The system is busy", "Please try again in a few minutes."),
    }
}

/// A path fit for the log: rating tokens and case codes are secrets, so the segment after
/// `/r/` and `/f/` is blanked.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/r/", "/f/", "/api/v1/links/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}…{tail}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(loggable_path("/r/abcDEF123/thanks"), "/r/…/thanks");
        assert_eq!(loggable_path("/r/abcDEF123"), "/r/…");
        assert_eq!(loggable_path("/f/secret"), "/f/…");
        assert_eq!(
            loggable_path("/api/v1/links/tok/revoke"),
            "/api/v1/links/…/revoke"
        );
        assert_eq!(loggable_path("/dashboard"), "/dashboard");
    }

    #[test]
    fn routes_are_told_apart() {
        assert!(is_api("/api/v1/responses"));
        assert!(is_api("/healthz"));
        assert!(!is_page("/api/v1/responses"));
        assert!(is_page("/r/tok"));
        assert!(is_page("/login"));
        assert!(!is_api("/nowhere") && !is_page("/nowhere"));
    }
}
