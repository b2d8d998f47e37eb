use axum::http::StatusCode;
use hailong::domain::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn admin_adds_desks_to_an_agency() {
    let app = TestApp::spawn().await;
    app.agency("KH", None).await;
    app.agency("A", Some("KH")).await;
    let res = app
        .post(
            "/api/v1/agencies/A/desks",
            &app.admin,
            json!({"code": "MC1", "name": "Quầy một cửa số 1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"code": "MC1", "name": "Quầy một cửa số 1", "agency": "A"})
    );
    // The same desk code in another agency is another desk.
    let res = app
        .post(
            "/api/v1/agencies/KH/desks",
            &app.admin,
            json!({"code": "MC1", "name": "Quầy tỉnh"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);

    let list = app.get("/api/v1/agencies/A/desks", &app.admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!([{"code": "MC1", "name": "Quầy một cửa số 1", "agency": "A"}])
    );

    let viewer = app.key(Role::Viewer, Some("A")).await;
    assert_eq!(
        app.get("/api/v1/agencies/A/desks", &viewer)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let audited: Vec<String> = <entity::audit_log::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action.starts_with("agency.") || r.action.starts_with("desk."))
        .map(|r| format!("{} {}", r.action, r.target))
        .collect();
    assert_eq!(
        audited,
        [
            "agency.create agency:KH",
            "agency.create agency:A",
            "desk.create desk:A/MC1",
            "desk.create desk:KH/MC1"
        ]
    );
}

#[tokio::test]
async fn bad_desks_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.agency("A", None).await;
    let res = app
        .post(
            "/api/v1/agencies/A/desks",
            &app.admin,
            json!({"code": "MC1", "name": "Quầy 1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "duplicate in agency",
            "A",
            json!({"code": "MC1", "name": "again"}),
            409,
            "desk_exists",
        ),
        (
            "unknown agency",
            "NOPE",
            json!({"code": "MC2", "name": "x"}),
            404,
            "agency_not_found",
        ),
        (
            "bad code",
            "A",
            json!({"code": "MC 2", "name": "x"}),
            422,
            "invalid_code",
        ),
        (
            "empty name",
            "A",
            json!({"code": "MC2", "name": ""}),
            422,
            "invalid_name",
        ),
        (
            "missing name",
            "A",
            json!({"code": "MC2"}),
            422,
            "invalid_body",
        ),
        (
            "wrong type",
            "A",
            json!({"code": ["MC2"], "name": "x"}),
            422,
            "invalid_body",
        ),
    ];
    let before = app.fingerprint().await;
    for (case, agency, body, status, code) in cases {
        let res = app
            .post(
                &format!("/api/v1/agencies/{agency}/desks"),
                &app.admin,
                body,
            )
            .await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
}
