//! Agency reports against an independent recomputation from the raw rows.

use axum::http::{Method, StatusCode};
use hailong::domain::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// One generated rating: agency, local date, overall, staff (0 = unanswered).
type Row = (&'static str, String, i64, i64);

/// A deterministic spread of ratings over A, B and B.1 from mid-2025 to late 2026.
fn rows() -> Vec<Row> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let start = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    (0..600)
        .map(|_| {
            let agency = ["A", "B", "B1"][next(3) as usize];
            let day = start + chrono::TimeDelta::days(next(520) as i64);
            (agency, day.to_string(), 1 + next(5) as i64, next(6) as i64)
        })
        .collect()
}

fn naive(rows: &[&Row]) -> (u64, Option<f64>, Option<f64>, Option<f64>) {
    let n = rows.len() as u64;
    if n == 0 {
        return (0, None, None, None);
    }
    let sat = rows.iter().filter(|r| r.2 >= 4).count() as f64;
    let mean = rows.iter().map(|r| r.2 as f64).sum::<f64>() / n as f64;
    let staff: Vec<i64> = rows.iter().map(|r| r.3).filter(|s| *s > 0).collect();
    let index = if staff.is_empty() {
        Some(100.0 * sat / n as f64)
    } else {
        Some(100.0 * staff.iter().filter(|s| **s >= 4).count() as f64 / staff.len() as f64)
    };
    (n, Some(100.0 * sat / n as f64), Some(mean), index)
}

