//! Signing in and out.

use super::*;

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

pub(super) async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, String::new(), None)
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

pub(super) async fn logout(form: StaffForm) -> Response {
    if let Err(e) = sessions::sign_out(&form.state.db, &form.staff.token).await {
        return error_page(e);
    }
    let mut res = Redirect::to("/login").into_response();
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(cookie) = cookies::set(sessions::COOKIE, "", 0, secure(&form.state)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}
