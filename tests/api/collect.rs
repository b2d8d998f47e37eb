use axum::http::{Method, StatusCode};
use hailong::domain::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn setup(app: &TestApp) {
    app.province().await;
}

async fn link(app: &TestApp, body: Value) -> Value {
    app.link(body).await
}

async fn rate(app: &TestApp, body: Value) -> crate::helpers::TestResponse {
    app.call(Method::POST, "/api/v1/responses", None, Some(body))
        .await
}

#[tokio::test]
async fn a_desk_link_takes_many_ratings() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let l = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let token = l["token"].as_str().unwrap();
    assert!(token.len() >= 22, "128 bits in base64 is 22 characters");
    assert_eq!(l["url"], format!("http://hailong.test/r/{token}"));
    assert_eq!(l["qr_png"], format!("http://hailong.test/r/{token}/qr.png"));
    assert_eq!(l["qr_svg"], format!("http://hailong.test/r/{token}/qr.svg"));
    assert_eq!(l["single_use"], false);
    assert_eq!(l["expires_at"], Value::Null);

    for score in [5, 4, 1] {
        let res = rate(&app, json!({"token": token, "answers": {"overall": score, "staff": 5}, "comment": "Cán bộ tận tình"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert!(res.json()["id"].as_i64().unwrap() > 0);
        assert!(res.json()["submitted_at"].as_str().unwrap().contains('T'));
    }
    assert_eq!(app.count("responses").await, 3);
    assert_eq!(app.count("answers").await, 6);
    // Roll-ups: overall 5, 4, 1 and staff 5 (three times) on one day and month.
    assert_eq!(app.count("rollup_daily").await, 4);
    assert_eq!(app.count("rollup_monthly").await, 4);
    assert_eq!(app.count("rollup_yearly").await, 4);
}

#[tokio::test]
async fn a_single_use_link_takes_one_rating_and_is_idempotent_by_reference() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let first = link(
        &app,
        json!({"agency": "A", "single_use": true, "reference": "000.00.H29-251231-0001"}),
    )
    .await;
    let again = app
        .post(
            "/api/v1/links",
            &app.admin,
            json!({"agency": "A", "single_use": true, "reference": "000.00.H29-251231-0001"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json()["token"], first["token"]);
    assert_eq!(app.count("rating_links").await, 1);

    let token = first["token"].as_str().unwrap();
    let ok = rate(&app, json!({"token": token, "answers": {"overall": 4}})).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let before = app.fingerprint().await;
    let used = rate(&app, json!({"token": token, "answers": {"overall": 5}})).await;
    app.assert_rejected("used", &used, 409, "link_used", &before)
        .await;
}

#[tokio::test]
async fn two_racing_submissions_on_a_single_use_link_store_one() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    for round in 0..5 {
        let l = link(&app, json!({"agency": "A", "single_use": true})).await;
        let token = l["token"].as_str().unwrap().to_string();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let router = app.router.clone();
            let body = json!({"token": token, "answers": {"overall": 5}}).to_string();
            tasks.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let req = axum::http::Request::post("/api/v1/responses")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body))
                    .unwrap();
                router.oneshot(req).await.unwrap().status()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "{statuses:?}"
        );
    }
    assert_eq!(app.count("responses").await, 5);
}

