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
