//! Trust in the figures (API.md, round 2): the integrity rules hold suspicious ratings out
//! of every figure until an administrator releases or excludes them; links can be revoked
//! and desks' codes rotated; limits and rules hold across two app servers on one database.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use hailong::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, TestResponse};

/// A JSON rating from `peer` (and its cookie, if any) through `app`.
async fn rate(app: &TestApp, token: &str, body: Value, peer: &str) -> TestResponse {
    let mut body = body;
    body["token"] = json!(token);
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/responses")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let addr = SocketAddr::new(peer.parse().unwrap(), 40000);
    req.extensions_mut().insert(ConnectInfo(addr));
    app.send(req).await
}

fn overall(v: i64) -> Value {
    json!({"answers": {"overall": v}})
}

/// The desk link of A/MC1.
async fn desk_link(app: &TestApp) -> String {
    let link = app.link(json!({"agency": "A", "desk": "MC1"})).await;
    link["token"].as_str().unwrap().to_string()
}

async fn report(app: &TestApp, code: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/reports/agencies/{code}"), &app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()
}

async fn listing(app: &TestApp) -> Vec<Value> {
    let res = app.get("/api/v1/responses", &app.admin).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()["responses"].as_array().unwrap().clone()
}

/// A naive recount from the listing: (counted responses, satisfied among them, held).
fn recount(listed: &[Value]) -> (u64, u64, u64) {
    let counted: Vec<&Value> = listed.iter().filter(|r| r["status"] == "counted").collect();
    let satisfied = counted
        .iter()
        .filter(|r| r["answers"]["overall"].as_i64().unwrap() >= 4)
        .count();
    let held = listed.iter().filter(|r| r["status"] == "held").count();
    (counted.len() as u64, satisfied as u64, held as u64)
}