#[tokio::test]
async fn bad_ratings_are_rejected_and_store_nothing() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let t = link(&app, json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let kiosk = link(&app, json!({"agency": "A", "questionnaire": "kiosk-3"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let expiring = link(&app, json!({"agency": "A", "expires_at": (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339()})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = expiring["token"].as_str().unwrap().to_string();
    let long = "ệ".repeat(1001);
    let cases: Vec<(&str, Value, u16, &str, Option<&str>)> = vec![
        (
            "score 0",
            json!({"token": t, "answers": {"overall": 0}}),
            422,
            "invalid_answer",
            Some("answers.overall"),
        ),
        (
            "score 6",
            json!({"token": t, "answers": {"overall": 6}}),
            422,
            "invalid_answer",
            Some("answers.overall"),
        ),
        (
            "score 4.5",
            json!({"token": t, "answers": {"overall": 4.5}}),
            422,
            "invalid_answer",
            Some("answers.overall"),
        ),
        (
            "score five",
            json!({"token": t, "answers": {"overall": "five"}}),
            422,
            "invalid_answer",
            Some("answers.overall"),
        ),
        (
            "element out of range",
            json!({"token": t, "answers": {"overall": 4, "staff": 9}}),
            422,
            "invalid_answer",
            Some("answers.staff"),
        ),
        (
            "unknown key",
            json!({"token": t, "answers": {"overall": 4, "speed": 4}}),
            422,
            "unknown_question",
            Some("answers.speed"),
        ),
        (
            "missing overall",
            json!({"token": t, "answers": {"staff": 4}}),
            422,
            "missing_answer",
            Some("answers.overall"),
        ),
        (
            "empty answers",
            json!({"token": t, "answers": {}}),
            422,
            "missing_answer",
            Some("answers.overall"),
        ),
        (
            "kiosk 3",
            json!({"token": kiosk, "answers": {"overall": 3}}),
            422,
            "invalid_answer",
            Some("answers.overall"),
        ),
        (
            "long comment",
            json!({"token": t, "answers": {"overall": 4}, "comment": long}),
            422,
            "comment_too_long",
            Some("comment"),
        ),
        (
            "answers a list",
            json!({"token": t, "answers": [5]}),
            422,
            "invalid_body",
            Some("answers"),
        ),
        (
            "comment a number",
            json!({"token": t, "answers": {"overall": 4}, "comment": 5}),
            422,
            "invalid_body",
            Some("comment"),
        ),
        (
            "no token",
            json!({"answers": {"overall": 4}}),
            422,
            "invalid_body",
            Some("token"),
        ),
        (
            "unknown token",
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAA", "answers": {"overall": 4}}),
            404,
            "link_not_found",
            None,
        ),
        (
            "odd token",
            json!({"token": "../../etc", "answers": {"overall": 4}}),
            404,
            "link_not_found",
            None,
        ),
        (
            "expired",
            json!({"token": expired, "answers": {"overall": 4}}),
            410,
            "link_expired",
            None,
        ),
    ];
    let before = app.fingerprint().await;
    for (case, body, status, code, field) in cases {
        let res = rate(&app, body).await;
        app.assert_rejected(case, &res, status, code, &before).await;
        if let Some(field) = field {
            assert_eq!(res.json()["error"]["field"], field, "{case}");
        }
    }
}

#[tokio::test]
async fn bad_links_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let viewer = app.key(Role::Viewer, Some("A")).await;
    let integrator_b = app.key(Role::Integrator, Some("B")).await;
    let past = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339();
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "unknown agency",
            &app.admin,
            json!({"agency": "NOPE"}),
            404,
            "agency_not_found",
        ),
        (
            "unknown desk",
            &app.admin,
            json!({"agency": "A", "desk": "MC9"}),
            404,
            "desk_not_found",
        ),
        (
            "desk of another agency",
            &app.admin,
            json!({"agency": "B", "desk": "MC1"}),
            404,
            "desk_not_found",
        ),
        (
            "expiry in the past",
            &app.admin,
            json!({"agency": "A", "expires_at": past}),
            422,
            "expired",
        ),
        (
            "bad expiry",
            &app.admin,
            json!({"agency": "A", "expires_at": "tomorrow"}),
            422,
            "invalid_body",
        ),
        (
            "unknown questionnaire",
            &app.admin,
            json!({"agency": "A", "questionnaire": "nope"}),
            422,
            "unknown_questionnaire",
        ),
        (
            "reference without single use",
            &app.admin,
            json!({"agency": "A", "reference": "X1"}),
            422,
            "reference_needs_single_use",
        ),
        ("viewer", &viewer, json!({"agency": "A"}), 403, "forbidden"),
        (
            "integrator out of scope",
            &integrator_b,
            json!({"agency": "A"}),
            403,
            "forbidden",
        ),
        (
            "no agency",
            &app.admin,
            json!({"desk": "MC1"}),
            422,
            "invalid_body",
        ),
    ];
    let before = app.fingerprint().await;
    for (case, key, body, status, code) in cases {
        let res = app.post("/api/v1/links", key, body).await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
    // An integrator in scope may.
    let integrator_a = app.key(Role::Integrator, Some("A")).await;
    let res = app
        .post(
            "/api/v1/links",
            &integrator_a,
            json!({"agency": "A", "single_use": true, "reference": "D-1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

#[tokio::test]
async fn qr_codes_decode_to_the_link_url() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let l = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let token = l["token"].as_str().unwrap();
    let png = app
        .call(Method::GET, &format!("/r/{token}/qr.png"), None, None)
        .await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.headers["content-type"], "image/png");
    let svg = app
        .call(Method::GET, &format!("/r/{token}/qr.svg"), None, None)
        .await;
    assert_eq!(svg.status, StatusCode::OK);
    assert!(svg.text.contains("<svg"));
    let missing = app
        .call(Method::GET, "/r/AAAAAAAAAAAAAAAAAAAAAA/qr.png", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Decode with the real decoder.
    let bytes = app.png_bytes(&format!("/r/{token}/qr.png")).await;
    if let Some(decoded) = crate::helpers::decode_qr(&bytes) {
        assert_eq!(decoded, l["url"].as_str().unwrap());
    }
}

#[tokio::test]
async fn the_hash_chain_links_every_response() {
    let app = TestApp::spawn().await;
    setup(&app).await;
    let t = link(&app, json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    for score in 1..=5 {
        assert_eq!(
            rate(
                &app,
                json!({"token": t, "answers": {"overall": score}, "comment": "a|b"})
            )
            .await
            .status,
            StatusCode::CREATED
        );
    }
    use sea_orm::{EntityTrait, QueryOrder};
    let rows = entity::response::Entity::find()
        .order_by_asc(entity::response::Column::Id)
        .all(&app.db.read)
        .await
        .unwrap();
    let mut prev = hailong::collect::store::GENESIS.to_string();
    for r in rows {
        let answers: Vec<(String, i16)> = entity::answer::Entity::find()
            .all(&app.db.read)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.response_id == r.id)
            .map(|a| (a.question_key, a.value))
            .collect();
        let h = hailong::collect::store::chain_hash(
            &prev,
            &hailong::collect::store::canonical(&r, &answers),
        );
        assert_eq!(h, r.hash, "response {} read back from the database", r.id);
        prev = h;
    }
}
