//! Taking access back: keys revoked, users disabled and re-enabled, passwords changed, by
//! API and by the command line; each takes effect on the next request.

use axum::http::{Method, StatusCode};
use hailong::domain::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::pages::{request, setup, sign_in};

#[tokio::test]
async fn an_administrator_creates_lists_and_revokes_keys() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = app
        .post(
            "/api/v1/keys",
            &app.admin,
            json!({"role": "integrator", "agency": "A", "name": "Hệ thống một cửa"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let created = res.json();
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::OK
    );

    let list = app.get("/api/v1/keys", &app.admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&key), "a listing shows a key");
    let row = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(
        (row["role"].as_str(), row["agency"].as_str()),
        (Some("integrator"), Some("A"))
    );
    assert_eq!(row["revoked_at"], serde_json::Value::Null);

    // Only administrators, and only real keys.
    let viewer = app.key(Role::Viewer, Some("A")).await;
    for (case, res, status) in [
        ("viewer lists", app.get("/api/v1/keys", &viewer).await, 403),
        (
            "viewer revokes",
            app.post(&format!("/api/v1/keys/{id}/revoke"), &viewer, json!({}))
                .await,
            403,
        ),
        (
            "unknown key",
            app.post("/api/v1/keys/999999/revoke", &app.admin, json!({}))
                .await,
            404,
        ),
        (
            "bad role",
            app.post("/api/v1/keys", &app.admin, json!({"role": "king"}))
                .await,
            422,
        ),
    ] {
        assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
    }

    let res = app
        .post(&format!("/api/v1/keys/{id}/revoke"), &app.admin, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.json()["revoked_at"].is_string());
    let res = app.get("/api/v1/agencies", &key).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let app = setup(None).await;
    let (cookie, _) = sign_in(&app, "minh").await;
    assert_eq!(
        request(&app, Method::GET, "/dashboard", &cookie, None)
            .await
            .status,
        StatusCode::OK
    );

    let res = app
        .post("/api/v1/users/minh/disable", &app.admin, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["active"], false);
    let res = request(&app, Method::GET, "/dashboard", &cookie, None).await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "the session outlived the user"
    );
    assert_eq!(app.count("sessions").await, 0);
    let users = app.get("/api/v1/users", &app.admin).await.json();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "minh" && u["active"] == false)
    );

    let res = app
        .post("/api/v1/users/minh/enable", &app.admin, json!({}))
        .await;
    assert_eq!(res.json()["active"], true);
    sign_in(&app, "minh").await;
    let res = app
        .post("/api/v1/users/nobody/disable", &app.admin, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let res = app
        .post("/api/v1/users", &app.admin, json!({"username": "hoa", "password": "mật khẩu của Hoa", "role": "viewer", "agency": "B"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["agency"], "B");
    assert!(!res.text.contains("argon2"), "{}", res.text);
}

#[tokio::test]
async fn the_admin_page_disables_users_and_revokes_keys() {
    let app = setup(None).await;
    let (admin, csrf) = sign_in(&app, "lan").await;
    let page = request(&app, Method::GET, "/admin/users", &admin, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("minh") && page.text.contains("Khóa tài khoản minh"),
        "{}",
        page.text
    );
    // Without the CSRF token: refused, nothing changes.
    let res = request(
        &app,
        Method::POST,
        "/admin/users/minh/disable",
        &admin,
        Some(String::new()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let (minh, _) = sign_in(&app, "minh").await;
    let res = request(
        &app,
        Method::POST,
        "/admin/users/minh/disable",
        &admin,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(
        request(&app, Method::GET, "/dashboard", &minh, None)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // A key made on the page is shown once, then revoked there.
    let res = request(
        &app,
        Method::POST,
        "/admin/keys",
        &admin,
        Some(format!(
            "csrf={csrf}&role=viewer&agency=A&name=b%C3%A1o+c%C3%A1o"
        )),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.headers["cache-control"], "no-store");
    let key = res
        .text
        .split("<code style=\"word-break:break-all;font-size:1.05rem\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(key.starts_with("hl_"), "{key}");
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::OK
    );
    let listed = app.get("/api/v1/keys", &app.admin).await.json();
    let id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "báo cáo")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let again = request(&app, Method::GET, "/admin/keys", &admin, None).await;
    assert!(!again.text.contains(&key), "the key is shown only once");
    let res = request(
        &app,
        Method::POST,
        &format!("/admin/keys/{id}/revoke"),
        &admin,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A manager may not see the page.
    let res = request(
        &app,
        Method::POST,
        "/admin/users/minh/enable",
        &admin,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let (minh, _) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/users", &minh, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn user_and_key_forms_keep_what_was_typed_and_confirm_what_was_done() {
    let app = setup(None).await;
    let (admin, csrf) = sign_in(&app, "lan").await;
    let post = |path: &'static str, body: String| {
        let admin = admin.clone();
        let app = &app;
        async move { request(app, Method::POST, path, &admin, Some(body)).await }
    };
    let before = app.fingerprint().await;
    // A password too short: refused with the reason, the rest as typed, the password not.
    let res = post(
        "/admin/users",
        format!("csrf={csrf}&username=hoa&password=short1&role=manager&agency=B"),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert!(
        res.text.contains("Mật khẩu phải có ít nhất 8 ký tự."),
        "{}",
        res.text
    );
    assert!(res.text.contains("id=\"u-name\" name=\"username\" required maxlength=\"64\" autocomplete=\"off\" value=\"hoa\""), "{}", res.text);
    assert!(res.text.contains("<option value=\"manager\" selected>"));
    assert!(res.text.contains("<option value=\"B\" selected>"));
    assert!(
        !res.text.contains("short1"),
        "a password is never sent back"
    );
    // A key with a role that does not exist.
    let res = post(
        "/admin/keys",
        format!("csrf={csrf}&name=H%E1%BB%87+th%E1%BB%91ng&role=boss"),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("Vai trò không hợp lệ."), "{}", res.text);
    assert!(res.text.contains("value=\"Hệ thống\""), "{}", res.text);
    assert_eq!(app.fingerprint().await, before);
    // Done: back to the page, which says so.
    let res = post(
        "/admin/users",
        format!("csrf={csrf}&username=hoa&password=long+enough+1&role=manager&agency=B"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let to = res.headers[axum::http::header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(to, "/admin/users?saved=user#users");
    let page = request(&app, Method::GET, "/admin/users?saved=user", &admin, None).await;
    assert!(page.text.contains("Đã thêm người dùng."), "{}", page.text);
    let res = post(
        "/admin/users/hoa/password",
        format!("csrf={csrf}&password=x"),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text.contains("id=\"pw-error-hoa\""),
        "the reason stands by the user's form"
    );
}
