//! Hostile and lenient input, error shapes everywhere, headers, and the connection limits of
//! the real server (a real listener: half-sent headers, stalled bodies).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, TestResponse};

async fn token(app: &TestApp) -> String {
    app.province().await;
    app.link(json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn raw(
    app: &TestApp,
    method: Method,
    uri: &str,
    ct: Option<&str>,
    accept: Option<&str>,
    body: &str,
) -> TestResponse {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn lenient_ratings_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    let before = app.fingerprint().await;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "NUL in a comment",
            json!({"token": token, "answers": {"overall": 5}, "comment": "a\u{0}b"}).to_string(),
            422,
            "invalid_text",
        ),
        (
            "escape sequence in a comment",
            json!({"token": token, "answers": {"overall": 5}, "comment": "\u{1b}[31mđỏ"})
                .to_string(),
            422,
            "invalid_text",
        ),
        (
            "right-to-left override",
            json!({"token": token, "answers": {"overall": 5}, "comment": "\u{202E}abc"})
                .to_string(),
            422,
            "invalid_text",
        ),
        (
            "unknown field",
            json!({"token": token, "answers": {"overall": 5}, "kiosk": true}).to_string(),
            422,
            "invalid_body",
        ),
        (
            "duplicate answer key",
            format!(r#"{{"token": "{token}", "answers": {{"overall": 5, "overall": 1}}}}"#),
            422,
            "invalid_body",
        ),
        (
            "duplicate top-level key",
            format!(r#"{{"token": "{token}", "token": "{token}", "answers": {{"overall": 5}}}}"#),
            422,
            "invalid_body",
        ),
        (
            "invalid UTF-8",
            "{\"token\": \"\u{FFFD}\"}".replace('\u{FFFD}', "\u{0}"),
            400,
            "malformed_json",
        ),
    ];
    for (case, body, status, code) in cases {
        let res = raw(
            &app,
            Method::POST,
            "/api/v1/responses",
            Some("application/json"),
            None,
            &body,
        )
        .await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
    // Bytes that are not UTF-8 at all.
    let req = Request::post("/api/v1/responses")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']))
        .unwrap();
    let res = app.send(req).await;
    app.assert_rejected("invalid UTF-8 bytes", &res, 400, "malformed_json", &before)
        .await;
}

#[tokio::test]
async fn comments_are_stored_in_nfc_and_invisible_ones_as_none() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    for comment in [
        "Ca\u{301}n bo\u{323}\u{302} nhie\u{323}\u{302}t ti\u{300}nh",
        "\u{200B}\u{3164} ",
    ] {
        let res = app
            .call(
                Method::POST,
                "/api/v1/responses",
                None,
                Some(json!({"token": token, "answers": {"overall": 5}, "comment": comment})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let listing = app.get("/api/v1/responses?format=json", &app.admin).await;
    let rows = listing.json()["responses"].as_array().unwrap().clone();
    assert_eq!(rows[0]["comment"], "Cán bộ nhiệt tình");
    assert_eq!(rows[1]["comment"], Value::Null);
}

#[tokio::test]
async fn form_values_must_be_what_the_form_offers() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    let before = app.fingerprint().await;
    for body in [
        "overall=%2B5",
        "overall=05",
        "overall=5&overall=1",
        "overall=5.0",
        "overall=5&comment=a%00b",
    ] {
        let res = raw(
            &app,
            Method::POST,
            &format!("/r/{token}"),
            Some("application/x-www-form-urlencoded"),
            None,
            body,
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert!(
            res.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{body}"
        );
        assert_eq!(
            app.fingerprint().await,
            before,
            "{body} changed the database"
        );
    }
}

#[tokio::test]
async fn names_imports_and_expiries_must_be_plausible() {
    let app = TestApp::spawn().await;
    app.province().await;
    let before = app.fingerprint().await;
    for (case, name, code) in [
        ("invisible name", "\u{200B}\u{3164}\u{FEFF}", "invalid_name"),
        ("right-to-left override", "Sở \u{202E}pháp", "invalid_text"),
        ("control character", "Sở\u{7}", "invalid_text"),
    ] {
        let res = app
            .post(
                "/api/v1/agencies",
                &app.admin,
                json!({"code": "X", "name": name, "parent": null}),
            )
            .await;
        app.assert_rejected(case, &res, 422, code, &before).await;
    }
    let res = app
        .post(
            "/api/v1/links",
            &app.admin,
            json!({"agency": "A", "expires_at": "99999-01-01T00:00:00Z"}),
        )
        .await;
    assert!(matches!(res.status.as_u16(), 400 | 422), "{}", res.text);
    let res = app
        .post(
            "/api/v1/links",
            &app.admin,
            json!({"agency": "A", "expires_at": "2200-01-01T00:00:00Z"}),
        )
        .await;
    app.assert_rejected("expiry in 2200", &res, 422, "invalid_expiry", &before)
        .await;
    for year in ["0000", "1900", "1999"] {
        let res = app
            .post(
                "/api/v1/responses/import",
                &app.admin,
                json!({"responses": [{"agency": "A", "submitted_at": format!("{year}-06-01"), "answers": {"overall": 5}}]}),
            )
            .await;
        app.assert_rejected(year, &res, 422, "invalid_date", &before)
            .await;
        assert_eq!(res.json()["error"]["row"], 1);
    }
}

/// (case, method, uri, content type, accept, body, status (0: any 4xx or redirect), HTML)
type Case = (
    &'static str,
    Method,
    String,
    Option<&'static str>,
    Option<&'static str>,
    String,
    u16,
    bool,
);

#[tokio::test]
async fn every_rejection_has_the_route_shape() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    let big = "x".repeat(70 * 1024);
    let cases: Vec<Case> = vec![
        (
            "API 404",
            Method::GET,
            "/api/v1/nothing".into(),
            None,
            None,
            String::new(),
            404,
            false,
        ),
        (
            "browser 404",
            Method::GET,
            "/nothing".into(),
            None,
            Some("text/html,*/*"),
            String::new(),
            404,
            true,
        ),
        (
            "API 405",
            Method::DELETE,
            "/api/v1/responses".into(),
            None,
            None,
            String::new(),
            405,
            false,
        ),
        (
            "API 413",
            Method::POST,
            "/api/v1/responses".into(),
            Some("application/json"),
            None,
            big.clone(),
            413,
            false,
        ),
        (
            "form 413",
            Method::POST,
            format!("/r/{token}"),
            Some("application/x-www-form-urlencoded"),
            None,
            format!("comment={big}"),
            413,
            true,
        ),
        (
            "API 415",
            Method::POST,
            "/api/v1/responses".into(),
            Some("text/plain"),
            None,
            "x".into(),
            415,
            false,
        ),
        (
            "form 415",
            Method::POST,
            format!("/r/{token}"),
            Some("application/json"),
            None,
            "{}".into(),
            415,
            true,
        ),
        (
            "page bad query",
            Method::GET,
            "/dashboard?year=1&year=2".into(),
            None,
            None,
            String::new(),
            0,
            true,
        ),
        (
            "thanks of no link",
            Method::GET,
            "/r/not-a-real-token/thanks".into(),
            None,
            None,
            String::new(),
            404,
            true,
        ),
        (
            "NUL in the path",
            Method::GET,
            "/r/abc%00def".into(),
            None,
            None,
            String::new(),
            400,
            true,
        ),
        (
            "NUL in an API query",
            Method::GET,
            "/api/v1/responses?agency=A%00".into(),
            None,
            None,
            String::new(),
            400,
            false,
        ),
    ];
    for (case, method, uri, ct, accept, body, status, html) in cases {
        let res = raw(&app, method, &uri, ct, accept, &body).await;
        if status != 0 {
            assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
        } else {
            assert!(
                res.status.is_client_error() || res.status.is_redirection(),
                "{case}: {}",
                res.status
            );
        }
        if res.status.is_redirection() {
            continue;
        }
        let ct = res.headers["content-type"].to_str().unwrap().to_string();
        if html {
            assert!(ct.starts_with("text/html"), "{case}: {ct} {}", res.text);
            assert!(res.text.contains("lang=\"vi\""), "{case}: {}", res.text);
        } else {
            assert!(ct.starts_with("application/json"), "{case}: {ct}");
            assert!(!res.error_code().is_empty(), "{case}");
        }
        assert_eq!(res.headers["x-content-type-options"], "nosniff", "{case}");
    }
}

#[tokio::test]
async fn security_headers_and_compression() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    let res = raw(&app, Method::GET, &format!("/r/{token}"), None, None, "").await;
    assert_eq!(res.headers["x-content-type-options"], "nosniff");
    assert_eq!(res.headers["referrer-policy"], "same-origin");
    let csp = res.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    let report = app.get("/api/v1/reports/agencies/KH", &app.admin).await;
    assert_eq!(report.headers["cache-control"], "no-store");
    let csv = app
        .get("/api/v1/reports/agencies/KH?format=csv", &app.admin)
        .await;
    assert_eq!(csv.headers["cache-control"], "no-store");

    let req = Request::get(format!("/r/{token}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.headers["content-encoding"], "gzip");
}

#[tokio::test]
async fn a_database_outage_is_503_with_retry_after() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    app.db.clone().close().await;
    let res = app
        .call(
            Method::POST,
            "/api/v1/responses",
            None,
            Some(json!({"token": token, "answers": {"overall": 5}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert!(res.headers.contains_key("retry-after"));
    assert!(!res.text.to_lowercase().contains("pool"), "{}", res.text);
}

/// The real server on a real socket.
async fn real_server(app: &TestApp) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router.clone();
    tokio::spawn(async move {
        hailong::web::server::run(listener, router, 64, async {
            let _ = stopped.await;
        })
        .await;
    });
    (addr, stop)
}

/// Reads until the server closes; what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn half_sent_headers_and_stalled_bodies_are_closed() {
    let app = TestApp::spawn().await;
    let (addr, _stop) = real_server(&app).await;

    // Headers that never end: closed after the header timeout (10 s).
    let started = Instant::now();
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut half, Duration::from_secs(20)).await;
    assert!(answer.is_some(), "the server kept a half-sent request open");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );

    // Headers sent a byte every second are closed as surely: the time counts from the
    // start of the wait, not from the last byte.
    let started = Instant::now();
    let mut drip = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut closed = false;
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if drip.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !closed {
        closed = read_to_close(&mut drip, Duration::from_secs(5))
            .await
            .is_some();
    }
    assert!(closed, "a slow drip of header bytes kept the connection");
    assert!(
        started.elapsed() < Duration::from_secs(16),
        "{:?}",
        started.elapsed()
    );

    // An idle keep-alive connection is closed too.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut idle, Duration::from_secs(70))
        .await
        .expect("idle connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stalls_gets_408() {
    let app = TestApp::spawn().await;
    let (addr, _stop) = real_server(&app).await;
    let started = Instant::now();
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /api/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok",
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut slow, Duration::from_secs(45))
        .await
        .expect("closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn formula_cells_in_csv_stay_text() {
    let app = TestApp::spawn().await;
    let token = token(&app).await;
    let res = app
        .call(
            Method::POST,
            "/api/v1/responses",
            None,
            Some(json!({"token": token, "answers": {"overall": 1},
                        "comment": "=HYPERLINK(\"http://evil.example\",\"bấm\")"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/api/v1/agencies",
            &app.admin,
            json!({"code": "F", "name": "@SUM(1+1)", "parent": "KH"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let csv = app.get("/api/v1/responses?format=csv", &app.admin).await;
    assert!(csv.text.contains("'=HYPERLINK"), "{}", csv.text);
    assert!(
        !csv.text.contains(",=HYPERLINK") && !csv.text.contains("\"=HYPERLINK"),
        "{}",
        csv.text
    );
    let report = app
        .get("/api/v1/reports/agencies/KH?format=csv", &app.admin)
        .await;
    assert!(report.text.contains("'@SUM(1+1)"), "{}", report.text);
    // JSON keeps the text as typed.
    let json = app.get("/api/v1/responses?format=json", &app.admin).await;
    assert_eq!(
        json.json()["responses"][0]["comment"],
        "=HYPERLINK(\"http://evil.example\",\"bấm\")"
    );
}

async fn import_with_key(app: &TestApp, key: Option<&str>, body: &Value) -> TestResponse {
    let mut req = Request::post("/api/v1/responses/import")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn a_retried_import_with_its_key_is_stored_once() {
    let app = TestApp::spawn().await;
    app.province().await;
    let rows = json!({"responses": [
        {"agency": "A", "submitted_at": "2026-03-01", "answers": {"overall": 5}},
        {"agency": "B", "submitted_at": "2026-03-02", "answers": {"overall": 2}},
    ]});
    let first = import_with_key(&app, Some("phieu-giay-2026-03"), &rows).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json()["imported"], 2);
    let before = app.fingerprint().await;
    // Retried (the answer was lost on the way): the first answer again, nothing stored.
    let again = import_with_key(&app, Some("phieu-giay-2026-03"), &rows).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.json()["imported"], 2);
    assert_eq!(app.fingerprint().await, before);
    // The same key with other rows: 409, nothing stored.
    let other = json!({"responses": [{"agency": "A", "submitted_at": "2026-03-03", "answers": {"overall": 4}}]});
    let res = import_with_key(&app, Some("phieu-giay-2026-03"), &other).await;
    app.assert_rejected("key reused", &res, 409, "idempotency_key_reused", &before)
        .await;
    let res = import_with_key(&app, Some("có dấu"), &other).await;
    app.assert_rejected("bad key", &res, 422, "invalid_idempotency_key", &before)
        .await;
    // Racing retries store once.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let router = app.router.clone();
            let admin = app.admin.clone();
            let other = other.clone();
            tokio::spawn(async move {
                let req = Request::post("/api/v1/responses/import")
                    .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("idempotency-key", "dua-nhau")
                    .body(Body::from(other.to_string()))
                    .unwrap();
                tower::ServiceExt::oneshot(router, req)
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(app.count("responses").await, 3);
    // Without a key, a repeat is a new import, as before.
    let res = import_with_key(&app, None, &rows).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(app.count("responses").await, 5);
}
