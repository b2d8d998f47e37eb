use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn admin_builds_the_agency_tree() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/api/v1/agencies",
            &app.admin,
            json!({"code": "KH", "name": "Ủy ban nhân dân tỉnh Khánh Hòa", "parent": null, "level": "tỉnh"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"code": "KH", "name": "Ủy ban nhân dân tỉnh Khánh Hòa", "parent": null, "level": "tỉnh"})
    );

    let res = app
        .post(
            "/api/v1/agencies",
            &app.admin,
            json!({"code": "KH.STP", "name": "Sở Tư pháp", "parent": "KH"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"code": "KH.STP", "name": "Sở Tư pháp", "parent": "KH", "level": null})
    );

    let list = app.get("/api/v1/agencies", &app.admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!([
            {"code": "KH", "name": "Ủy ban nhân dân tỉnh Khánh Hòa", "parent": null, "level": "tỉnh",
             "valid_from": null, "valid_to": null},
            {"code": "KH.STP", "name": "Sở Tư pháp", "parent": "KH", "level": null,
             "valid_from": null, "valid_to": null},
        ])
    );

    let one = app.get("/api/v1/agencies/KH.STP", &app.admin).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["parent"], "KH");
}

#[tokio::test]
async fn every_agency_change_is_audited() {
    let app = TestApp::spawn().await;
    let before = app.count("audit_log").await;
    app.agency("KH", None).await;
    assert_eq!(app.count("audit_log").await, before + 1);
    let row = <entity::audit_log::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.action == "agency.create")
        .expect("audit row");
    assert_eq!(row.target, "agency:KH");
    assert!(row.actor.starts_with("key:hl_"), "{}", row.actor);
    assert!(
        !row.actor.contains(&app.admin),
        "the audit log never holds a whole key"
    );
}

/// Each case: what is sent, the status and code expected. Each leaves the database as it was.
#[tokio::test]
async fn bad_agencies_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.agency("KH", None).await;
    let long = "x".repeat(33);
    let cases: Vec<(&str, Value, u16, &str, Option<&str>)> = vec![
        (
            "duplicate code",
            json!({"code": "KH", "name": "again"}),
            409,
            "agency_exists",
            Some("code"),
        ),
        (
            "unknown parent",
            json!({"code": "A", "name": "a", "parent": "NOPE"}),
            422,
            "unknown_parent",
            Some("parent"),
        ),
        (
            "empty code",
            json!({"code": "", "name": "a"}),
            422,
            "invalid_code",
            Some("code"),
        ),
        (
            "code too long",
            json!({"code": long, "name": "a"}),
            422,
            "invalid_code",
            Some("code"),
        ),
        (
            "code with a space",
            json!({"code": "A B", "name": "a"}),
            422,
            "invalid_code",
            Some("code"),
        ),
        (
            "code with diacritics",
            json!({"code": "SỞ", "name": "a"}),
            422,
            "invalid_code",
            Some("code"),
        ),
        (
            "code with a slash",
            json!({"code": "A/B", "name": "a"}),
            422,
            "invalid_code",
            Some("code"),
        ),
        (
            "empty name",
            json!({"code": "A", "name": "  "}),
            422,
            "invalid_name",
            Some("name"),
        ),
        (
            "missing name",
            json!({"code": "A"}),
            422,
            "invalid_body",
            Some("name"),
        ),
        (
            "missing code",
            json!({"name": "a"}),
            422,
            "invalid_body",
            Some("code"),
        ),
        (
            "code of the wrong type",
            json!({"code": 5, "name": "a"}),
            422,
            "invalid_body",
            Some("code"),
        ),
        (
            "parent of the wrong type",
            json!({"code": "A", "name": "a", "parent": 1}),
            422,
            "invalid_body",
            Some("parent"),
        ),
        (
            "unknown field",
            json!({"code": "A", "name": "a", "colour": "red"}),
            422,
            "invalid_body",
            None,
        ),
        ("an array", json!([1, 2]), 422, "invalid_body", None),
    ];
    let before = app.fingerprint().await;
    for (case, body, status, code, field) in cases {
        let res = app.post("/api/v1/agencies", &app.admin, body).await;
        app.assert_rejected(case, &res, status, code, &before).await;
        if let Some(field) = field {
            assert_eq!(res.json()["error"]["field"], field, "{case}");
        }
    }
}

#[tokio::test]
async fn malformed_bodies_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = app.fingerprint().await;
    let raw = |ct: Option<&str>, body: Vec<u8>| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/agencies")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin));
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        req.body(Body::from(body)).unwrap()
    };
    let big = format!(r#"{{"code":"A","name":"{}"}}"#, "a".repeat(70 * 1024));
    let cases: Vec<(&str, Request<Body>, u16, &str)> = vec![
        (
            "truncated JSON",
            raw(Some("application/json"), b"{\"code\":".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "not JSON",
            raw(Some("application/json"), b"code=A".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "invalid UTF-8",
            raw(
                Some("application/json"),
                b"{\"code\":\"A\",\"name\":\"\xff\xfe\"}".to_vec(),
            ),
            400,
            "malformed_json",
        ),
        (
            "empty body",
            raw(Some("application/json"), Vec::new()),
            400,
            "malformed_json",
        ),
        (
            "trailing garbage",
            raw(
                Some("application/json"),
                b"{\"code\":\"A\",\"name\":\"a\"} x".to_vec(),
            ),
            400,
            "malformed_json",
        ),
        (
            "no content type",
            raw(None, b"{\"code\":\"A\",\"name\":\"a\"}".to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            "form content type",
            raw(
                Some("application/x-www-form-urlencoded"),
                b"code=A".to_vec(),
            ),
            415,
            "unsupported_media_type",
        ),
        (
            "over 64 KiB",
            raw(Some("application/json"), big.into_bytes()),
            413,
            "payload_too_large",
        ),
    ];
    for (case, req, status, code) in cases {
        let res = app.send(req).await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
}

#[tokio::test]
async fn json_content_type_with_charset_is_accepted() {
    let app = TestApp::spawn().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/agencies")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(r#"{"code":"A","name":"Xã Ân Hảo"}"#))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

#[tokio::test]
async fn unknown_agency_is_404() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/v1/agencies/NOPE", &app.admin).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.error_code(), "agency_not_found");
}

/// A request's context reads the agency table once, however many figures its page shows;
/// the next request sees changes made in between.
#[tokio::test]
async fn a_context_reads_the_agencies_once_and_the_next_one_sees_changes() {
    let app = TestApp::spawn().await;
    app.province().await;
    let by = hailong::govern::Principal::cli();
    let cx = app.state.context(&by);
    let first = cx.agencies().await.unwrap();
    let before = first.all.len();
    app.agency("KH.MOI", Some("KH")).await;
    let again = cx.agencies().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again), "read twice");
    assert_eq!(again.all.len(), before);
    assert!(
        cx.in_scope(&hailong::org::code_of("KH.MOI").unwrap())
            .await
            .is_err()
    );
    let next = app.state.context(&by);
    assert_eq!(next.agencies().await.unwrap().all.len(), before + 1);
    assert_eq!(
        next.in_scope(&hailong::org::code_of("KH.MOI").unwrap())
            .await
            .unwrap()
            .0
            .code,
        "KH.MOI"
    );
}