fn held_ids(listed: &[Value]) -> Vec<i64> {
    listed
        .iter()
        .filter(|r| r["status"] == "held")
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn rules_are_read_set_checked_and_audited() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = app.get("/api/v1/integrity/rules", &app.admin).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.json(),
        json!({"burst_max": 20, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3})
    );
    let manager = app.key(Role::Manager, Some("A")).await;
    assert_eq!(
        app.get("/api/v1/integrity/rules", &manager).await.status,
        StatusCode::OK
    );
    let good = json!({"burst_max": 10, "burst_window_s": 300, "min_seconds": 0, "repeat_max": 5});
    let before = app.fingerprint().await;
    let audited = app.count("audit_log").await;
    let res = app
        .call(
            Method::PUT,
            "/api/v1/integrity/rules",
            Some(&manager),
            Some(good.clone()),
        )
        .await;
    app.assert_rejected("manager", &res, 403, "forbidden", &before)
        .await;
    for (case, bad) in [
        (
            "negative",
            json!({"burst_max": -1, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
        ),
        (
            "fraction",
            json!({"burst_max": 1.5, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
        ),
        (
            "window over a day",
            json!({"burst_max": 20, "burst_window_s": 90000, "min_seconds": 3, "repeat_max": 3}),
        ),
        (
            "absurd burst",
            json!({"burst_max": 100001, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
        ),
        ("missing", json!({"burst_max": 20})),
        (
            "text",
            json!({"burst_max": "20", "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
        ),
    ] {
        let res = app
            .call(
                Method::PUT,
                "/api/v1/integrity/rules",
                Some(&app.admin),
                Some(bad),
            )
            .await;
        app.assert_rejected(case, &res, 422, "invalid_rules", &before)
            .await;
    }
    let res = app
        .call(
            Method::PUT,
            "/api/v1/integrity/rules",
            Some(&app.admin),
            Some(good.clone()),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json(), good);
    assert_eq!(
        app.get("/api/v1/integrity/rules", &app.admin).await.json(),
        good
    );
    assert_eq!(app.count("audit_log").await, audited + 1);
}

#[tokio::test]
async fn a_busy_honest_desk_stays_counted_and_a_burst_is_held() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    // 19 citizens in ten minutes: a busy desk, not an attack.
    for i in 0..19 {
        let res = rate(&app, &token, overall(5), &format!("203.0.113.{i}")).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let r = report(&app, "A").await;
    assert_eq!(
        (r["responses"].as_u64(), r["held"].as_u64()),
        (Some(19), Some(0))
    );
    // The 20th is still within the rule; from the 21st on, the link is bursting.
    for i in 19..25 {
        let res = rate(&app, &token, overall(1), &format!("203.0.113.{i}")).await;
        // The sender never learns that its rating was held.
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let r = report(&app, "A").await;
    assert_eq!(r["responses"], 20);
    assert_eq!(r["held"], 5);
    assert_eq!(r["satisfied"], 19, "held ratings are in no figure");
    let listed = listing(&app).await;
    assert_eq!(recount(&listed), (20, 19, 5));
    let held: Vec<&Value> = listed.iter().filter(|r| r["status"] == "held").collect();
    assert!(
        held.iter().all(|r| r["reasons"] == json!(["burst"])),
        "{held:?}"
    );
    // The review shows them, oldest first, with their answers and reasons.
    let review = app.get("/api/v1/review?agency=A", &app.admin).await.json();
    let rows = review["held"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["desk"], "MC1");
    assert_eq!(rows[0]["answers"]["overall"], 1);
    assert_eq!(rows[0]["reasons"], json!(["burst"]));
    // The report's spreadsheet counts them apart too.
    let csv = app
        .get("/api/v1/reports/agencies/A?format=csv", &app.admin)
        .await
        .text;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .split(',')
        .collect();
    let total: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(
        (total[at("responses")], total[at("held")]),
        ("20", "5"),
        "{csv}"
    );
    // A manager reads the review of their own agency, not of another.
    let manager = app.key(Role::Manager, Some("A")).await;
    let res = app.get("/api/v1/review", &manager).await;
    assert_eq!(res.json()["held"].as_array().unwrap().len(), 5);
    assert_eq!(
        app.get("/api/v1/review?agency=B", &manager).await.status,
        StatusCode::FORBIDDEN
    );
    // The province's figures and the ranking agree.
    let kh = report(&app, "KH").await;
    assert_eq!(
        (kh["responses"].as_u64(), kh["held"].as_u64()),
        (Some(20), Some(5))
    );
    let metrics = app.call(Method::GET, "/metrics", None, None).await.text;
    // Metrics are the process's: other tests running beside this one add to them.
    let burst: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hailong_ratings_held_total{reason=\"burst\"} "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(burst >= 5, "{metrics}");
}

#[tokio::test]
async fn the_fourth_rating_of_one_client_in_a_day_is_a_repeat() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    for _ in 0..3 {
        assert_eq!(
            rate(&app, &token, overall(5), "198.51.100.9").await.status,
            StatusCode::CREATED
        );
    }
    assert_eq!(report(&app, "A").await["held"], 0);
    assert_eq!(
        rate(&app, &token, overall(5), "198.51.100.9").await.status,
        StatusCode::CREATED
    );
    let listed = listing(&app).await;
    assert_eq!(recount(&listed), (3, 3, 1));
    assert_eq!(listed[3]["reasons"], json!(["repeat"]));
    // Another client on the same link is not a repeat.
    assert_eq!(
        rate(&app, &token, overall(5), "198.51.100.10").await.status,
        StatusCode::CREATED
    );
    assert_eq!(report(&app, "A").await["responses"], 4);
}

/// The form as a browser sees it: its hidden stamp `t`.
async fn form_stamp(app: &TestApp, token: &str) -> String {
    let page = crate::helpers::send_get(&app.router, &format!("/r/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let at = page.text.find("name=\"t\" value=\"").expect("stamp") + 16;
    page.text[at..].split('"').next().unwrap().to_string()
}

async fn post_form(app: &TestApp, token: &str, body: &str, peer: &str) -> TestResponse {
    let mut req = Request::post(format!("/r/{token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
    app.send(req).await
}

#[tokio::test]
async fn a_form_sent_too_fast_or_with_a_forged_stamp_is_held() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    // Sent at once after it was shown.
    let stamp = form_stamp(&app, &token).await;
    let res = post_form(&app, &token, &format!("overall=5&t={stamp}"), "192.0.2.1").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    // A stamp the server did not sign.
    let res = post_form(&app, &token, "overall=5&t=1000.abcdef", "192.0.2.2").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // A form shown ten seconds ago, and one with the tick "someone helped me".
    let keys = app.state.intake.keys().await.unwrap();
    let old = keys.stamp(hailong::now() - chrono::TimeDelta::seconds(10));
    let res = post_form(
        &app,
        &token,
        &format!("overall=4&t={old}&assisted=1"),
        "192.0.2.3",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let listed = listing(&app).await;
    let reasons: Vec<&Value> = listed.iter().map(|r| &r["reasons"]).collect();
    assert_eq!(reasons, [&json!(["fast"]), &json!(["fast"]), &json!([])]);
    let r = report(&app, "A").await;
    assert_eq!(
        (r["responses"].as_u64(), r["held"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(r["assisted"], 1);
    assert_eq!(listed[2]["assisted"], true);
    // JSON ratings skip the rule, and carry the tick as `assisted`.
    let res = rate(
        &app,
        &token,
        json!({"answers": {"overall": 5}, "assisted": true}),
        "192.0.2.4",
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(report(&app, "A").await["assisted"], 2);
}

#[tokio::test]
async fn releasing_and_excluding_move_the_figures_exactly() {
    // One client rates six times: no rate limit here, the repeat rule alone.
    let app = TestApp::spawn_with(|c| c.rate_limit = None).await;
    app.province().await;
    let token = desk_link(&app).await;
    let manager = app.key(Role::Manager, Some("A")).await;
    let put = json!({"burst_max": 0, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 1});
    let res = app
        .call(
            Method::PUT,
            "/api/v1/integrity/rules",
            Some(&app.admin),
            Some(put),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // One client, six ratings: the first counted, five held as repeats.
    for v in [5, 1, 2, 4, 5, 3] {
        assert_eq!(
            rate(&app, &token, overall(v), "198.51.100.7").await.status,
            StatusCode::CREATED
        );
    }
    let listed = listing(&app).await;
    assert_eq!(recount(&listed), (1, 1, 5));
    let held = held_ids(&listed);
    let counted_id = listed[0]["id"].as_i64().unwrap();

    // Bad decisions change nothing.
    let before = app.fingerprint().await;
    let res = app
        .post(
            &format!("/api/v1/responses/{counted_id}/release"),
            &app.admin,
            json!({}),
        )
        .await;
    app.assert_rejected("not held", &res, 409, "not_held", &before)
        .await;
    let res = app
        .post(
            &format!("/api/v1/responses/{}/release", held[0]),
            &manager,
            json!({}),
        )
        .await;
    app.assert_rejected("manager", &res, 403, "forbidden", &before)
        .await;
    let res = app
        .post("/api/v1/responses/999999/release", &app.admin, json!({}))
        .await;
    app.assert_rejected("unknown", &res, 404, "response_not_found", &before)
        .await;
    for (case, body, code) in [
        ("empty", json!({"ids": []}), "invalid_ids"),
        (
            "duplicates",
            json!({"ids": [held[0], held[0]]}),
            "invalid_ids",
        ),
        (
            "unknown id",
            json!({"ids": [held[0], 999999]}),
            "unknown_ids",
        ),
        (
            "too many",
            json!({"ids": (1..=10_001).collect::<Vec<i64>>()}),
            "invalid_ids",
        ),
    ] {
        let res = app.post("/api/v1/review/release", &app.admin, body).await;
        app.assert_rejected(case, &res, 422, code, &before).await;
    }
    let res = app
        .post(
            "/api/v1/review/release",
            &app.admin,
            json!({"ids": [held[0], counted_id]}),
        )
        .await;
    app.assert_rejected("one not held", &res, 409, "not_held", &before)
        .await;
    let res = app
        .post(
            "/api/v1/review/exclude",
            &app.admin,
            json!({"ids": [held[0]]}),
        )
        .await;
    app.assert_rejected("no reason", &res, 422, "invalid_reason", &before)
        .await;

    // Release one: the figures move by exactly it.
    let res = app
        .post(
            &format!("/api/v1/responses/{}/release", held[0]),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json(), json!({"id": held[0], "status": "counted"}));
    let listed = listing(&app).await;
    assert_eq!(recount(&listed), (2, 1, 4));
    let r = report(&app, "A").await;
    assert_eq!(
        (
            r["responses"].as_u64(),
            r["satisfied"].as_u64(),
            r["held"].as_u64()
        ),
        (Some(2), Some(1), Some(4))
    );
    assert_eq!(r["distribution"]["1"], 1);
    // Release two at once, exclude the other two at once with a reason.
    let res = app
        .post(
            "/api/v1/review/release",
            &app.admin,
            json!({"ids": [held[1], held[2]]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            "/api/v1/review/exclude",
            &app.admin,
            json!({"ids": [held[3], held[4]], "reason": "cùng một người gửi liên tiếp"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["status"], "excluded");
    let listed = listing(&app).await;
    assert_eq!(recount(&listed), (4, 2, 0));
    let r = report(&app, "A").await;
    assert_eq!(
        (
            r["responses"].as_u64(),
            r["satisfied"].as_u64(),
            r["held"].as_u64(),
            r["excluded"].as_u64()
        ),
        (Some(4), Some(2), Some(0), Some(2))
    );
    assert!(
        app.get("/api/v1/review", &app.admin).await.json()["held"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The roll-ups agree with a recount from the raw rows.
    let check = hailong::rollup::rebuild::rebuild(&app.db, app.state.config.timezone, true, |_| {})
        .await
        .unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
    // Excluding an already excluded one again changes nothing.
    let before = app.fingerprint().await;
    let res = app
        .post(
            &format!("/api/v1/responses/{}/exclude", held[3]),
            &app.admin,
            json!({"reason": "lần nữa"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn a_year_with_held_ratings_cannot_be_frozen() {
    use hailong::collect::integrity::{Ledger, Via};
    use hailong::collect::store::{Channel, FormAge, Submission, store_batch};
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    let link = hailong::collect::links::usable(&app.db.read, &token)
        .await
        .unwrap()
        .unwrap();
    let tz = app.state.config.timezone;
    let last_year = hailong::report::annual::this_year(tz) - 1;
    // Two ratings of last year through the desk's link, one sent too fast.
    let at = chrono::NaiveDate::from_ymd_opt(last_year, 6, 1)
        .unwrap()
        .and_hms_opt(3, 0, 0)
        .unwrap()
        .and_utc();
    let sub = |fast: bool| Submission {
        link: Some(Via {
            link: link.id,
            kiosk: false,
            single_use: false,
        }),
        submitted_at: at,
        form_age: fast.then_some(FormAge::Forged),
        client_hash: Some(format!("client{fast}")),
        ..Submission::through_link(
            &link,
            Channel::Qr,
            hailong::collect::answers::Answers {
                values: vec![("overall".into(), 5)],
                comment: None,
            },
        )
    };
    let mut ledger = Ledger::new(None, tz);
    let txn = app.db.begin_write().await.unwrap();
    store_batch(&txn, tz, &[sub(false), sub(true)], Some(&mut ledger))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let path = format!("/api/v1/reports/annual/{last_year}");
    let ranking = app
        .get(&format!("{path}?parent=KH"), &app.admin)
        .await
        .json();
    let a = ranking["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency"] == "A")
        .unwrap()
        .clone();
    assert_eq!(
        (a["responses"].as_u64(), a["held"].as_u64()),
        (Some(1), Some(1))
    );
    let before = app.fingerprint().await;
    let res = app
        .post(&format!("{path}/freeze?parent=KH"), &app.admin, json!({}))
        .await;
    app.assert_rejected("held", &res, 409, "review_pending", &before)
        .await;
    let id = held_ids(
        &app.get(
            &format!("/api/v1/responses?from={last_year}-01-01&to={last_year}-12-31"),
            &app.admin,
        )
        .await
        .json()["responses"]
            .as_array()
            .unwrap()
            .clone(),
    )[0];
    let res = app
        .post(
            &format!("/api/v1/responses/{id}/release"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .post(&format!("{path}/freeze?parent=KH"), &app.admin, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let a = res.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency"] == "A")
        .unwrap()
        .clone();
    assert_eq!(
        (a["responses"].as_u64(), a["held"].as_u64()),
        (Some(2), Some(0))
    );
    let verify = app
        .get(&format!("{path}/verify?parent=KH"), &app.admin)
        .await
        .json();
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test]
async fn revoked_links_answer_410_and_rotating_prints_a_new_card() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    let other = app.key(Role::Integrator, Some("B")).await;
    let before = app.fingerprint().await;
    let res = app
        .post("/api/v1/links/nosuchtoken/revoke", &app.admin, json!({}))
        .await;
    app.assert_rejected("unknown", &res, 404, "link_not_found", &before)
        .await;
    let res = app
        .post(&format!("/api/v1/links/{token}/revoke"), &other, json!({}))
        .await;
    app.assert_rejected("out of scope", &res, 403, "forbidden", &before)
        .await;
    let res = app
        .post(
            &format!("/api/v1/links/{token}/revoke"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let first = res.json();
    let again = app
        .post(
            &format!("/api/v1/links/{token}/revoke"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.json(),
        first,
        "revoking twice answers the first revocation"
    );
    let before = app.fingerprint().await;
    let res = rate(&app, &token, overall(5), "192.0.2.8").await;
    app.assert_rejected("revoked", &res, 410, "link_revoked", &before)
        .await;
    let page = crate::helpers::send_get(&app.router, &format!("/r/{token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text.contains("ngừng sử dụng"), "{}", page.text);

    // Rotating a desk: a new permanent link, the old ones withdrawn.
    let card = app.link(json!({"agency": "A", "desk": "MC1"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let manager = app.key(Role::Manager, Some("A")).await;
    let res = app
        .post("/api/v1/agencies/A/desks/MC1/rotate", &manager, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .post(
            "/api/v1/agencies/A/desks/NOPE/rotate",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .post("/api/v1/agencies/A/desks/MC1/rotate", &app.admin, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let new = res.json()["token"].as_str().unwrap().to_string();
    assert_ne!(new, card);
    assert_eq!(
        rate(&app, &card, overall(5), "192.0.2.9").await.status,
        StatusCode::GONE
    );
    assert_eq!(
        rate(&app, &new, overall(5), "192.0.2.9").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn two_app_servers_on_one_database_share_limits_and_bursts() {
    let app = TestApp::spawn().await;
    app.province().await;
    let token = desk_link(&app).await;
    // A second server: its own pool, writer and ledger, on the same database.
    let second = TestApp::spawn_on(TestDb::at(&app.test_db.url)).await;
    // One client alternating between the servers gets five in all, not five on each.
    for i in 0..5 {
        let server = if i % 2 == 0 { &app } else { &second };
        let res = rate(server, &token, overall(5), "203.0.113.200").await;
        assert_eq!(res.status, StatusCode::CREATED, "{i}: {}", res.text);
    }
    assert_eq!(
        rate(&app, &token, overall(5), "203.0.113.200").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        rate(&second, &token, overall(5), "203.0.113.200")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The repeat rule saw the same: the 4th and 5th of that client are held. The burst
    // counter is the link's, whichever server stores: 5 stored so far, 15 more fit in the
    // window, then the rest are held, concurrently on both servers.
    let mut tasks = Vec::new();
    for i in 0..30 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            second.router.clone()
        };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = Request::post("/api/v1/responses")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"token": token, "answers": {"overall": 4}}).to_string(),
                ))
                .unwrap();
            let peer: std::net::IpAddr =
                format!("10.9.{}.{}", i / 200, i % 200 + 1).parse().unwrap();
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(peer, 1)));
            use tower::ServiceExt;
            router.oneshot(req).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let r = report(&app, "A").await;
    assert_eq!(
        (r["responses"].as_u64(), r["held"].as_u64()),
        (Some(18), Some(17))
    );
    assert_eq!(report(&second, "A").await, r);
}

#[tokio::test]
async fn the_review_page_releases_or_excludes_a_whole_burst() {
    use crate::pages::{hidden, request, setup, sign_in};
    let app = setup(None).await;
    let token = desk_link(&app).await;
    for i in 0..24 {
        let res = rate(
            &app,
            &token,
            overall(if i < 20 { 5 } else { 1 }),
            &format!("203.0.113.{i}"),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let (cookie, csrf) = sign_in(&app, "lan").await;
    let dashboard = request(&app, Method::GET, "/dashboard?agency=A", &cookie, None).await;
    assert!(
        dashboard.text.contains("Phiếu chờ xem xét"),
        "{}",
        dashboard.text
    );
    let page = request(&app, Method::GET, "/admin/review", &cookie, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Phiếu chờ xem xét (4)"), "{}", page.text);
    assert!(page.text.contains("A · quầy MC1: 4 phiếu"), "{}", page.text);
    assert!(page.text.contains("dồn dập"));
    let ids = hidden(&page.text, "ids");
    assert_eq!(ids.split(',').count(), 4);
    // A manager sees no review page; a form without the token changes nothing.
    let (manager, manager_csrf) = sign_in(&app, "minh").await;
    let res = request(&app, Method::GET, "/admin/review", &manager, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let before = app.fingerprint().await;
    // Refused forms: each answers with its status as a page and changes nothing.
    for (case, who, body, status) in [
        (
            "manager",
            &manager,
            format!("csrf={manager_csrf}&ids={ids}&action=release"),
            403,
        ),
        (
            "wrong token",
            &cookie,
            format!("csrf=wrong&ids={ids}&action=release"),
            403,
        ),
        (
            "no reason",
            &cookie,
            format!("csrf={csrf}&ids={ids}&action=exclude&reason="),
            422,
        ),
        (
            "bad ids",
            &cookie,
            format!("csrf={csrf}&ids=1,x&action=release"),
            422,
        ),
        (
            "no ids",
            &cookie,
            format!("csrf={csrf}&ids=&action=release"),
            422,
        ),
        (
            "unknown id",
            &cookie,
            format!("csrf={csrf}&ids=999999&action=release"),
            422,
        ),
        (
            "bad action",
            &cookie,
            format!("csrf={csrf}&ids={ids}&action=delete"),
            422,
        ),
    ] {
        let res = request(&app, Method::POST, "/admin/review", who, Some(body)).await;
        assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
        assert_eq!(app.fingerprint().await, before, "{case}");
    }
    let body = format!(
        "csrf={csrf}&ids={ids}&action=exclude&reason=nh%C3%A2n+vi%C3%AAn+t%E1%BB%B1+%C4%91%C3%A1nh+gi%C3%A1"
    );
    let res = request(&app, Method::POST, "/admin/review", &cookie, Some(body)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let r = report(&app, "A").await;
    assert_eq!(
        (r["held"].as_u64(), r["excluded"].as_u64()),
        (Some(0), Some(4))
    );
    let page = request(&app, Method::GET, "/admin/review", &cookie, None).await;
    assert!(page.text.contains("Không có phiếu nào đang chờ xem xét"));

    // The rotate button withdraws the old code and opens the new card.
    let res = request(
        &app,
        Method::POST,
        "/admin/agencies/A/desks/MC1/rotate",
        &cookie,
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let to = res.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.ends_with("/card"), "{to}");
    assert_eq!(
        request(&app, Method::GET, &to, "", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        rate(&app, &token, overall(5), "192.0.2.77").await.status,
        StatusCode::GONE
    );
}
