//! Rate limits per client per link, the client cookie, trusted proxies, and the daily
//! keyed client hash.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use hailong::collect::limit::RateLimit;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

async fn link(app: &TestApp, body: Value) -> String {
    app.link(body).await["token"].as_str().unwrap().to_string()
}

/// A JSON rating from `peer`, with optional cookie and X-Forwarded-For.
async fn rate_from(
    app: &TestApp,
    token: &str,
    overall: Value,
    peer: &str,
    cookie: Option<&str>,
    forwarded: Option<&str>,
) -> TestResponse {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/responses")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("hl_c={c}"));
    }
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req
        .body(Body::from(
            json!({"token": token, "answers": {"overall": overall}}).to_string(),
        ))
        .unwrap();
    let addr = SocketAddr::new(peer.parse().unwrap(), 40000);
    req.extensions_mut().insert(ConnectInfo(addr));
    app.send(req).await
}

/// Client cookies as the server issues them (signed), one per device.
async fn devices(app: &TestApp, n: usize) -> Vec<String> {
    let keys = app.state.intake.keys().await.unwrap();
    (0..n).map(|_| keys.new_cookie().unwrap()).collect()
}

#[tokio::test]
async fn five_ratings_per_client_per_link_then_429() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let other = link(&app, json!({"agency": "A"})).await;
    // Rejected posts do not count.
    for bad in [json!(0), json!("five")] {
        let res = rate_from(&app, &token, bad, "203.0.113.7", None, None).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    for i in 0..5 {
        let res = rate_from(&app, &token, json!(5), "203.0.113.7", None, None).await;
        assert_eq!(res.status, StatusCode::CREATED, "rating {i}: {}", res.text);
    }
    let before = app.fingerprint().await;
    let res = rate_from(&app, &token, json!(5), "203.0.113.7", None, None).await;
    app.assert_rejected("sixth", &res, 429, "rate_limited", &before)
        .await;
    let wait: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    // Another link, another address: their own budgets.
    let res = rate_from(&app, &other, json!(5), "203.0.113.7", None, None).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = rate_from(&app, &token, json!(5), "203.0.113.8", None, None).await;
    assert_eq!(res.status, StatusCode::CREATED);
}

#[tokio::test]
async fn devices_behind_one_address_share_a_higher_ceiling() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let wifi = "198.51.100.20";
    let device = devices(&app, 100).await;
    let device = |d: usize| device[d].clone();
    // Each device gets five; the address as a whole gets ten times that.
    for d in 0..10 {
        for _ in 0..5 {
            let res = rate_from(&app, &token, json!(4), wifi, Some(&device(d)), None).await;
            assert_eq!(res.status, StatusCode::CREATED, "device {d}: {}", res.text);
        }
        if d == 0 {
            let res = rate_from(&app, &token, json!(4), wifi, Some(&device(d)), None).await;
            assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "per device");
        }
    }
    let res = rate_from(&app, &token, json!(4), wifi, Some(&device(99)), None).await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address ceiling holds for a fresh cookie"
    );
    assert_eq!(app.count("responses").await, 50);

    // A kiosk link is one shared device: only the ceiling applies.
    let kiosk = link(
        &app,
        json!({"agency": "A", "desk": "MC1", "questionnaire": "kiosk-3", "kiosk": true}),
    )
    .await;
    for i in 0..50 {
        let res = rate_from(
            &app,
            &kiosk,
            json!(5),
            "198.51.100.21",
            Some(&device(1)),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "kiosk rating {i}");
    }
    let res = rate_from(
        &app,
        &kiosk,
        json!(5),
        "198.51.100.21",
        Some(&device(1)),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forged_or_dropped_cookies_do_not_buy_a_new_budget() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let from = "203.0.113.50";
    // Five ratings without a cookie, then every forged cookie is the same address client.
    for _ in 0..5 {
        let res = rate_from(&app, &token, json!(5), from, None, None).await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    for n in 0..20 {
        let forged = format!("{n:0>46}");
        let res = rate_from(&app, &token, json!(5), from, Some(&forged), None).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "forged cookie {n}"
        );
    }
    // A cookie signed by another deployment is forged here too.
    let other = hailong::collect::intake::Secret::new(b"someone else's secret").unwrap();
    let foreign = other.new_cookie().unwrap();
    let res = rate_from(&app, &token, json!(5), from, Some(&foreign), None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count("responses").await, 5);
}