fn close(a: &Value, b: Option<f64>, what: &str) {
    match (a.as_f64(), b) {
        (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{what}: {x} vs {y}"),
        (None, None) => assert!(a.is_null(), "{what}"),
        (x, y) => panic!("{what}: {x:?} vs {y:?}"),
    }
}

async fn setup(app: &TestApp) -> Vec<Row> {
    app.province().await;
    app.agency("B1", Some("B")).await;
    let rows = rows();
    let body: Vec<Value> = rows
        .iter()
        .map(|(agency, day, overall, staff)| {
            let mut answers = json!({"overall": overall});
            if *staff > 0 {
                answers["staff"] = json!(staff);
            }
            json!({"agency": agency, "submitted_at": format!("{day}T23:30:00+07:00"), "answers": answers})
        })
        .collect();
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({ "responses": body }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    rows
}

#[tokio::test]
async fn reports_agree_with_a_naive_recomputation() {
    let app = TestApp::spawn().await;
    let rows = setup(&app).await;
    // Whole years, months and single days at both ends.
    for (from, to) in [
        ("2025-01-01", "2026-12-31"),
        ("2025-06-17", "2026-03-04"),
        ("2026-02-01", "2026-02-28"),
        ("2025-12-31", "2025-12-31"),
        ("2027-01-01", "2027-01-31"),
    ] {
        let res = app
            .get(
                &format!("/api/v1/reports/agencies/KH?from={from}&to={to}"),
                &app.admin,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let report = res.json();
        let within = |agencies: &[&str]| -> Vec<&Row> {
            rows.iter()
                .filter(|r| agencies.contains(&r.0) && r.1.as_str() >= from && r.1.as_str() <= to)
                .collect()
        };
        let all = within(&["A", "B", "B1"]);
        let (n, pct, mean, index) = naive(&all);
        assert_eq!(report["agency"], "KH");
        assert_eq!(report["from"], from);
        assert_eq!(report["to"], to);
        assert_eq!(report["method"], 1);
        assert_eq!(report["responses"], n, "{from}..{to}");
        assert_eq!(report["excluded"], 0);
        close(&report["satisfaction_pct"], pct, "pct");
        close(&report["mean"], mean, "mean");
        close(&report["index"], index, "index");
        let dist: u64 = (1..=5)
            .map(|v| report["distribution"][v.to_string()].as_u64().unwrap())
            .sum();
        assert_eq!(dist, n);
        if n > 0 {
            let ci = report["ci95"].as_array().unwrap();
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            assert!(0.0 <= lo && lo <= pct.unwrap() && pct.unwrap() <= hi && hi <= 100.0);
        } else {
            assert!(report["ci95"].is_null());
        }
        let staff: Vec<&Row> = all.iter().copied().filter(|r| r.3 > 0).collect();
        assert_eq!(report["elements"]["staff"]["n"], staff.len());
        assert_eq!(report["elements"]["access"]["n"], 0);
        assert!(report["elements"]["access"]["satisfaction_pct"].is_null());
        // Children: A, and B with its own child B1.
        let children = report["children"].as_array().unwrap();
        let codes: Vec<&str> = children
            .iter()
            .map(|c| c["agency"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["A", "B"]);
        let b = naive(&within(&["B", "B1"]));
        assert_eq!(children[1]["responses"], b.0);
        close(&children[1]["satisfaction_pct"], b.1, "B pct");
        close(&children[1]["index"], b.3, "B index");
    }
}

#[tokio::test]
async fn excluded_responses_leave_the_figures() {
    let app = TestApp::spawn().await;
    app.province().await;
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({"responses": [
                {"agency": "A", "submitted_at": "2026-03-01", "answers": {"overall": 1}},
                {"agency": "A", "submitted_at": "2026-03-01", "answers": {"overall": 5}},
            ]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let path = "/api/v1/reports/agencies/A?from=2026-01-01&to=2026-12-31";
    assert_eq!(
        app.get(path, &app.admin).await.json()["satisfaction_pct"],
        50.0
    );
    let id = app
        .get("/api/v1/responses?agency=A", &app.admin)
        .await
        .json()["responses"][0]["id"]
        .as_i64()
        .unwrap();
    app.exclude(id, "thử nghiệm").await;
    for path in [
        path,
        "/api/v1/reports/agencies/A?from=2026-03-01&to=2026-03-31",
        "/api/v1/reports/agencies/A?from=2026-02-15&to=2026-03-01",
    ] {
        let report = app.get(path, &app.admin).await.json();
        assert_eq!(report["responses"], 1, "{path}");
        assert_eq!(report["excluded"], 1, "{path}");
        assert_eq!(report["satisfaction_pct"], 100.0, "{path}");
    }
}

#[tokio::test]
async fn reports_check_scope_and_input() {
    let app = TestApp::spawn().await;
    app.province().await;
    let manager_a = app.key(Role::Manager, Some("A")).await;
    let integrator = app.key(Role::Integrator, Some("KH")).await;
    let res = app.get("/api/v1/reports/agencies/A", &manager_a).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.json()["satisfaction_pct"].is_null());
    assert_eq!(res.json()["responses"], 0);
    assert_eq!(
        app.get("/api/v1/reports/agencies/KH", &integrator)
            .await
            .status,
        StatusCode::OK
    );
    let cases: Vec<(&str, &str, Option<&str>, u16, &str)> = vec![
        (
            "outside scope",
            "/api/v1/reports/agencies/B",
            Some(&manager_a),
            403,
            "forbidden",
        ),
        (
            "parent of scope",
            "/api/v1/reports/agencies/KH",
            Some(&manager_a),
            403,
            "forbidden",
        ),
        (
            "no key",
            "/api/v1/reports/agencies/A",
            None,
            401,
            "unauthorized",
        ),
        (
            "unknown agency",
            "/api/v1/reports/agencies/ZZ",
            Some(&app.admin),
            404,
            "agency_not_found",
        ),
        (
            "malformed date",
            "/api/v1/reports/agencies/A?from=2026-02-30",
            Some(&app.admin),
            422,
            "invalid_date",
        ),
        (
            "from after to",
            "/api/v1/reports/agencies/A?from=2026-03-01&to=2026-02-01",
            Some(&app.admin),
            422,
            "invalid_period",
        ),
        (
            "over ten years",
            "/api/v1/reports/agencies/A?from=2010-01-01&to=2026-01-01",
            Some(&app.admin),
            422,
            "period_too_long",
        ),
        (
            "bad format",
            "/api/v1/reports/agencies/A?format=pdf",
            Some(&app.admin),
            422,
            "invalid_format",
        ),
    ];
    for (case, path, key, status, code) in cases {
        let res = app.call(Method::GET, path, key, None).await;
        assert_eq!(res.status.as_u16(), status, "{case}: {}", res.text);
        assert_eq!(res.error_code(), code, "{case}");
    }
}

#[tokio::test]
async fn a_slice_counts_the_raw_ratings_by_the_roll_ups_rules() {
    use hailong::collect::store::Channel;
    use hailong::report::slice::{self, Slice};
    let app = crate::pages::setup(None).await;
    let channels = ["qr", "kiosk", "paper", "web", "api"];
    let rows: Vec<serde_json::Value> = (0..53)
        .map(|i| {
            json!({"agency": if i % 4 == 0 { "B" } else { "A" },
                   "submitted_at": format!("2025-0{}-0{}", 1 + i % 9, 1 + i % 7),
                   "channel": channels[i % 5], "desk": if i % 3 == 0 { "MC1" } else { "" },
                   "answers": {"overall": 1 + i % 5, "access": 1 + (i * 3) % 5}})
        })
        .filter(|r| r["agency"] == "A" || r["desk"] == "")
        .collect();
    app.import(rows).await;
    let listed = app.ids_of_year(2025).await;
    for k in [3, 10] {
        app.exclude(listed[k], "thử").await;
    }
    let ids: Vec<i64> = (1..=10).collect();
    let (from, to) = (
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    );
    let tz = app.state.config.timezone;
    let span = (
        hailong::domain::period::start_of(tz, from),
        hailong::domain::period::start_of(tz, to + chrono::Days::new(1)),
    );
    // Every rating, counted raw: the roll-ups' sum.
    let rolled = hailong::report::sum_of(
        &hailong::report::tallies(&app.db.read, from, to, Some(&ids))
            .await
            .unwrap(),
        &ids,
    );
    let all = slice::tally(&app.db.read, &ids, span, Slice::default())
        .await
        .unwrap();
    assert_eq!(all, rolled);
    assert_eq!(all.excluded, 2);
    // The channels part every rating.
    let mut parts = hailong::score::Tally::default();
    for c in Channel::ALL {
        let one = Slice {
            desk: None,
            channel: Some(c),
        };
        parts.merge(&slice::tally(&app.db.read, &ids, span, one).await.unwrap());
    }
    assert_eq!(parts, all);
}

/// The figures of a closed period with partial months are kept in memory between requests
/// (`rollup::kept`); every late write (an import into a past day, an exclusion) makes them
/// stale at once, and a change that bypassed the writers shows only once the epoch moves.
#[tokio::test]
async fn kept_figures_of_closed_days_follow_every_late_write() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    app.province().await;
    let on = |day: &str, agency: &str, overall: i64| json!({"agency": agency, "submitted_at": day, "answers": {"overall": overall}});
    app.import(vec![
        on("2025-03-15", "A", 5),
        on("2025-03-16", "A", 4),
        on("2025-03-20", "B", 2),
        on("2025-06-01", "B", 5),
        on("2025-10-20", "A", 1),
        on("2025-10-21", "A", 1),
    ])
    .await;
    let path = "/api/v1/reports/agencies/KH?from=2025-03-15&to=2025-10-20";
    let responses = || async {
        let res = app.get(path, &app.admin).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let report = res.json();
        let child = |code: &str| {
            report["children"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["agency"] == code)
                .map(|c| c["responses"].as_u64().unwrap())
                .unwrap()
        };
        (
            report["responses"].as_u64().unwrap(),
            child("A"),
            child("B"),
        )
    };
    assert_eq!(responses().await, (5, 3, 2));
    assert!(!app.db.kept.is_empty(), "the closed pieces are kept");
    assert_eq!(responses().await, (5, 3, 2), "the same from memory");

    // An import into a closed day.
    app.import(vec![on("2025-03-16", "B", 3)]).await;
    assert_eq!(responses().await, (6, 3, 3));
    // An exclusion of a rating of a closed day.
    let first = app.ids_of_year(2025).await[0];
    app.exclude(first, "Phiếu thử nghiệm").await;
    assert_eq!(responses().await, (5, 2, 3));

    // A change behind the writers' back (no epoch) is not seen until the epoch moves: what
    // is shown is what was kept.
    app.db
        .write
        .execute_unprepared(
            "UPDATE rollup_daily SET n = n + 100 WHERE day = '2025-03-16' AND question_key = 'overall'",
        )
        .await
        .unwrap();
    assert_eq!(responses().await, (5, 2, 3));
    hailong::rollup::kept::renew(&app.db.write).await.unwrap();
    assert_eq!(responses().await, (205, 102, 103));

    // A whole year that is over is kept too, and follows a late write the same way.
    let year = || async {
        let res = app
            .get(
                "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31",
                &app.admin,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json()["responses"].as_u64().unwrap()
    };
    let before = year().await;
    assert_eq!(year().await, before);
    app.import(vec![on("2025-12-31", "B", 4)]).await;
    assert_eq!(year().await, before + 1);

    // So are the months of a trend.
    let trend = || async {
        let res = app
            .get("/charts/agencies/KH/trend.csv?year=2025", &app.admin)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.text
    };
    let before = trend().await;
    assert_eq!(trend().await, before);
    app.import(vec![on("2025-04-02", "A", 5)]).await;
    let after = trend().await;
    assert_ne!(after, before, "{after}");
}
