//! Imports, exclusions and the response listing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use hailong::domain::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

const HEADER: &str =
    "agency,desk,submitted_at,channel,overall,access,procedure,staff,result,feedback,comment";

async fn send_raw(app: &TestApp, key: &str, content_type: &str, body: Vec<u8>) -> TestResponse {
    app.post_raw("/api/v1/responses/import", key, content_type, body)
        .await
}

async fn import_csv(app: &TestApp, key: &str, csv: &str) -> TestResponse {
    send_raw(app, key, "text/csv", csv.as_bytes().to_vec()).await
}

async fn import_json(app: &TestApp, key: &str, rows: Value) -> TestResponse {
    app.post(
        "/api/v1/responses/import",
        key,
        json!({ "responses": rows }),
    )
    .await
}

fn row(agency: &str, submitted_at: &str, overall: i64) -> Value {
    json!({"agency": agency, "submitted_at": submitted_at, "answers": {"overall": overall}})
}

/// (n, excluded) summed over the roll-up rows of the `overall` question.
async fn overall_rollup(app: &TestApp, table: &str) -> (i64, i64) {
    let row = app
        .db
        .read
        .query_one_raw(Statement::from_string(
            app.db.backend(),
            format!(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n, \
                 CAST(COALESCE(SUM(excluded), 0) AS BIGINT) AS x \
                 FROM {table} WHERE question_key = 'overall'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    (row.try_get("", "n").unwrap(), row.try_get("", "x").unwrap())
}

async fn list(app: &TestApp, key: &str, query: &str) -> TestResponse {
    app.get(&format!("/api/v1/responses{query}"), key).await
}

#[tokio::test]
async fn json_import_stores_every_row_and_lists_them_oldest_first() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = import_json(
        &app,
        &app.admin,
        json!([
            {"agency": "A", "desk": "MC1", "submitted_at": "2026-03-02T09:00:00+07:00",
             "answers": {"overall": 5, "staff": 4, "feedback": null}, "comment": "Nhanh, gọn"},
            {"agency": "B", "submitted_at": "2026-03-01", "channel": "kiosk",
             "questionnaire": "kiosk-3", "answers": {"overall": 1}},
            row("A", "2026-03-03T01:00:00Z", 4),
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json(), json!({"imported": 3}));
    assert_eq!(app.count("responses").await, 3);
    assert_eq!(overall_rollup(&app, "rollup_daily").await, (3, 0));
    assert_eq!(overall_rollup(&app, "rollup_monthly").await, (3, 0));
    assert_eq!(overall_rollup(&app, "rollup_yearly").await, (3, 0));

    let res = list(&app, &app.admin, "?agency=KH").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let listed = res.json()["responses"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    // Oldest first: B (1 March, local midnight), then A on 2 and 3 March.
    assert_eq!(listed[0]["agency"], "B");
    assert_eq!(listed[0]["questionnaire"], "kiosk-3");
    assert_eq!(listed[0]["channel"], "kiosk");
    assert_eq!(listed[0]["desk"], Value::Null);
    assert_eq!(listed[1]["agency"], "A");
    assert_eq!(listed[1]["desk"], "MC1");
    assert_eq!(
        listed[1]["channel"], "paper",
        "the import's default channel"
    );
    assert_eq!(listed[1]["answers"], json!({"overall": 5, "staff": 4}));
    assert_eq!(listed[1]["comment"], "Nhanh, gọn");
    assert_eq!(listed[1]["excluded"], false);
    assert_eq!(listed[1]["questionnaire"], "one-stop-5");
    assert_eq!(listed[2]["comment"], Value::Null);
    let submitted: Vec<&str> = listed
        .iter()
        .map(|r| r["submitted_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        submitted,
        [
            "2026-02-28T17:00:00Z",
            "2026-03-02T02:00:00Z",
            "2026-03-03T01:00:00Z"
        ]
    );

    // Periods are whole local days: 2 March in Hanoi is 1 March 17:00 to 2 March 17:00 UTC.
    let res = list(&app, &app.admin, "?agency=KH&from=2026-03-02&to=2026-03-02").await;
    let ids: Vec<Value> = res.json()["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agency"].clone())
        .collect();
    assert_eq!(ids, [json!("A")]);
    // A subtree: B alone.
    let res = list(&app, &app.admin, "?agency=B").await;
    assert_eq!(res.json()["responses"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn csv_import_matches_columns_by_name_and_round_trips_through_the_listing() {
    let app = TestApp::spawn().await;
    app.province().await;
    let csv = format!(
        "{HEADER},questionnaire\n\
         A,MC1,2026-04-01 08:15,,5,4,,3,,,\"Tốt, \"\"rất\"\" nhanh\",\n\
         B,,2026-04-02,web,2,,,,,,,\n\
         B,,2026-04-03,,5,,,,,,,kiosk-3\n"
    );
    let res = import_csv(&app, &app.admin, &csv).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["imported"], 3);

    let res = list(&app, &app.admin, "?agency=KH&format=csv").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut lines = res.text.lines();
    // A byte-order mark first, for spreadsheet programs.
    assert_eq!(
        lines.next().unwrap(),
        format!("\u{feff}{HEADER},id,excluded")
    );
    assert_eq!(
        lines.next().unwrap(),
        "A,MC1,2026-04-01T08:15:00+07:00,paper,5,4,,3,,,\"Tốt, \"\"rất\"\" nhanh\",1,false"
    );
    assert_eq!(
        lines.next().unwrap(),
        "B,,2026-04-02T00:00:00+07:00,web,2,,,,,,,2,false"
    );
    assert_eq!(lines.count(), 1);

    // The same rows as XLSX: a zip archive with the same header and values.
    let xlsx = list(&app, &app.admin, "?agency=KH&format=xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(
        xlsx.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let sheet = crate::helpers::xlsx_text(&xlsx.bytes);
    for text in [
        "submitted_at",
        "Tốt, \"rất\" nhanh",
        "2026-04-02T00:00:00+07:00",
        "MC1",
    ] {
        assert!(
            sheet.contains(&text.replace('"', "&quot;")) || sheet.contains(text),
            "{text}"
        );
    }

    // The listing's CSV imports as it is (its extra columns are ignored).
    let before = app.count("responses").await;
    let res = import_csv(&app, &app.admin, &res.text).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(app.count("responses").await, before + 3);
}

#[tokio::test]
async fn bad_imports_name_the_row_and_store_nothing() {
    let app = TestApp::spawn().await;
    app.province().await;
    let before = app.fingerprint().await;
    let future = (chrono::Utc::now() + chrono::TimeDelta::minutes(10)).to_rfc3339();
    let soon = (chrono::Utc::now() + chrono::TimeDelta::minutes(2)).to_rfc3339();
    let ok = row("A", "2026-01-05", 5);
    let cases: Vec<(&str, Value, &str, u64, &str)> = vec![
        (
            "unknown agency",
            json!([ok, row("ZZ", "2026-01-05", 5)]),
            "unknown_agency",
            2,
            "agency",
        ),
        (
            "bad date",
            json!([ok, ok, row("A", "05/01/2026", 5)]),
            "invalid_date",
            3,
            "submitted_at",
        ),
        (
            "impossible date",
            json!([row("A", "2026-02-30", 5)]),
            "invalid_date",
            1,
            "submitted_at",
        ),
        (
            "future",
            json!([ok, row("A", &future, 5)]),
            "submitted_at_in_future",
            2,
            "submitted_at",
        ),
        (
            "unknown desk",
            json!([{"agency": "B", "desk": "MC1", "submitted_at": "2026-01-05", "answers": {"overall": 5}}]),
            "unknown_desk",
            1,
            "desk",
        ),
        (
            "score 0",
            json!([ok, row("A", "2026-01-05", 0)]),
            "invalid_answer",
            2,
            "answers.overall",
        ),
        (
            "score 6",
            json!([row("A", "2026-01-05", 6)]),
            "invalid_answer",
            1,
            "answers.overall",
        ),
        (
            "kiosk 3",
            json!([{"agency": "A", "questionnaire": "kiosk-3", "submitted_at": "2026-01-05", "answers": {"overall": 3}}]),
            "invalid_answer",
            1,
            "answers.overall",
        ),
        (
            "missing overall",
            json!([{"agency": "A", "submitted_at": "2026-01-05", "answers": {"staff": 5}}]),
            "missing_answer",
            1,
            "answers.overall",
        ),
        (
            "unknown question",
            json!([{"agency": "A", "submitted_at": "2026-01-05", "answers": {"overall": 5, "speed": 5}}]),
            "unknown_question",
            1,
            "answers.speed",
        ),
        (
            "bad channel",
            json!([{"agency": "A", "submitted_at": "2026-01-05", "channel": "fax", "answers": {"overall": 5}}]),
            "invalid_channel",
            1,
            "channel",
        ),
        (
            "unknown questionnaire",
            json!([{"agency": "A", "questionnaire": "nope", "submitted_at": "2026-01-05", "answers": {"overall": 5}}]),
            "unknown_questionnaire",
            1,
            "questionnaire",
        ),
        (
            "long comment",
            json!([{"agency": "A", "submitted_at": "2026-01-05", "answers": {"overall": 5}, "comment": "x".repeat(1001)}]),
            "comment_too_long",
            1,
            "comment",
        ),
        (
            "answers of the wrong shape",
            json!([ok, {"agency": "A", "submitted_at": "2026-01-05", "answers": [5]}]),
            "invalid_body",
            2,
            "answers",
        ),
        (
            "unknown field",
            json!([{"agency": "A", "submitted_at": "2026-01-05", "answers": {"overall": 5}, "score": 5}]),
            "invalid_body",
            1,
            "score",
        ),
    ];
    for (case, rows, code, row_number, field) in cases {
        let res = import_json(&app, &app.admin, rows).await;
        app.assert_rejected(case, &res, 422, code, &before).await;
        assert_eq!(res.json()["error"]["row"], row_number, "{case}");
        assert_eq!(res.json()["error"]["field"], field, "{case}");
    }
    // Two minutes ahead is within the allowed clock skew.
    let res = import_json(&app, &app.admin, json!([row("A", &soon, 5)])).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let before = app.fingerprint().await;

    // CSV: a wrong header, a bad cell, a row of the wrong length.
    let wrong_header = "agency,desk,date,channel,overall,access,procedure,staff,result,feedback,comment\nA,,2026-01-05,,5,,,,,,\n";
    let res = import_csv(&app, &app.admin, wrong_header).await;
    app.assert_rejected("wrong header", &res, 422, "invalid_header", &before)
        .await;
    assert_eq!(res.json()["error"]["field"], "submitted_at");
    let res = import_csv(
        &app,
        &app.admin,
        &format!("{HEADER}\nA,,2026-01-05,,5,,,,,,\nA,,2026-01-05,,five,,,,,,\n"),
    )
    .await;
    app.assert_rejected("csv score five", &res, 422, "invalid_answer", &before)
        .await;
    assert_eq!(res.json()["error"]["row"], 2);
    let res = import_csv(
        &app,
        &app.admin,
        &format!("{HEADER}\nA,,2026-01-05,,4.5,,,,,,\n"),
    )
    .await;
    app.assert_rejected("csv score 4.5", &res, 422, "invalid_answer", &before)
        .await;
    let res = import_csv(&app, &app.admin, &format!("{HEADER}\nA,,2026-01-05,,5\n")).await;
    app.assert_rejected("short row", &res, 422, "invalid_csv", &before)
        .await;
    assert_eq!(res.json()["error"]["row"], 1);
    let res = import_csv(
        &app,
        &app.admin,
        &format!("{HEADER}\nZZ,,2026-01-05,,5,,,,,,\n"),
    )
    .await;
    app.assert_rejected("csv unknown agency", &res, 422, "unknown_agency", &before)
        .await;
    let res = import_csv(&app, &app.admin, &format!("{HEADER}\n")).await;
    app.assert_rejected("no rows", &res, 422, "no_rows", &before)
        .await;

    // Too many rows, too large, not JSON or CSV, malformed.
    let many: Vec<Value> = (0..10_001).map(|_| ok.clone()).collect();
    let res = import_json(&app, &app.admin, json!(many)).await;
    app.assert_rejected("10,001 rows", &res, 422, "too_many_rows", &before)
        .await;
    let huge = format!("{HEADER}\n{}", "A,,2026-01-05,,5,,,,,,\n".repeat(800_000));
    assert!(huge.len() > 16 * 1024 * 1024);
    let res = import_csv(&app, &app.admin, &huge).await;
    app.assert_rejected("over 16 MiB", &res, 413, "payload_too_large", &before)
        .await;
    let res = send_raw(&app, &app.admin, "text/plain", b"x".to_vec()).await;
    app.assert_rejected("text/plain", &res, 415, "unsupported_media_type", &before)
        .await;
    let res = send_raw(
        &app,
        &app.admin,
        "application/json",
        b"{\"responses\": [".to_vec(),
    )
    .await;
    app.assert_rejected("malformed", &res, 400, "malformed_json", &before)
        .await;
    let res = send_raw(
        &app,
        &app.admin,
        "application/json",
        b"{\"responses\": [\"\xff\"]}".to_vec(),
    )
    .await;
    app.assert_rejected("invalid UTF-8", &res, 400, "malformed_json", &before)
        .await;
}

#[tokio::test]
async fn a_full_import_of_ten_thousand_rows_is_taken() {
    let app = TestApp::spawn().await;
    app.province().await;
    let csv = format!(
        "{HEADER}\n{}",
        "A,MC1,2026-01-05T10:00:00+07:00,,4,5,4,5,4,,\n".repeat(10_000)
    );
    let res = import_csv(&app, &app.admin, &csv).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(app.count("responses").await, 10_000);
    assert_eq!(app.count("answers").await, 50_000);
    assert_eq!(overall_rollup(&app, "rollup_daily").await, (10_000, 0));
    // All at one instant: the listing's pages (500 each) go on from the last id, so every
    // response comes out once, in order, with two more on another day around them.
    import_json(
        &app,
        &app.admin,
        json!([
            {"agency": "A", "submitted_at": "2026-01-04", "answers": {"overall": 1}},
            {"agency": "B", "submitted_at": "2026-01-06", "answers": {"overall": 2}}
        ]),
    )
    .await;
    let listed = list(
        &app,
        &app.admin,
        "?format=csv&from=2026-01-01&to=2026-01-31",
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<i64> = listed
        .text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let mut expected = vec![10_001];
    expected.extend(1..=10_000);
    expected.push(10_002);
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn imports_respect_roles_and_scope() {
    let app = TestApp::spawn().await;
    app.province().await;
    let integrator_a = app.key(Role::Integrator, Some("A")).await;
    let manager = app.key(Role::Manager, Some("KH")).await;
    let before = app.fingerprint().await;
    let res = import_json(
        &app,
        &integrator_a,
        json!([row("A", "2026-01-05", 5), row("B", "2026-01-05", 5)]),
    )
    .await;
    app.assert_rejected("row outside scope", &res, 403, "forbidden", &before)
        .await;
    assert_eq!(res.json()["error"]["row"], 2);
    let res = import_json(&app, &manager, json!([row("A", "2026-01-05", 5)])).await;
    app.assert_rejected("manager", &res, 403, "forbidden", &before)
        .await;
    let res = app
        .call(
            Method::POST,
            "/api/v1/responses/import",
            None,
            Some(json!({"responses": [row("A", "2026-01-05", 5)]})),
        )
        .await;
    app.assert_rejected("no key", &res, 401, "unauthorized", &before)
        .await;
    let res = import_json(&app, &integrator_a, json!([row("A", "2026-01-05", 5)])).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

#[tokio::test]
async fn an_excluded_response_stays_stored_and_leaves_the_figures() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = import_json(
        &app,
        &app.admin,
        json!([
            {"agency": "A", "desk": "MC1", "submitted_at": "2026-01-05T23:30:00+07:00", "answers": {"overall": 1, "staff": 2}},
            row("A", "2026-01-05", 5),
        ]),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let listed = list(&app, &app.admin, "?agency=A").await.json();
    let id = listed["responses"][1]["id"].as_i64().unwrap();
    assert_eq!(listed["responses"][1]["answers"]["overall"], 1);

    let res = app
        .post(
            &format!("/api/v1/responses/{id}/exclude"),
            &app.admin,
            json!({"reason": "dữ liệu thử nghiệm"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["id"], id);
    assert_eq!(res.json()["excluded"], true);
    assert_eq!(res.json()["reason"], "dữ liệu thử nghiệm");
    assert_eq!(app.count("responses").await, 2, "nothing is deleted");
    assert_eq!(app.count("exclusions").await, 1);
    assert_eq!(overall_rollup(&app, "rollup_daily").await, (1, 1));
    assert_eq!(overall_rollup(&app, "rollup_monthly").await, (1, 1));
    assert_eq!(overall_rollup(&app, "rollup_yearly").await, (1, 1));
    let listed = list(&app, &app.admin, "?agency=A").await.json();
    assert_eq!(listed["responses"][1]["excluded"], true);
    assert_eq!(listed["responses"][0]["excluded"], false);

    // Again: the first exclusion stands, nothing moves twice.
    let manager = app.key(Role::Manager, Some("KH")).await;
    let before = app.fingerprint().await;
    let res = app
        .post(
            &format!("/api/v1/responses/{id}/exclude"),
            &app.admin,
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["reason"], "dữ liệu thử nghiệm");
    assert_eq!(app.fingerprint().await, before);
    assert_eq!(overall_rollup(&app, "rollup_daily").await, (1, 1));

    let other = listed["responses"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/responses/{other}/exclude");
    type Case<'a> = (&'a str, String, Option<&'a str>, Value, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "unknown id",
            "/api/v1/responses/999999/exclude".into(),
            Some(&app.admin),
            json!({"reason": "x"}),
            404,
            "response_not_found",
        ),
        (
            "id not a number",
            "/api/v1/responses/abc/exclude".into(),
            Some(&app.admin),
            json!({"reason": "x"}),
            404,
            "response_not_found",
        ),
        (
            "no reason",
            path.clone(),
            Some(&app.admin),
            json!({}),
            422,
            "invalid_body",
        ),
        (
            "empty reason",
            path.clone(),
            Some(&app.admin),
            json!({"reason": "  "}),
            422,
            "invalid_reason",
        ),
        (
            "manager",
            path.clone(),
            Some(&manager),
            json!({"reason": "x"}),
            403,
            "forbidden",
        ),
        (
            "no key",
            path.clone(),
            None,
            json!({"reason": "x"}),
            401,
            "unauthorized",
        ),
    ];
    for (case, path, key, body, status, code) in cases {
        let res = app.call(Method::POST, &path, key, Some(body)).await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
}

#[tokio::test]
async fn the_listing_checks_roles_scope_and_its_query() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = import_json(
        &app,
        &app.admin,
        json!([row("A", "2026-01-05", 5), row("B", "2026-01-06", 4)]),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let manager_a = app.key(Role::Manager, Some("A")).await;
    let viewer_kh = app.key(Role::Viewer, Some("KH")).await;
    let integrator = app.key(Role::Integrator, Some("KH")).await;

    // A manager sees its own subtree, by default and by name.
    for query in ["", "?agency=A"] {
        let res = list(&app, &manager_a, query).await;
        assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.text);
        let agencies: Vec<Value> = res.json()["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["agency"].clone())
            .collect();
        assert_eq!(agencies, [json!("A")], "{query}");
    }
    let res = list(&app, &viewer_kh, "?agency=KH&format=csv").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text.lines().count(), 3);

    let cases: Vec<(&str, &str, Option<&str>, u16, &str)> = vec![
        (
            "outside scope",
            "?agency=B",
            Some(&manager_a),
            403,
            "forbidden",
        ),
        (
            "integrator",
            "?agency=A",
            Some(&integrator),
            403,
            "forbidden",
        ),
        ("no key", "?agency=A", None, 401, "unauthorized"),
        (
            "unknown agency",
            "?agency=ZZ",
            Some(&app.admin),
            404,
            "agency_not_found",
        ),
        (
            "bad from",
            "?from=2026-1-5",
            Some(&app.admin),
            422,
            "invalid_date",
        ),
        (
            "bad to",
            "?to=yesterday",
            Some(&app.admin),
            422,
            "invalid_date",
        ),
        (
            "reversed",
            "?from=2026-02-01&to=2026-01-01",
            Some(&app.admin),
            422,
            "invalid_period",
        ),
        (
            "bad format",
            "?format=xml",
            Some(&app.admin),
            422,
            "invalid_format",
        ),
    ];
    for (case, query, key, status, code) in cases {
        let res = app
            .call(Method::GET, &format!("/api/v1/responses{query}"), key, None)
            .await;
        assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
        assert_eq!(res.error_code(), code, "{case}");
    }
}

/// The listing is streamed; compressed for a client that asks (a browser, nginx), the
/// stream ends cleanly and the decompressed body is the same as the plain one. (The gzip
/// layer polls a body once more after its end: a stream that panics then killed the
/// connection behind a proxy.)
#[tokio::test]
async fn the_listing_streams_compressed_to_the_end() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    app.province().await;
    let rows: Vec<Value> = (0..300)
        .map(|i| json!({"agency": "A", "submitted_at": "2025-03-01", "answers": {"overall": 1 + i % 5}}))
        .collect();
    assert_eq!(
        import_json(&app, &app.admin, json!(rows)).await.status,
        StatusCode::CREATED
    );
    for format in ["json", "csv"] {
        let path = format!("/api/v1/responses?format={format}");
        let plain = app.get(&path, &app.admin).await;
        assert_eq!(plain.status, StatusCode::OK);
        let req = Request::get(&path)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .unwrap();
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.headers[header::CONTENT_ENCODING], "gzip");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&res.bytes[..])
            .read_to_string(&mut text)
            .expect("a whole gzip stream");
        assert_eq!(text, plain.text, "{format}");
    }
}
