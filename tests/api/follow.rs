//! Closing the loop (API.md, "Closing the loop"): a low rating opens a case, the citizen
//! follows it at `/f/{code}`, the agency answers, the citizen rates the answer, and the
//! figures say so; the calendar, dossier counts and webhooks; every refused request leaves
//! every table as it was.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode, header};
use hailong::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse, xlsx_text};

async fn app() -> TestApp {
    let app = TestApp::spawn_with(|c| c.rate_limit = None).await;
    app.province().await;
    app
}

/// A desk link of A.
async fn token(app: &TestApp) -> String {
    let link = app.link(json!({"agency": "A", "desk": "MC1"})).await;
    link["token"].as_str().unwrap().to_string()
}

async fn post_form(app: &TestApp, path: &str, body: &str) -> TestResponse {
    app.send(
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn get_page(app: &TestApp, path: &str) -> TestResponse {
    app.call(Method::GET, path, None, None).await
}

/// Rates through the JSON API, asserting 201.
async fn rate(app: &TestApp, token: &str, body: Value) {
    let mut body = body;
    body["token"] = json!(token);
    let res = app.post("/api/v1/responses", &app.admin, body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn cases(app: &TestApp, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/cases{query}"), &app.admin).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()["cases"].as_array().unwrap().clone()
}

fn thanks_case(res: &TestResponse) -> String {
    let location = res.headers[header::LOCATION].to_str().unwrap().to_string();
    location
        .split("case=")
        .nth(1)
        .unwrap_or_else(|| panic!("no case in {location}"))
        .to_string()
}

#[tokio::test]
async fn the_whole_loop_from_a_low_rating_to_the_figures() {
    let app = app().await;
    let token = token(&app).await;

    // A low rating through the form opens a case; the thanks page says where to follow it.
    let res = post_form(
        &app,
        &format!("/r/{token}"),
        "lang=vi&overall=1&comment=Ch%E1%BB%9D+qu%C3%A1+l%C3%A2u",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let code = thanks_case(&res);
    assert!(code.len() >= 22, "at least 128 bits: {code}");
    let location = res.headers[header::LOCATION].to_str().unwrap().to_string();
    let thanks = get_page(&app, &location).await;
    assert_eq!(thanks.status, StatusCode::OK);
    assert!(
        thanks.text.contains(&format!("/f/{code}")),
        "{}",
        thanks.text
    );
    assert!(thanks.text.contains("chậm nhất ngày"));
    assert!(
        thanks.text.contains("readonly"),
        "the address to copy as text"
    );

    let page = get_page(&app, &format!("/f/{code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Đang xử lý"));
    assert!(page.text.contains("Chờ quá lâu"));
    assert!(
        !page.text.contains("reply_rating"),
        "nothing to rate before a reply"
    );
    let en = get_page(&app, &format!("/f/{code}?lang=en")).await;
    assert!(en.text.contains("Being handled"));

    // Rating the reply before there is one: 409, nothing changed.
    let before = app.fingerprint().await;
    let res = post_form(&app, &format!("/f/{code}"), "reply_rating=satisfied").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.fingerprint().await, before);

    // The agency's inbox.
    let list = cases(&app, "?agency=A").await;
    assert_eq!(list.len(), 1);
    let case = &list[0];
    assert_eq!(case["status"], "open");
    assert_eq!(case["code"], code.as_str());
    assert_eq!(case["agency"], "A");
    assert_eq!(case["desk"], "MC1");
    let id = case["id"].as_i64().unwrap();
    assert!(cases(&app, "?agency=B").await.is_empty());
    assert!(cases(&app, "?agency=A&status=answered").await.is_empty());

    // Who may not reply, and replies that are refused: nothing changes.
    let reply = format!("/api/v1/cases/{id}/reply");
    let viewer = app.key(Role::Viewer, Some("A")).await;
    let integrator = app.key(Role::Integrator, Some("A")).await;
    let other = app.key(Role::Manager, Some("B")).await;
    let manager = app.key(Role::Manager, Some("A")).await;
    let before = app.fingerprint().await;
    for (who, key, status, code) in [
        ("a viewer", &viewer, 403, "forbidden"),
        ("an integrator", &integrator, 403, "forbidden"),
        ("another agency's manager", &other, 403, "forbidden"),
    ] {
        let res = app.post(&reply, key, json!({"text": "Xin lỗi"})).await;
        app.assert_rejected(who, &res, status, code, &before).await;
    }
    for (what, text, code) in [
        ("empty", "".to_string(), "empty_reply"),
        ("invisible", "\u{200B}\u{00A0} ".to_string(), "empty_reply"),
        ("too long", "ạ".repeat(2001), "text_too_long"),
    ] {
        let res = app.post(&reply, &manager, json!({"text": text})).await;
        app.assert_rejected(what, &res, 422, code, &before).await;
    }
    let res = app
        .post(
            &reply,
            &manager,
            json!({"text": "Cơ quan xin lỗi và đã bổ sung cán bộ."}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["status"], "answered");
    assert!(res.json()["replied_by"].as_str().is_some());
    let before = app.fingerprint().await;
    let res = app.post(&reply, &manager, json!({"text": "Lần hai"})).await;
    app.assert_rejected("a second reply", &res, 409, "already_answered", &before)
        .await;
    for path in ["/api/v1/cases/999999/reply", "/api/v1/cases/abc/reply"] {
        let res = app.post(path, &manager, json!({"text": "Xin lỗi"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
        assert_eq!(app.fingerprint().await, before, "{path}");
    }
    let res = app
        .post_raw(&reply, &manager, "text/plain", "Xin lỗi")
        .await;
    app.assert_rejected("not JSON", &res, 415, "unsupported_media_type", &before)
        .await;

    // The citizen reads the reply and rates it, once.
    let page = get_page(&app, &format!("/f/{code}")).await;
    assert!(page.text.contains("đã bổ sung cán bộ"));
    assert!(
        page.text
            .contains("Ông/Bà có hài lòng với cách giải quyết không?")
    );
    let res = post_form(&app, &format!("/f/{code}"), "reply_rating=satisfied").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let res = post_form(&app, &format!("/f/{code}"), "reply_rating=dissatisfied").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(cases(&app, "?agency=A").await[0]["status"], "closed");
    assert_eq!(
        cases(&app, "?agency=A").await[0]["reply_rating"],
        "satisfied"
    );

    // The figures.
    let report = app
        .get("/api/v1/reports/agencies/A", &app.admin)
        .await
        .json();
    assert_eq!(
        report["follow_up"],
        json!({"cases": 1, "answered": 1, "answered_on_time": 1, "on_time_pct": 100.0,
               "overdue_open": 0, "reply_rated": 1, "reply_dissatisfied": 0,
               "handling_satisfaction_pct": 100.0})
    );
    let kh = app
        .get("/api/v1/reports/agencies/KH", &app.admin)
        .await
        .json();
    assert_eq!(
        kh["follow_up"]["cases"], 1,
        "the province counts its units' cases"
    );
    let b = app
        .get("/api/v1/reports/agencies/B", &app.admin)
        .await
        .json();
    assert!(b["follow_up"].is_null());
    // In the CSV and XLSX report too.
    let csv = app
        .get("/api/v1/reports/agencies/A?format=csv", &app.admin)
        .await
        .csv_records();
    assert_eq!(csv[0]["cases"], "1");
    assert_eq!(csv[0]["on_time_pct"], "100");
    assert_eq!(csv[0]["handling_satisfaction_pct"], "100");
    assert_eq!(csv[0]["dossiers"], "", "no dossiers: an empty cell");
    let xlsx = app
        .get("/api/v1/reports/agencies/A?format=xlsx", &app.admin)
        .await;
    let sheet = xlsx_text(&xlsx.bytes);
    assert!(sheet.contains("Tỷ lệ trả lời đúng hạn (%)"), "{sheet}");
    // And in the annual ranking's rows.
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let year = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&tz));
    let ranking = app
        .get(
            &format!("/api/v1/reports/annual/{year}?parent=KH"),
            &app.admin,
        )
        .await
        .json();
    let rows = ranking["rows"].as_array().unwrap();
    let row = |code: &str| rows.iter().find(|r| r["agency"] == code).unwrap().clone();
    assert_eq!(row("A")["follow_up"]["on_time_pct"], 100.0);
    assert!(row("B")["follow_up"].is_null());
    let csv = app
        .get(
            &format!("/api/v1/reports/annual/{year}?parent=KH&format=csv"),
            &app.admin,
        )
        .await
        .csv_records();
    let a = csv.iter().find(|r| r["agency"] == "A").unwrap();
    assert_eq!(
        (a["cases"].as_str(), a["on_time_pct"].as_str()),
        ("1", "100")
    );
    let b = csv.iter().find(|r| r["agency"] == "B").unwrap();
    assert_eq!(b["cases"], "");

    // Unknown codes get a friendly page.
    let res = get_page(&app, "/f/AAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.text.contains("Không tìm thấy phản ánh"));
}

#[tokio::test]
async fn which_ratings_open_a_case() {
    let app = app().await;
    let token = token(&app).await;
    rate(&app, &token, json!({"answers": {"overall": 5}})).await;
    rate(
        &app,
        &token,
        json!({"answers": {"overall": 3}, "comment": "Tạm được"}),
    )
    .await;
    assert!(cases(&app, "").await.is_empty());
    rate(&app, &token, json!({"answers": {"overall": 2}})).await;
    rate(
        &app,
        &token,
        json!({"answers": {"overall": 5}, "comment": "Xin hướng dẫn thêm", "want_reply": true}),
    )
    .await;
    let list = cases(&app, "").await;
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .any(|c| c["overall"] == 5 && c["comment"] == "Xin hướng dẫn thêm")
    );

    // "Please answer me" without a comment: 422 on JSON, nothing stored.
    let before = app.fingerprint().await;
    let res = app
        .post(
            "/api/v1/responses",
            &app.admin,
            json!({"token": token, "answers": {"overall": 5}, "want_reply": true}),
        )
        .await;
    app.assert_rejected(
        "want_reply without a comment",
        &res,
        422,
        "comment_required",
        &before,
    )
    .await;
    // The form simply ignores the tick.
    let res = post_form(
        &app,
        &format!("/r/{token}"),
        "overall=5&want_reply=1&comment=",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        !res.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("case=")
    );
    assert_eq!(cases(&app, "").await.len(), 2);

    // Excluding a rating closes its case, which leaves the figures.
    let low = list.iter().find(|c| c["overall"] == 2).unwrap();
    let res = app
        .post(
            &format!("/api/v1/responses/{}/exclude", low["response"]),
            &app.admin,
            json!({"reason": "Phiếu thử nghiệm"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let list = cases(&app, "").await;
    let closed = list.iter().find(|c| c["overall"] == 2).unwrap();
    assert_eq!(closed["status"], "closed");
    let report = app
        .get("/api/v1/reports/agencies/A", &app.admin)
        .await
        .json();
    assert_eq!(report["follow_up"]["cases"], 1);
}

#[tokio::test]
async fn the_calendar_defaults_to_the_holidays_and_takes_a_year() {
    let app = app().await;
    let res = app.get("/api/v1/calendar/2026", &app.admin).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let body = res.json();
    let off: Vec<&str> = body["days_off"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for day in [
        "2026-01-01",
        "2026-02-17",
        "2026-04-27",
        "2026-04-30",
        "2026-09-02",
    ] {
        assert!(off.contains(&day), "{day} in {off:?}");
    }
    let put = |body: Value| {
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/api/v1/calendar/2026",
                Some(&app.admin),
                Some(body),
            )
            .await
        }
    };
    let before = app.fingerprint().await;
    let res = put(json!({"days_off": ["2025-12-31"], "working_days": []})).await;
    app.assert_rejected("a date of another year", &res, 422, "outside_year", &before)
        .await;
    assert_eq!(res.json()["error"]["field"], "days_off[0]");
    let res = put(json!({"days_off": ["30/04/2026"], "working_days": []})).await;
    app.assert_rejected("not a date", &res, 422, "invalid_date", &before)
        .await;
    let res = app
        .call(
            Method::PUT,
            "/api/v1/calendar/20260",
            Some(&app.admin),
            Some(json!({"days_off": [], "working_days": []})),
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.text);
    assert_eq!(app.fingerprint().await, before);
    let res = put(json!({"days_off": ["2026-05-02"], "working_days": ["2026-05-02"]})).await;
    app.assert_rejected(
        "a day off and worked",
        &res,
        422,
        "conflicting_day",
        &before,
    )
    .await;
    let viewer = app.key(Role::Viewer, Some("A")).await;
    let before = app.fingerprint().await;
    let res = app
        .call(
            Method::PUT,
            "/api/v1/calendar/2026",
            Some(&viewer),
            Some(json!({"days_off": []})),
        )
        .await;
    app.assert_rejected("a viewer", &res, 403, "forbidden", &before)
        .await;
    let res =
        put(json!({"days_off": ["2026-01-01", "2026-01-02"], "working_days": ["2026-01-10"]}))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let got = app.get("/api/v1/calendar/2026", &app.admin).await.json();
    assert_eq!(
        got,
        json!({"year": 2026, "days_off": ["2026-01-01", "2026-01-02"], "working_days": ["2026-01-10"]})
    );
}

#[tokio::test]
async fn dossier_counts_and_the_decision_766_ratio() {
    let app = app().await;
    let token = token(&app).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive();
    let put = |agency: &str, date: String, body: Value| {
        let app = &app;
        let path = format!("/api/v1/dossiers/{agency}/{date}");
        async move {
            app.call(Method::PUT, &path, Some(&app.admin), Some(body))
                .await
        }
    };
    let res = put(
        "A",
        today.to_string(),
        json!({"received": 12, "resolved": 10}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // The same day again replaces it.
    let res = put(
        "A",
        today.to_string(),
        json!({"received": 12, "resolved": 20}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let tomorrow = today.succ_opt().unwrap().to_string();
    let before = app.fingerprint().await;
    for (what, agency, date, body, code) in [
        (
            "negative",
            "A",
            today.to_string(),
            json!({"received": -1, "resolved": 0}),
            "invalid_count",
        ),
        (
            "not whole",
            "A",
            today.to_string(),
            json!({"received": 1.5, "resolved": 0}),
            "invalid_count",
        ),
        (
            "a string",
            "A",
            today.to_string(),
            json!({"received": "3", "resolved": 0}),
            "invalid_count",
        ),
        (
            "the future",
            "A",
            tomorrow.clone(),
            json!({"received": 1, "resolved": 1}),
            "future_date",
        ),
        (
            "unknown agency",
            "NOPE",
            today.to_string(),
            json!({"received": 1, "resolved": 1}),
            "unknown_agency",
        ),
    ] {
        let res = put(agency, date, body).await;
        app.assert_rejected(what, &res, 422, code, &before).await;
    }
    let csv = format!("agency,date,received,resolved\nB,{today},5,5\nA,{tomorrow},1,1\n");
    let res = app
        .post_raw("/api/v1/dossiers", &app.admin, "text/csv", csv)
        .await;
    app.assert_rejected("a CSV with one bad row", &res, 422, "future_date", &before)
        .await;
    assert_eq!(res.json()["error"]["row"], 2);
    let res = app
        .post("/api/v1/dossiers", &app.admin, json!({"agency": "A"}))
        .await;
    app.assert_rejected(
        "JSON where CSV is due",
        &res,
        415,
        "unsupported_media_type",
        &before,
    )
    .await;
    let res = app
        .post_raw(
            "/api/v1/dossiers",
            &app.admin,
            "text/csv",
            "agency,day,count\nA,x,1\n",
        )
        .await;
    assert_eq!(res.status.as_u16(), 422, "{}", res.text);
    assert_eq!(app.fingerprint().await, before, "a CSV with other columns");
    let csv = format!("agency,date,received,resolved\nB,{today},5,5\n");
    let res = app
        .post_raw("/api/v1/dossiers", &app.admin, "text/csv", csv)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    // Four ratings at A: 5, 4, 2 (opens a case), 5 with "please answer me" (opens one),
    // over two links (a fourth rating of one client on one link in a day would be held).
    let second = self::token(&app).await;
    for (link, body) in [
        (&token, json!({"answers": {"overall": 5}})),
        (&token, json!({"answers": {"overall": 4}})),
        (&second, json!({"answers": {"overall": 2}})),
        (
            &second,
            json!({"answers": {"overall": 5}, "comment": "Cho hỏi", "want_reply": true}),
        ),
    ] {
        rate(&app, link, body).await;
    }
    let report = app
        .get("/api/v1/reports/agencies/A", &app.admin)
        .await
        .json();
    assert_eq!(report["dossiers"], 20);
    assert_eq!(report["response_rate"], 0.2);
    // (20 − the unsatisfied rating − the satisfied one that opened a case) ÷ 20.
    assert_eq!(report["dossier_satisfaction_pct"], 90.0);
    let kh = app
        .get("/api/v1/reports/agencies/KH", &app.admin)
        .await
        .json();
    assert_eq!(kh["dossiers"], 25);
    let csv = app
        .get("/api/v1/reports/agencies/A?format=csv", &app.admin)
        .await
        .csv_records();
    assert_eq!(csv[0]["dossiers"], "20");
    assert_eq!(csv[0]["response_rate"], "0.2");
    assert_eq!(csv[0]["dossier_satisfaction_pct"], "90");
    let none = app
        .get(
            "/api/v1/reports/agencies/A?from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json();
    assert!(none["dossiers"].is_null() && none["dossier_satisfaction_pct"].is_null());
}

/// A webhook receiver: answers 500 to its first `fail` requests, then 200; keeps what it
/// got.
async fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>) {
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push((headers, body));
                if seen.len() <= fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

/// Makes every pending delivery due now, as if its delay had passed.
async fn time_passes(app: &TestApp) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    entity::webhook_delivery::Entity::update_many()
        .col_expr(
            entity::webhook_delivery::Column::NextAttemptAt,
            Expr::value(hailong::now() - chrono::Duration::seconds(1)),
        )
        .filter(entity::webhook_delivery::Column::NextAttemptAt.is_not_null())
        .exec(&app.db.write)
        .await
        .unwrap();
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_survive_a_restart() {
    let app = app().await;
    let token = token(&app).await;
    let (url, got) = receiver(2).await;

    let before = app.fingerprint().await;
    for (what, body, code, field) in [
        (
            "ftp",
            json!({"url": "ftp://x/y", "events": ["case.opened"]}),
            "invalid_url",
            "url",
        ),
        (
            "no scheme",
            json!({"url": "hook", "events": ["case.opened"]}),
            "invalid_url",
            "url",
        ),
        (
            "an unknown event",
            json!({"url": url, "events": ["case.opened", "case.lost"]}),
            "invalid_event",
            "events[1]",
        ),
    ] {
        let res = app.post("/api/v1/webhooks", &app.admin, body).await;
        app.assert_rejected(what, &res, 422, code, &before).await;
        assert_eq!(res.json()["error"]["field"], field, "{what}");
    }
    let res = app
        .post(
            "/api/v1/webhooks",
            &app.admin,
            json!({"url": url, "events": ["case.opened", "case.answered"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let hook = res.json();
    let secret = hook["secret"].as_str().unwrap().to_string();
    let id = hook["id"].as_i64().unwrap();
    let listed = app.get("/api/v1/webhooks", &app.admin).await.json();
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is shown once"
    );

    // A low rating: one case.opened. A happy one: nothing.
    rate(&app, &token, json!({"answers": {"overall": 1}})).await;
    rate(&app, &token, json!({"answers": {"overall": 5}})).await;

    // "Restart": a new connection and a new sender; the delivery is in the database.
    let db = hailong::db::Db::connect(&app.test_db.url).await.unwrap();
    let client = hailong::follow::webhooks::client().unwrap();
    for _ in 0..2 {
        let delivered = hailong::follow::webhooks::deliver_due(&db, &client)
            .await
            .unwrap();
        assert_eq!(delivered, 0, "the receiver fails the first two attempts");
        time_passes(&app).await;
    }
    let delivered = hailong::follow::webhooks::deliver_due(&db, &client)
        .await
        .unwrap();
    assert_eq!(delivered, 1);
    time_passes(&app).await;
    assert_eq!(
        hailong::follow::webhooks::deliver_due(&db, &client)
            .await
            .unwrap(),
        0,
        "a delivered event is not sent again"
    );
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 3);
        let ids: Vec<&str> = got
            .iter()
            .map(|(h, _)| h["x-hailong-delivery"].to_str().unwrap())
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "one delivery, retried"
        );
        let (headers, body) = &got[2];
        assert_eq!(headers["x-hailong-event"], "case.opened");
        assert_eq!(
            headers["x-hailong-signature"].to_str().unwrap(),
            hailong::follow::webhooks::signature(&secret, body)
        );
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["event"], "case.opened");
        assert_eq!(event["data"]["agency"], "A");
    }
    let log = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &app.admin)
        .await
        .json();
    assert_eq!(log[0]["attempts"], 3);
    assert!(log[0]["delivered_at"].is_string());
    assert_eq!(log[0]["last_status"], 200);

    // An answer sends case.answered; an overdue case is not subscribed to: nothing more.
    let case = cases(&app, "").await[0].clone();
    let res = app
        .post(
            &format!("/api/v1/cases/{}/reply", case["id"]),
            &app.admin,
            json!({"text": "Đã xử lý"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        hailong::follow::webhooks::deliver_due(&db, &client)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        got.lock().unwrap().last().unwrap().0["x-hailong-event"],
        "case.answered"
    );

    // case.overdue goes once per case to a webhook that asks for it.
    let res = app
        .post(
            "/api/v1/webhooks",
            &app.admin,
            json!({"url": url, "events": ["case.overdue"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    rate(&app, &token, json!({"answers": {"overall": 2}})).await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::case::Entity::update_many()
            .col_expr(
                entity::case::Column::Due,
                Expr::value(chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
            )
            .filter(entity::case::Column::Reply.is_null())
            .exec(&app.db.write)
            .await
            .unwrap();
    }
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    assert_eq!(
        hailong::follow::cases::send_overdue(&db, tz).await.unwrap(),
        1
    );
    assert_eq!(
        hailong::follow::cases::send_overdue(&db, tz).await.unwrap(),
        0
    );
    assert_eq!(cases(&app, "?status=overdue").await.len(), 1);
    let delivered = hailong::follow::webhooks::deliver_due(&db, &client)
        .await
        .unwrap();
    assert_eq!(
        delivered, 2,
        "case.opened to the first webhook, case.overdue to the second"
    );
    let events: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["x-hailong-event"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(events.iter().filter(|e| *e == "case.overdue").count(), 1);

    // Deleting a webhook stops it.
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &app.admin)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let before = app.fingerprint().await;
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    app.assert_rejected("deleting it again", &res, 404, "webhook_not_found", &before)
        .await;
    db.close().await;
}

#[tokio::test]
async fn a_manager_answers_from_the_inbox_page() {
    use crate::pages::{request, setup, sign_in};
    let app = setup(None).await;
    let token = token(&app).await;
    rate(
        &app,
        &token,
        json!({"answers": {"overall": 1}, "comment": "Thái độ <b>kém</b>"}),
    )
    .await;
    let (cookie, csrf) = sign_in(&app, "minh").await;
    let dashboard = request(&app, Method::GET, "/dashboard?agency=A", &cookie, None).await;
    assert!(dashboard.text.contains("Phản ánh cần trả lời"));
    assert!(dashboard.text.contains("/cases?agency=A"));
    let page = request(&app, Method::GET, "/cases?agency=A", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("Thái độ &#60;b&#62;kém&#60;/b&#62;"),
        "escaped"
    );
    assert!(page.text.contains("Chờ trả lời"));
    let id = cases(&app, "?agency=A").await[0]["id"].as_i64().unwrap();
    // Another agency's inbox is not the manager's.
    let res = request(&app, Method::GET, "/cases?agency=B", &cookie, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Without the token nothing happens; with it, the answer is stored.
    let path = format!("/cases/{id}/reply");
    let before = app.fingerprint().await;
    let res = request(
        &app,
        Method::POST,
        &path,
        &cookie,
        Some("agency=A&text=Xin+l%E1%BB%97i".into()),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
    let body = format!("csrf={csrf}&agency=A&text=Xin+l%E1%BB%97i+%C3%94ng%2FB%C3%A0");
    let res = request(&app, Method::POST, &path, &cookie, Some(body)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.headers[header::LOCATION], "/cases?agency=A");
    assert_eq!(cases(&app, "?agency=A").await[0]["status"], "answered");
    let page = request(&app, Method::GET, "/cases?agency=A", &cookie, None).await;
    assert!(page.text.contains("Xin lỗi Ông/Bà"));
}

/// The delivery row of the only webhook event, read from the database.
async fn the_delivery(app: &TestApp) -> entity::webhook_delivery::Model {
    use sea_orm::EntityTrait;
    let all = entity::webhook_delivery::Entity::find()
        .all(&app.db.read)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
}

/// Waits up to `secs` seconds for the receiver to have `n` requests.
async fn received(got: &Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>, n: usize, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while got.lock().unwrap().len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver got {} requests, not {n}",
            got.lock().unwrap().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A real `hailong serve` is killed (SIGKILL) while an event waits for its retry; the next
/// process delivers it: the queue is the database, not the process.
#[tokio::test]
async fn a_killed_server_loses_no_webhook_event() {
    let app = app().await;
    let token = token(&app).await;
    let (url, got) = receiver(1).await;
    let res = app
        .post(
            "/api/v1/webhooks",
            &app.admin,
            json!({"url": url, "events": ["case.opened"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);

    let (mut first, addr) = crate::helpers::spawn_server(&app.test_db, &[]).await;
    let body = json!({"token": token, "answers": {"overall": 1}}).to_string();
    let reply = crate::helpers::http(
        &addr,
        &format!(
            "POST /api/v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            app.admin,
            body.len()
        ),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    // The server's own sender tries within seconds; the receiver fails that attempt.
    received(&got, 1, 20).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while the_delivery(&app).await.attempts < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failure is recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pending = the_delivery(&app).await;
    assert!(pending.delivered_at.is_none() && pending.next_attempt_at.is_some());
    first.kill().unwrap();
    first.wait().unwrap();

    // The retry is due (as if its delay had passed) and nobody is running: nothing is sent.
    time_passes(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), 1);

    let (mut second, _) = crate::helpers::spawn_server(&app.test_db, &[]).await;
    received(&got, 2, 20).await;
    // Wait for the second server to record the delivery, then stop it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let done = loop {
        let d = the_delivery(&app).await;
        if d.delivered_at.is_some() || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(done.delivered_at.is_some(), "{done:?}");
    assert_eq!(done.attempts, 2, "{done:?}");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 2, "delivered once, then never again");
    assert_eq!(
        got[0].0["x-hailong-delivery"], got[1].0["x-hailong-delivery"],
        "the same delivery, retried"
    );
    assert_eq!(got[1].0["x-hailong-event"], "case.opened");
}

/// Moves a case's due day into the past, as if days had gone by.
async fn make_overdue(app: &TestApp, id: i64) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    entity::case::Entity::update_many()
        .col_expr(
            entity::case::Column::Due,
            Expr::value(today - chrono::Duration::days(3)),
        )
        .filter(entity::case::Column::Id.eq(id))
        .exec(&app.db.write)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_inbox_is_counted_and_paged_by_status() {
    use crate::pages::{PASSWORD, request, sign_in};
    let app = app().await;
    hailong::govern::users::add(
        &app.db,
        &hailong::govern::Principal::cli(),
        "minh",
        PASSWORD,
        Role::Manager,
        Some("A"),
    )
    .await
    .unwrap();
    let token = token(&app).await;
    for _ in 0..7 {
        rate(&app, &token, json!({"answers": {"overall": 1}})).await;
    }
    let ids: Vec<i64> = cases(&app, "?agency=A")
        .await
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    // Two overdue, two open, two answered, one closed (its reply rated by the citizen).
    make_overdue(&app, ids[0]).await;
    make_overdue(&app, ids[1]).await;
    for &id in &ids[4..] {
        let res = app
            .post(
                &format!("/api/v1/cases/{id}/reply"),
                &app.admin,
                json!({"text": "Đã xử lý"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let last = cases(&app, "?agency=A")
        .await
        .into_iter()
        .find(|c| c["id"] == ids[6])
        .unwrap();
    let res = post_form(
        &app,
        &format!("/f/{}", last["code"].as_str().unwrap()),
        "reply_rating=satisfied",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);

    let all = app.get("/api/v1/cases?agency=A", &app.admin).await.json();
    assert_eq!(all["total"], 7);
    assert_eq!(
        all["counts"],
        json!({"overdue": 2, "open": 2, "answered": 2, "closed": 1})
    );
    let statuses: Vec<&str> = all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "overdue", "overdue", "open", "open", "answered", "answered", "closed"
        ]
    );
    // The database's status filter and the rule that names each case's status agree.
    for (status, n) in [("overdue", 2), ("open", 2), ("answered", 2), ("closed", 1)] {
        let listed = app
            .get(
                &format!("/api/v1/cases?agency=A&status={status}"),
                &app.admin,
            )
            .await
            .json();
        assert_eq!(listed["total"], n, "{status}");
        let cases = listed["cases"].as_array().unwrap();
        assert_eq!(cases.len(), n, "{status}");
        assert!(cases.iter().all(|c| c["status"] == status), "{status}");
    }
    // Pages of three, across the statuses, make the whole list in its order.
    let mut paged = Vec::new();
    for offset in [0, 3, 6, 9] {
        let page = app
            .get(
                &format!("/api/v1/cases?agency=A&limit=3&offset={offset}"),
                &app.admin,
            )
            .await
            .json();
        assert_eq!(page["total"], 7);
        paged.extend(page["cases"].as_array().unwrap().clone());
    }
    assert_eq!(&paged, all["cases"].as_array().unwrap());
    let page = app
        .get(
            "/api/v1/cases?agency=A&status=open&limit=1&offset=1",
            &app.admin,
        )
        .await
        .json();
    assert_eq!(page["cases"][0]["id"], all["cases"][3]["id"]);
    // The desk filter, in the database too.
    let desk = app
        .get("/api/v1/cases?agency=A&desk=MC1", &app.admin)
        .await
        .json();
    assert_eq!(desk["total"], 7);
    let none = app
        .get("/api/v1/cases?agency=A&desk=NOPE", &app.admin)
        .await
        .json();
    assert_eq!(
        (
            none["total"].as_u64(),
            none["cases"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    // Bad paging.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ] {
        let res = app
            .get(&format!("/api/v1/cases?agency=A&{query}"), &app.admin)
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(res.error_code(), "invalid_paging", "{query}");
        assert_eq!(res.json()["error"]["field"], field, "{query}");
    }

    // The follow-up figures the database counts agree with the rule counted by hand, case
    // by case (an answered one late, and one whose rating is excluded, included).
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::case::Entity::update_many()
            .col_expr(
                entity::case::Column::Due,
                Expr::value(chrono::NaiveDate::from_ymd_opt(2020, 1, 1)),
            )
            .filter(entity::case::Column::Id.eq(ids[4]))
            .exec(&app.db.write)
            .await
            .unwrap();
    }
    let response = all["cases"][1]["response"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/v1/responses/{response}/exclude"),
            &app.admin,
            json!({"reason": "Thử"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let now = hailong::now();
    let today = now.with_timezone(&tz).date_naive();
    let by_hand: hailong::follow::figures::CaseCounts = {
        use sea_orm::EntityTrait;
        entity::case::Entity::find()
            .all(&app.db.read)
            .await
            .unwrap()
            .iter()
            .map(|c| hailong::follow::figures::CaseCounts::of(c, today, now))
            .sum()
    };
    assert_eq!((by_hand.cases, by_hand.overdue_open), (6, 1));
    let expected = serde_json::to_value(hailong::follow::figures::follow_up(by_hand)).unwrap();
    let report = app
        .get("/api/v1/reports/agencies/A", &app.admin)
        .await
        .json();
    assert_eq!(report["follow_up"], expected);
    let year = chrono::Datelike::year(&today);
    let ranking = app
        .get(
            &format!("/api/v1/reports/annual/{year}?parent=KH"),
            &app.admin,
        )
        .await
        .json();
    let row = ranking["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency"] == "A")
        .unwrap()
        .clone();
    assert_eq!(row["follow_up"], expected);

    // The page: 50 cases a page, with links to the next and the previous.
    for _ in 0..45 {
        rate(&app, &token, json!({"answers": {"overall": 2}})).await;
    }
    let (cookie, _) = sign_in(&app, "minh").await;
    let first = request(&app, Method::GET, "/cases?agency=A", &cookie, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(
        first.text.contains("Phản ánh 1–50 trong tổng số 52"),
        "{}",
        first.text
    );
    assert_eq!(first.text.matches("<section>").count(), 50);
    assert!(
        first.text.contains("href=\"/cases?agency=A&#38;page=2\""),
        "{}",
        first.text
    );
    assert!(!first.text.contains("rel=\"prev\""));
    let second = request(&app, Method::GET, "/cases?agency=A&page=2", &cookie, None).await;
    assert!(second.text.contains("Phản ánh 51–52 trong tổng số 52"));
    assert_eq!(second.text.matches("<section>").count(), 2);
    assert!(second.text.contains("rel=\"prev\"") && !second.text.contains("rel=\"next\""));
    // The filters stay in the links; a page past the end says there is nothing.
    let answered = request(
        &app,
        Method::GET,
        "/cases?agency=A&status=answered&page=9",
        &cookie,
        None,
    )
    .await;
    assert_eq!(answered.status, StatusCode::OK);
    assert!(answered.text.contains("Không có phản ánh nào"));
    assert!(
        answered.text.contains("status=answered&#38;page=8"),
        "{}",
        answered.text
    );
}
