//! The annual ranking, freezing, late responses and verification.

use axum::http::{Method, StatusCode, header};
use hailong::domain::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

/// One generated rating: agency, RFC 3339 instant, overall, staff, result (0 = unanswered).
type Rating = (&'static str, String, i64, i64, i64);

/// KH with A, B (with B1) and C; ratings over 2025 with a different bias per agency, C
/// with too few to rank, and a few at the edges of the year.
fn ratings(seed: u64, count: usize) -> Vec<Rating> {
    let mut seed = seed;
    let mut next = move |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut out: Vec<Rating> = (0..count)
        .map(|_| {
            let agency = ["A", "B", "B1", "A", "B"][next(5) as usize];
            let bias = match agency {
                "A" => 2,
                "B" => 1,
                _ => 0,
            };
            let day = start + chrono::TimeDelta::days(next(365) as i64);
            let answer = |n: u64| (1 + n as i64 + bias).min(5);
            let overall = answer(next(5));
            let staff = if next(2) == 0 { answer(next(5)) } else { 0 };
            let result = if next(3) == 0 { answer(next(5)) } else { 0 };
            (
                agency,
                format!("{day}T10:00:00+07:00"),
                overall,
                staff,
                result,
            )
        })
        .collect();
    for (i, v) in [5, 4, 1, 5, 2].into_iter().enumerate() {
        out.push(("C", format!("2025-03-0{}T09:00:00+07:00", i + 1), v, 0, 0));
    }
    // 23:30 on 31 December belongs to 2025; 00:30 on 1 January to 2026.
    out.push(("A", "2025-12-31T23:30:00+07:00".into(), 1, 0, 0));
    out.push(("B", "2026-01-01T00:30:00+07:00".into(), 1, 0, 0));
    out.push(("B", "2024-12-31T23:59:00+07:00".into(), 1, 0, 0));
    out
}

fn to_import(ratings: &[Rating]) -> Value {
    let rows: Vec<Value> = ratings
        .iter()
        .map(|(agency, at, overall, staff, result)| {
            let mut answers = json!({"overall": overall});
            if *staff > 0 {
                answers["staff"] = json!(staff);
            }
            if *result > 0 {
                answers["result"] = json!(result);
            }
            json!({"agency": agency, "submitted_at": at, "answers": answers, "channel": "paper"})
        })
        .collect();
    json!({ "responses": rows })
}

async fn import(app: &TestApp, ratings: &[Rating]) {
    let res = app
        .post("/api/v1/responses/import", &app.admin, to_import(ratings))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn setup(app: &TestApp, ratings: &[Rating]) {
    app.province().await;
    app.agency("B1", Some("B")).await;
    app.agency("C", Some("KH")).await;
    import(app, ratings).await;
}

/// The figures of one agency's ratings, computed here without the score module.
struct Naive {
    code: &'static str,
    n: u64,
    pct: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
    mean: Option<f64>,
    index: Option<f64>,
}

fn naive(code: &'static str, ratings: &[&Rating]) -> Naive {
    let n = ratings.len() as u64;
    let share = |values: &[i64]| -> Option<f64> {
        (!values.is_empty()).then(|| {
            100.0 * values.iter().filter(|v| **v >= 4).count() as f64 / values.len() as f64
        })
    };
    let overall: Vec<i64> = ratings.iter().map(|r| r.2).collect();
    let pct = share(&overall);
    let (lo, hi) = match pct {
        Some(p) => {
            let (p, nf, z) = (p / 100.0, n as f64, 1.959964_f64);
            let centre = (p + z * z / (2.0 * nf)) / (1.0 + z * z / nf);
            let half =
                z / (1.0 + z * z / nf) * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt();
            (Some(100.0 * (centre - half)), Some(100.0 * (centre + half)))
        }
        None => (None, None),
    };
    let staff: Vec<i64> = ratings.iter().map(|r| r.3).filter(|v| *v > 0).collect();
    let result: Vec<i64> = ratings.iter().map(|r| r.4).filter(|v| *v > 0).collect();
    let elements: Vec<f64> = [share(&staff), share(&result)]
        .into_iter()
        .flatten()
        .collect();
    let index = if elements.is_empty() {
        pct
    } else {
        Some(elements.iter().sum::<f64>() / elements.len() as f64)
    };
    let mean = (n > 0).then(|| overall.iter().sum::<i64>() as f64 / n as f64);
    Naive {
        code,
        n,
        pct,
        lo,
        hi,
        mean,
        index,
    }
}

fn close(a: &Value, b: Option<f64>, what: &str) {
    match (a.as_f64(), b) {
        (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{what}: {x} vs {y}"),
        (None, None) => assert!(a.is_null(), "{what}"),
        (x, y) => panic!("{what}: {x:?} vs {y:?}"),
    }
}

fn in_2025(r: &Rating) -> bool {
    let at = chrono::DateTime::parse_from_rfc3339(&r.1).unwrap();
    let local = at.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    chrono::Datelike::year(&local) == 2025
}

/// The expected ranking of KH's children in 2025, in order, with `min` responses to rank.
fn expected(ratings: &[Rating], min: u64) -> Vec<(Naive, Option<u32>, &'static str)> {
    let units: [(&'static str, &[&str]); 3] = [("A", &["A"]), ("B", &["B", "B1"]), ("C", &["C"])];
    let mut all: Vec<Naive> = units
        .iter()
        .map(|(code, members)| {
            let rows: Vec<&Rating> = ratings
                .iter()
                .filter(|r| members.contains(&r.0) && in_2025(r))
                .collect();
            naive(code, &rows)
        })
        .collect();
    all.sort_by(|a, b| {
        let enough = |x: &Naive| x.n >= min;
        enough(b)
            .cmp(&enough(a))
            .then_with(|| {
                if enough(a) && enough(b) {
                    b.pct
                        .partial_cmp(&a.pct)
                        .unwrap()
                        .then(b.lo.partial_cmp(&a.lo).unwrap())
                        .then(b.n.cmp(&a.n))
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then(a.code.cmp(b.code))
    });
    let mut rank = 0;
    all.into_iter()
        .map(|x| {
            if x.n >= min {
                rank += 1;
                let p = x.pct.unwrap();
                let band = if p >= 90.0 {
                    "outstanding"
                } else if p >= 70.0 {
                    "good"
                } else if p >= 50.0 {
                    "completed"
                } else {
                    "not_completed"
                };
                (x, Some(rank), band)
            } else {
                (x, None, "insufficient_data")
            }
        })
        .collect()
}

fn check_rows(report: &Value, ratings: &[Rating], min: u64) {
    let rows = report["rows"].as_array().unwrap();
    let want = expected(ratings, min);
    assert_eq!(rows.len(), want.len());
    for (row, (x, rank, band)) in rows.iter().zip(&want) {
        let what = x.code;
        assert_eq!(row["agency"], x.code, "order");
        assert_eq!(row["name"], format!("Cơ quan {}", x.code));
        assert_eq!(row["responses"], x.n, "{what}");
        assert_eq!(row["rank"], json!(rank), "{what}");
        assert_eq!(row["band"], *band, "{what}");
        close(&row["satisfaction_pct"], x.pct, what);
        close(&row["ci95"][0], x.lo, what);
        close(&row["ci95"][1], x.hi, what);
        close(&row["mean"], x.mean, what);
        close(&row["index"], x.index, what);
    }
}

#[tokio::test]
async fn the_ranking_agrees_with_a_naive_recomputation() {
    let app = TestApp::spawn_with(|c| c.min_responses = 20).await;
    let ratings = ratings(0xa11, 300);
    setup(&app, &ratings).await;
    let res = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let report = res.json();
    assert_eq!(report["year"], 2025);
    assert_eq!(report["method"], 1);
    assert_eq!(report["min_responses"], 20);
    assert_eq!(report["frozen"], false);
    assert!(report["digest"].is_null());
    assert_eq!(report["parent"], "KH");
    check_rows(&report, &ratings, 20);
    let counted: u64 = report["band_counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3);
    assert_eq!(report["band_counts"]["insufficient_data"]["count"], 1);
    assert!(report["band_counts"]["good"]["previous"].is_null());

    // Without a parent: the top-level agencies (KH alone, over everything).
    let top = app
        .get("/api/v1/reports/annual/2025", &app.admin)
        .await
        .json();
    let rows = top["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["agency"], "KH");
    assert_eq!(
        rows[0]["responses"],
        ratings.iter().filter(|r| in_2025(r)).count()
    );
    assert_eq!(rows[0]["units"], json!(["A", "B", "B1", "C", "KH"]));

    // HAILONG_MIN_RESPONSES is the default; a year's own setting wins.
    let res = app
        .call(
            Method::PUT,
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"min_responses": 5, "outstanding": 95})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["bands"]["outstanding"], 95.0);
    let report = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await
        .json();
    assert_eq!(report["min_responses"], 5);
    let c = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency"] == "C")
        .unwrap()
        .clone();
    assert!(c["rank"].is_number(), "C has 5 responses: ranked now");
    assert_eq!(report["bands"]["outstanding"], 95.0);
}

#[tokio::test]
async fn freezing_keeps_the_figures_and_counts_late_responses() {
    let app = TestApp::spawn_with(|c| c.min_responses = 20).await;
    let ratings = ratings(0xf2, 200);
    setup(&app, &ratings).await;
    let path = "/api/v1/reports/annual/2025?parent=KH";
    let live = app.get(path, &app.admin).await.json();

    let res = app
        .post(
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let frozen = res.json();
    assert_eq!(frozen["frozen"], true);
    assert!(frozen["frozen_at"].is_string());
    assert_eq!(frozen["late_responses"], 0);
    let digest = frozen["digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64);
    assert!(
        digest
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(frozen["rows"], live["rows"]);
    check_rows(&frozen, &ratings, 20);

    // The digest is the SHA-256 of the published canonical text.
    let res = app
        .get(
            "/api/v1/reports/annual/2025/canonical?parent=KH",
            &app.admin,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(hex::encode(Sha256::digest(res.text.as_bytes())), digest);
    let doc: Value = serde_json::from_str(&res.text).unwrap();
    assert_eq!(doc["year"], 2025);
    assert_eq!(doc["timezone"], "Asia/Ho_Chi_Minh");

    // Freezing twice, and freezing a year that has not ended: 409, nothing changes.
    let before = app.fingerprint().await;
    let res = app
        .post(
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    app.assert_rejected("twice", &res, 409, "already_frozen", &before)
        .await;
    let res = app
        .post(
            "/api/v1/reports/annual/2026/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    app.assert_rejected("this year", &res, 409, "year_not_ended", &before)
        .await;

    // Late paper forms and an exclusion after the freeze change nothing frozen.
    let late: Vec<Rating> = vec![
        ("A", "2025-06-01T10:00:00+07:00".into(), 1, 0, 0),
        ("B1", "2025-07-01T10:00:00+07:00".into(), 1, 0, 0),
        ("C", "2025-08-01T10:00:00+07:00".into(), 1, 0, 0),
        ("A", "2026-02-01T10:00:00+07:00".into(), 1, 0, 0),
    ];
    import(&app, &late).await;
    let listed = app
        .get(
            "/api/v1/responses?agency=KH&from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json();
    let responses = listed["responses"].as_array().unwrap();
    let first = responses[0]["id"].as_i64().unwrap();
    let last_late = responses
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .max()
        .unwrap();
    for id in [first, last_late] {
        app.exclude(id, "phiếu thử").await;
    }
    let after = app.get(path, &app.admin).await.json();
    assert_eq!(after["frozen"], true);
    assert_eq!(after["digest"], digest);
    assert_eq!(after["rows"], frozen["rows"]);
    // Three late responses of 2025, one of them excluded since.
    assert_eq!(after["late_responses"], 2);

    let res = app
        .get("/api/v1/reports/annual/2025/verify?parent=KH", &app.admin)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"ok": true, "digest": digest, "recomputed": digest})
    );
    // The live roll-ups have moved on meanwhile.
    let agency = app
        .get(
            "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json();
    assert_eq!(
        agency["responses"].as_u64().unwrap(),
        ratings.iter().filter(|r| in_2025(r)).count() as u64 + 3 - 2
    );
}

#[tokio::test]
async fn an_answer_changed_behind_the_application_fails_verification() {
    let app = TestApp::spawn_with(|c| c.min_responses = 20).await;
    let ratings = ratings(0x7a, 120);
    setup(&app, &ratings).await;
    let res = app
        .post(
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let digest = res.json()["digest"].as_str().unwrap().to_string();
    let verify = "/api/v1/reports/annual/2025/verify?parent=KH";
    assert_eq!(app.get(verify, &app.admin).await.json()["ok"], true);

    // A satisfied overall answer becomes a 1, straight in the database.
    let id = app
        .get(
            "/api/v1/responses?agency=A&from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json()["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["answers"]["overall"].as_i64().unwrap() >= 4)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    app.db
        .write
        .execute_unprepared(&format!(
            "UPDATE answers SET value = 1 WHERE response_id = {id} AND question_key = 'overall'"
        ))
        .await
        .unwrap();
    let res = app.get(verify, &app.admin).await.json();
    assert_eq!(res["ok"], false);
    assert_eq!(res["digest"], digest);
    assert_ne!(res["recomputed"], digest);
    // The frozen report itself still shows what was frozen.
    assert_eq!(
        app.get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
            .await
            .json()["digest"],
        digest
    );

    // Put the answer back: verified again. Then edit the stored report's figures instead.
    app.db
        .write
        .execute_unprepared(&format!(
            "UPDATE answers SET value = 5 WHERE response_id = {id} AND question_key = 'overall'"
        ))
        .await
        .unwrap();
    assert_eq!(app.get(verify, &app.admin).await.json()["ok"], true);
    app.db
        .write
        .execute_unprepared(
            "UPDATE annual_reports SET body = REPLACE(body, '\"rank\":1', '\"rank\":9')",
        )
        .await
        .unwrap();
    assert_eq!(app.get(verify, &app.admin).await.json()["ok"], false);
}

#[tokio::test]
async fn band_counts_compare_with_the_previous_frozen_year() {
    let app = TestApp::spawn_with(|c| c.min_responses = 1).await;
    app.province().await;
    app.agency("C", Some("KH")).await;
    // 2024: A good (3 of 4 satisfied), B and C outstanding. 2025: all outstanding.
    let mut rows: Vec<Rating> = Vec::new();
    for (agency, values) in [
        ("A", [5, 5, 5, 1]),
        ("B", [5, 5, 5, 5]),
        ("C", [4, 4, 4, 4]),
    ] {
        for v in values {
            rows.push((agency, "2024-05-01T10:00:00+07:00".into(), v, 0, 0));
            rows.push((agency, "2025-05-01T10:00:00+07:00".into(), 5, 0, 0));
        }
    }
    import(&app, &rows).await;
    let res = app
        .post(
            "/api/v1/reports/annual/2024/freeze?parent=KH",
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["band_counts"]["outstanding"]["count"], 2);
    let report = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await
        .json();
    assert_eq!(
        report["band_counts"]["outstanding"],
        json!({"count": 3, "previous": 2, "change": 1})
    );
    assert_eq!(
        report["band_counts"]["good"],
        json!({"count": 0, "previous": 1, "change": -1})
    );
    // Another parent's frozen year is not this one's previous year.
    let other = app
        .get("/api/v1/reports/annual/2025", &app.admin)
        .await
        .json();
    assert!(other["band_counts"]["outstanding"]["previous"].is_null());

    // Settings changed after a freeze leave the frozen report alone.
    let res = app
        .call(
            Method::PUT,
            "/api/v1/reports/annual/2024/settings",
            Some(&app.admin),
            Some(json!({"good": 80, "outstanding": 100})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let frozen = app
        .get("/api/v1/reports/annual/2024?parent=KH", &app.admin)
        .await
        .json();
    assert_eq!(frozen["bands"]["outstanding"], 90.0);
    assert_eq!(frozen["band_counts"]["outstanding"]["count"], 2);
}

/// A bad request: what, method, path, key, body, status, code.
type Case<'a> = (
    &'a str,
    Method,
    &'a str,
    Option<&'a str>,
    Option<Value>,
    u16,
    &'a str,
);

#[tokio::test]
async fn annual_reports_check_scope_and_input() {
    let app = TestApp::spawn().await;
    app.province().await;
    let manager_a = app.key(Role::Manager, Some("A")).await;
    let viewer_kh = app.key(Role::Viewer, Some("KH")).await;
    let integrator = app.key(Role::Integrator, Some("KH")).await;
    // In scope: a manager ranks the children of its own agency; a viewer of KH, KH's.
    for (key, parent) in [(&manager_a, "A"), (&viewer_kh, "KH"), (&integrator, "KH")] {
        let res = app
            .get(&format!("/api/v1/reports/annual/2025?parent={parent}"), key)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let before = app.fingerprint().await;
    let get = Method::GET;
    let post = Method::POST;
    let put = Method::PUT;
    let cases: Vec<Case> = vec![
        (
            "outside scope",
            get.clone(),
            "/api/v1/reports/annual/2025?parent=KH",
            Some(&manager_a),
            None,
            403,
            "forbidden",
        ),
        (
            "top level, scoped",
            get.clone(),
            "/api/v1/reports/annual/2025",
            Some(&viewer_kh),
            None,
            403,
            "forbidden",
        ),
        (
            "no key",
            get.clone(),
            "/api/v1/reports/annual/2025?parent=KH",
            None,
            None,
            401,
            "unauthorized",
        ),
        (
            "unknown parent",
            get.clone(),
            "/api/v1/reports/annual/2025?parent=ZZ",
            Some(&app.admin),
            None,
            404,
            "agency_not_found",
        ),
        (
            "year not a number",
            get.clone(),
            "/api/v1/reports/annual/abcd?parent=KH",
            Some(&app.admin),
            None,
            422,
            "invalid_year",
        ),
        (
            "year too early",
            get.clone(),
            "/api/v1/reports/annual/1999?parent=KH",
            Some(&app.admin),
            None,
            422,
            "invalid_year",
        ),
        (
            "year in the future",
            get.clone(),
            "/api/v1/reports/annual/2100?parent=KH",
            Some(&app.admin),
            None,
            422,
            "invalid_year",
        ),
        (
            "bad format",
            get.clone(),
            "/api/v1/reports/annual/2025?parent=KH&format=pdf",
            Some(&app.admin),
            None,
            422,
            "invalid_format",
        ),
        (
            "repeated parent",
            get.clone(),
            "/api/v1/reports/annual/2025?parent=KH&parent=A",
            Some(&app.admin),
            None,
            422,
            "invalid_query",
        ),
        (
            "verify before freezing",
            get.clone(),
            "/api/v1/reports/annual/2025/verify?parent=KH",
            Some(&app.admin),
            None,
            404,
            "report_not_frozen",
        ),
        (
            "canonical before freezing",
            get.clone(),
            "/api/v1/reports/annual/2025/canonical?parent=KH",
            Some(&app.admin),
            None,
            404,
            "report_not_frozen",
        ),
        (
            "freeze by a viewer",
            post.clone(),
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            Some(&viewer_kh),
            Some(json!({})),
            403,
            "forbidden",
        ),
        (
            "freeze, unknown parent",
            post.clone(),
            "/api/v1/reports/annual/2025/freeze?parent=ZZ",
            Some(&app.admin),
            Some(json!({})),
            404,
            "agency_not_found",
        ),
        (
            "freeze, bad year",
            post.clone(),
            "/api/v1/reports/annual/1999/freeze?parent=KH",
            Some(&app.admin),
            Some(json!({})),
            422,
            "invalid_year",
        ),
        (
            "freeze this year",
            post.clone(),
            "/api/v1/reports/annual/2026/freeze",
            Some(&app.admin),
            Some(json!({})),
            409,
            "year_not_ended",
        ),
        (
            "settings by a manager",
            put.clone(),
            "/api/v1/reports/annual/2025/settings",
            Some(&manager_a),
            Some(json!({"good": 60})),
            403,
            "forbidden",
        ),
        (
            "bands out of order",
            put.clone(),
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"good": 95})),
            422,
            "invalid_bands",
        ),
        (
            "band over 100",
            put.clone(),
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"outstanding": 101})),
            422,
            "invalid_bands",
        ),
        (
            "settings, unknown field",
            put.clone(),
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"great": 80})),
            422,
            "invalid_body",
        ),
        (
            "settings, minimum too large",
            put.clone(),
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"min_responses": 3_000_000_000u64})),
            422,
            "invalid_min_responses",
        ),
        (
            "settings, year far ahead",
            put.clone(),
            "/api/v1/reports/annual/2100/settings",
            Some(&app.admin),
            Some(json!({"good": 75})),
            422,
            "invalid_year",
        ),
        (
            "settings read, bad year",
            get.clone(),
            "/api/v1/reports/annual/19x9/settings",
            Some(&viewer_kh),
            None,
            422,
            "invalid_year",
        ),
        (
            "settings, negative minimum",
            put,
            "/api/v1/reports/annual/2025/settings",
            Some(&app.admin),
            Some(json!({"min_responses": -1})),
            422,
            "invalid_body",
        ),
    ];
    for (case, method, path, key, body, status, code) in cases {
        let res = app.call(method, path, key, body).await;
        app.assert_rejected(case, &res, status, code, &before).await;
    }
}

#[tokio::test]
async fn reports_export_as_csv_and_xlsx() {
    let app = TestApp::spawn_with(|c| c.min_responses = 20).await;
    let ratings = ratings(0xc5, 150);
    setup(&app, &ratings).await;
    let json = app
        .get(
            "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json();
    let res = app
        .get(
            "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31&format=csv",
            &app.admin,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("bao-cao-KH-2025-01-01-2025-12-31.csv")
    );
    assert!(res.text.starts_with('\u{feff}'), "byte-order mark");
    let mut reader = csv::Reader::from_reader(res.text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let field = |rec: &csv::StringRecord, key: &str| -> String {
        let i = headers
            .iter()
            .position(|h| h == key)
            .unwrap_or_else(|| panic!("{key}"));
        rec[i].to_string()
    };
    // The total row, then one per child (A, B, C), with the same unrounded figures.
    assert_eq!(records.len(), 4);
    assert_eq!(field(&records[0], "row"), "total");
    assert_eq!(field(&records[0], "name"), "Cơ quan KH");
    assert_eq!(
        field(&records[0], "responses"),
        json["responses"].to_string()
    );
    for key in ["satisfaction_pct", "mean", "index"] {
        let v: f64 = field(&records[0], key).parse().unwrap();
        assert_eq!(v, json[key].as_f64().unwrap(), "{key}");
    }
    let lo: f64 = field(&records[0], "ci95_lo").parse().unwrap();
    assert_eq!(lo, json["ci95"][0].as_f64().unwrap());
    let staff_n = field(&records[0], "staff_n");
    assert_eq!(staff_n, json["elements"]["staff"]["n"].to_string());
    assert_eq!(field(&records[0], "access_satisfaction_pct"), "");
    assert_eq!(field(&records[2], "agency"), "B");
    assert_eq!(
        field(&records[2], "responses"),
        json["children"][1]["responses"].to_string()
    );

    let annual = app
        .get(
            "/api/v1/reports/annual/2025?parent=KH&format=csv",
            &app.admin,
        )
        .await;
    assert_eq!(annual.status, StatusCode::OK);
    let json = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await
        .json();
    let mut reader =
        csv::Reader::from_reader(annual.text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "rank");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 3);
    for (rec, row) in records.iter().zip(json["rows"].as_array().unwrap()) {
        assert_eq!(&rec[1], row["agency"].as_str().unwrap());
        assert_eq!(
            rec[0],
            row["rank"]
                .as_u64()
                .map(|r| r.to_string())
                .unwrap_or_default()
        );
        let band_name = &rec[headers.iter().position(|h| h == "band_name").unwrap()];
        assert!(
            [
                "Hoàn thành xuất sắc",
                "Hoàn thành tốt",
                "Hoàn thành",
                "Không hoàn thành",
                "Chưa đủ dữ liệu"
            ]
            .contains(&band_name)
        );
    }

    for path in [
        "/api/v1/reports/agencies/KH?format=xlsx",
        "/api/v1/reports/annual/2025?parent=KH&format=xlsx",
    ] {
        let res = app
            .send(
                axum::http::Request::get(path)
                    .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(
            res.headers[header::CONTENT_TYPE],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        // The Vietnamese labels and names survive.
        let sheet = crate::helpers::xlsx_text(&res.bytes);
        for text in ["Tên đơn vị", "Cơ quan A", "Tỷ lệ hài lòng (%)"] {
            assert!(sheet.contains(text), "{path}: {text}");
        }
    }
}

#[tokio::test]
async fn a_recount_in_parts_adds_up_to_the_recount_in_one() {
    use hailong::report::annual::raw_tallies_in;
    let app = crate::pages::setup(None).await;
    let rows: Vec<Value> = (0..37)
        .map(|i| {
            json!({"agency": if i % 3 == 0 { "A" } else { "B" },
                   "submitted_at": format!("2025-{:02}-1{}", 1 + i % 12, i % 9),
                   "answers": {"overall": 1 + i % 5, "staff": 1 + (i * 7) % 5}})
        })
        .collect();
    app.import(rows).await;
    app.exclude(app.ids_of_year(2025).await[5], "thử").await;
    let units: Vec<i64> = (1..=20).collect();
    let tz = app.state.config.timezone;
    let within = (2025, i64::MAX, hailong::now());
    let one = raw_tallies_in(&app.db.read, tz, within, &units, 1)
        .await
        .unwrap();
    let total: u64 = one
        .values()
        .map(|t| t.overall().0.iter().sum::<u64>())
        .sum();
    // The 37 above and the setup's 3 of 2025, but the excluded one.
    assert_eq!(total, 37 + 3 - 1);
    for parts in [0, 2, 4, 7, 100] {
        let split = raw_tallies_in(&app.db.read, tz, within, &units, parts)
            .await
            .unwrap();
        assert_eq!(split, one, "{parts} parts");
    }
}

#[tokio::test]
async fn each_agencys_standing_is_its_row_of_the_ranking() {
    use hailong::report::annual;
    let app = crate::pages::setup(None).await;
    for code in ["C", "D", "E"] {
        app.agency(code, Some("KH")).await;
    }
    // Ties on the share, different intervals and counts, and one under the minimum.
    let mut rows = Vec::new();
    for (agency, values) in [
        ("A", vec![5, 5, 1, 4]),
        ("B", vec![5, 4, 2, 2, 5, 5]),
        ("C", vec![5, 1]),
        ("D", vec![4]),
        ("E", vec![5, 5, 4, 3, 3, 1, 2, 4]),
    ] {
        for v in values {
            rows.push(json!({"agency": agency, "submitted_at": "2025-03-03",
                             "answers": {"overall": v, "staff": 6 - v}}));
        }
    }
    app.import(rows).await;
    let by = hailong::govern::Principal::cli();
    let cx = hailong::app::Context::new(&app.db, &by, &app.state.config);
    let year = hailong::domain::Year::stored(2025);
    let cx = &cx;
    let check = |ranking: annual::AnnualReport| async move {
        for row in &ranking.rows {
            let code = hailong::org::code_of(&row.agency).unwrap();
            let standing = annual::standing(cx, year, &code).await.unwrap();
            assert_eq!(standing.rank, row.rank, "{}", row.agency);
            assert_eq!(standing.band, row.band, "{}", row.agency);
            assert_eq!(standing.of, ranking.rows.len());
            assert_eq!(standing.min_responses, ranking.min_responses);
        }
    };
    let kh = hailong::org::code_of("KH").unwrap();
    let live = annual::ranking(cx, year, Some(&kh)).await.unwrap();
    assert!(live.rows.iter().filter(|r| r.rank.is_some()).count() >= 3);
    check(live).await;
    // And once frozen, from the frozen document.
    app.freeze(2025, "KH").await;
    check(annual::ranking(cx, year, Some(&kh)).await.unwrap()).await;
}
