use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hailong::domain::Role;
use serde_json::json;

use crate::helpers::TestApp;

/// Province KH with departments A (and its unit A.1) and B.
async fn province(app: &TestApp) {
    app.agency("KH", None).await;
    app.agency("A", Some("KH")).await;
    app.agency("A.1", Some("A")).await;
    app.agency("B", Some("KH")).await;
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        (
            "unknown key",
            Some("Bearer hl_notarealkeyatallnotarealkeyatallnotareal".into()),
        ),
        ("empty bearer", Some("Bearer ".into())),
        ("basic scheme", Some(format!("Basic {}", app.admin))),
        ("key without scheme", Some(app.admin.clone())),
    ];
    let before = app.fingerprint().await;
    for (case, auth) in cases {
        for (method, body) in [
            (Method::GET, None),
            (Method::POST, Some(json!({"code": "X", "name": "x"}))),
        ] {
            let mut req = Request::builder()
                .method(method.clone())
                .uri("/api/v1/agencies");
            if let Some(auth) = &auth {
                req = req.header(header::AUTHORIZATION, auth);
            }
            let req = match &body {
                Some(b) => req
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(b.to_string())),
                None => req.body(Body::empty()),
            }
            .unwrap();
            let res = app.send(req).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{case} {method}");
            assert_eq!(res.error_code(), "unauthorized", "{case}");
        }
    }
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let req = Request::builder()
        .uri("/api/v1/agencies")
        .header(header::AUTHORIZATION, format!("bearer {}", app.admin))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn only_administrators_change_agencies_and_desks() {
    let app = TestApp::spawn().await;
    province(&app).await;
    let before = app.fingerprint().await;
    for role in [Role::Manager, Role::Viewer, Role::Integrator] {
        let key = app.key(role, Some("KH")).await;
        let before = app.fingerprint().await;
        let res = app
            .post(
                "/api/v1/agencies",
                &key,
                json!({"code": "N", "name": "n", "parent": "KH"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} agency");
        assert_eq!(res.error_code(), "forbidden");
        let res = app
            .post(
                "/api/v1/agencies/A/desks",
                &key,
                json!({"code": "D", "name": "d"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} desk");
        // The role is checked before the body: a bad body still gets 403.
        let res = app
            .post("/api/v1/agencies", &key, json!({"nonsense": true}))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} bad body");
        assert_eq!(
            app.fingerprint().await,
            before,
            "{role} changed the database"
        );
    }
    // Only the three keys were added.
    assert_eq!(
        app.count("api_keys").await,
        before.iter().find(|t| t.0 == "api_keys").unwrap().1 + 3
    );
}

#[tokio::test]
async fn a_scoped_key_sees_only_its_subtree() {
    let app = TestApp::spawn().await;
    province(&app).await;
    for role in [Role::Manager, Role::Viewer, Role::Integrator] {
        let key = app.key(role, Some("A")).await;
        let list = app.get("/api/v1/agencies", &key).await;
        assert_eq!(list.status, StatusCode::OK, "{role}");
        let codes: Vec<String> = list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes, ["A", "A.1"], "{role}");

        for inside in ["A", "A.1"] {
            let res = app.get(&format!("/api/v1/agencies/{inside}"), &key).await;
            assert_eq!(res.status, StatusCode::OK, "{role} {inside}");
            let res = app
                .get(&format!("/api/v1/agencies/{inside}/desks"), &key)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{role} {inside} desks");
        }
        for outside in ["KH", "B"] {
            let res = app.get(&format!("/api/v1/agencies/{outside}"), &key).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} {outside}");
            assert_eq!(res.error_code(), "forbidden");
            let res = app
                .get(&format!("/api/v1/agencies/{outside}/desks"), &key)
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} {outside} desks");
        }
        let res = app.get("/api/v1/agencies/NOPE", &key).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{role}");
    }
}

#[tokio::test]
async fn a_key_scoped_to_a_leaf_sees_only_the_leaf() {
    let app = TestApp::spawn().await;
    province(&app).await;
    let key = app.key(Role::Viewer, Some("A.1")).await;
    let list = app.get("/api/v1/agencies", &key).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/agencies/A", &key).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn keys_need_a_scope_unless_admin() {
    let app = TestApp::spawn().await;
    province(&app).await;
    let by = hailong::govern::Principal::cli();
    let before = app.fingerprint().await;
    let no_agency = hailong::govern::keys::create(&app.db, &by, Role::Manager, None, None).await;
    assert_eq!(no_agency.err().unwrap().code, "agency_required");
    let admin_agency =
        hailong::govern::keys::create(&app.db, &by, Role::Admin, Some("A"), None).await;
    assert_eq!(admin_agency.err().unwrap().code, "agency_not_allowed");
    let unknown =
        hailong::govern::keys::create(&app.db, &by, Role::Viewer, Some("NOPE"), None).await;
    assert_eq!(unknown.err().unwrap().code, "agency_not_found");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn keys_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let stored = <entity::api_key::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].key_hash, app.admin);
    assert!(!stored[0].key_hash.contains(&app.admin[3..]));
    assert_eq!(stored[0].key_hash.len(), 64);
    assert!(app.admin.starts_with(&stored[0].prefix));
}