#[tokio::test]
async fn every_address_of_one_ipv6_64_shares_one_budget() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    for i in 0..5 {
        let peer = format!("2001:db8:aa:bb::{:x}", i + 1);
        let res = rate_from(&app, &token, json!(5), &peer, None, None).await;
        assert_eq!(res.status, StatusCode::CREATED, "{peer}");
    }
    let res = rate_from(
        &app,
        &token,
        json!(5),
        "2001:db8:aa:bb:ffff:1:2:3",
        None,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "same /64");
    let res = rate_from(&app, &token, json!(5), "2001:db8:aa:bc::1", None, None).await;
    assert_eq!(res.status, StatusCode::CREATED, "another /64");
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = hailong::config::parse_proxies("10.0.0.0/8").unwrap();
    })
    .await;
    app.province().await;
    let token = link(&app, json!({"agency": "A"})).await;
    // Through the trusted proxy, each forwarded address is its own client.
    for i in 0..7 {
        let client = format!("192.0.2.{i}");
        let res = rate_from(&app, &token, json!(5), "10.0.0.2", None, Some(&client)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{client}");
    }
    // From an untrusted peer, a forged header changes nothing: one client.
    let mut statuses = Vec::new();
    for i in 0..7 {
        let forged = format!("192.0.2.{}", 100 + i);
        let res = rate_from(&app, &token, json!(5), "203.0.113.9", None, Some(&forged)).await;
        statuses.push(res.status.as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429]);
}

#[tokio::test]
async fn the_limit_can_be_changed_or_turned_off() {
    let app = TestApp::spawn_with(|c| c.rate_limit = None).await;
    app.province().await;
    let token = link(&app, json!({"agency": "A"})).await;
    for _ in 0..20 {
        let res = rate_from(&app, &token, json!(3), "203.0.113.7", None, None).await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let app = TestApp::spawn_with(|c| c.rate_limit = RateLimit::parse("2/60").unwrap()).await;
    app.province().await;
    let token = link(&app, json!({"agency": "A"})).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            rate_from(&app, &token, json!(3), "203.0.113.7", None, None)
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [201, 201, 429]);
}

#[tokio::test]
async fn the_form_gives_a_cookie_and_limits_by_it() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A", "desk": "MC1"})).await;
    let page = app
        .call(Method::GET, &format!("/r/{token}"), None, None)
        .await;
    let set_cookie = page.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("hl_c="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let post = |cookie: String| {
        let token = token.clone();
        let app = &app;
        async move {
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(format!("/r/{token}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie)
                .body(Body::from("lang=vi&overall=5&comment="))
                .unwrap();
            req.extensions_mut().insert(ConnectInfo(
                "198.51.100.5:1234".parse::<SocketAddr>().unwrap(),
            ));
            app.send(req).await
        }
    };
    for _ in 0..5 {
        assert_eq!(post(cookie.clone()).await.status, StatusCode::SEE_OTHER);
    }
    let before = app.fingerprint().await;
    let res = post(cookie.clone()).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.contains_key("retry-after"));
    assert!(
        res.text.contains("Ông/Bà đã gửi nhiều đánh giá"),
        "{}",
        res.text
    );
    assert_eq!(app.fingerprint().await, before);
    // A page view with the cookie does not hand out another.
    let mut req = Request::get(format!("/r/{token}"))
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(
        "198.51.100.5:1234".parse::<SocketAddr>().unwrap(),
    ));
    assert!(!app.send(req).await.headers.contains_key("set-cookie"));
}

#[tokio::test]
async fn only_a_daily_keyed_hash_of_the_address_is_stored() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = link(&app, json!({"agency": "A"})).await;
    for peer in ["203.0.113.7", "203.0.113.7", "203.0.113.8"] {
        let res = rate_from(&app, &token, json!(5), peer, None, None).await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let rows = app
        .db
        .read
        .query_all_raw(Statement::from_string(
            app.db.backend(),
            "SELECT client_hash FROM responses ORDER BY id",
        ))
        .await
        .unwrap();
    let hashes: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "client_hash").unwrap())
        .collect();
    assert_eq!(hashes.len(), 3);
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(hashes[0], hashes[1], "same address, same day");
    assert_ne!(hashes[0], hashes[2]);
    // No table holds the address itself.
    let dump = app
        .db
        .read
        .query_all_raw(Statement::from_string(
            app.db.backend(),
            "SELECT CAST(client_hash AS TEXT) AS v FROM responses \
             UNION ALL SELECT CAST(details AS TEXT) FROM audit_log \
             UNION ALL SELECT value FROM settings",
        ))
        .await
        .unwrap();
    for row in dump {
        let v: Option<String> = row.try_get("", "v").unwrap();
        assert!(!v.unwrap_or_default().contains("203.0.113"));
    }
}
