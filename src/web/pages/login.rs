//! Signing in and out.

use super::*;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    login_token: String,
    username: String,
    error: Option<&'static str>,
    /// Where to go once signed in (a same-origin path), or empty.
    next: String,
}

/// `next` if it is a path of this site (`/dashboard?agency=A`), else `None`: never another
/// site (`//evil.example`, `https://…`, `/\evil`), nor the sign-in pages themselves.
pub(super) fn safe_next(next: &str) -> Option<String> {
    let ours = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 1024
        && !["/login", "/logout"]
            .iter()
            .any(|p| next == *p || next.starts_with(&format!("{p}?")));
    ours.then(|| next.to_string())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

/// The sign-in form with a fresh token, bound to a cookie set with it.
fn login_page(
    state: &AppState,
    status: StatusCode,
    username: String,
    error: Option<&'static str>,
    next: Option<String>,
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
            next: next.unwrap_or_default(),
        },
    );
    if let Ok(cookie) = cookies::set(LOGIN_COOKIE, &token, 3600, secure(state)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

pub(super) async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = q.next.as_deref().and_then(safe_next);
    login_page(&state, StatusCode::OK, String::new(), None, next)
}

pub(super) async fn login(
    State(state): State<AppState>,
    who: crate::web::client::Who,
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
    let next = safe_next(get("next"));
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
            let mut res = Redirect::to(next.as_deref().unwrap_or("/dashboard")).into_response();
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
            next,
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
            let mut res = login_page(&state, status, username, Some(message), next);
            res.headers_mut().insert(header::RETRY_AFTER, wait.into());
            res
        }
        Err(e) => error_page(e),
    }
}

pub(super) async fn logout(form: StaffForm) -> Response {
    signed_out(&form, "/login").await
}

/// Ends the form sender's session on this device (the cookie goes too), then sends the
/// browser to `to`: signing out, and opening a kiosk on a public tablet.
pub(crate) async fn signed_out(form: &StaffForm, to: &str) -> Response {
    if let Err(e) = sessions::sign_out(&form.state.db, &form.staff.token).await {
        return error_page(e);
    }
    let mut res = Redirect::to(to).into_response();
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(cookie) = cookies::set(sessions::COOKIE, "", 0, secure(&form.state)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        for ours in [
            "/dashboard",
            "/dashboard?agency=KH.STP&year=2025",
            "/admin/review",
        ] {
            assert_eq!(safe_next(ours).as_deref(), Some(ours));
        }
        for not_ours in [
            "",
            "dashboard",
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/login",
            "/login?next=/x",
            "/logout",
            "/dash\nboard",
        ] {
            assert_eq!(safe_next(not_ours), None, "{not_ours:?}");
        }
    }
}
