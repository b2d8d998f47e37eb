//! Property-based fuzzing through the real router (cargo-fuzz needs a nightly toolchain,
//! which this machine cannot fetch): random form bodies, JSON ratings, import CSVs and
//! report queries. Whatever arrives, the answer is never a 5xx and never a panic, every
//! error has the documented shape, and a rejected request stores nothing.
//!
//! `HAILONG_FUZZ_CASES` sets the cases per round (default 64, one round, as CI runs it);
//! `HAILONG_FUZZ_SECONDS=1800` repeats rounds with fresh seeds for that long per target:
//! the long run in docs/SECURITY.md.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};

fn cases() -> u32 {
    std::env::var("HAILONG_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Runs `check` on every value `strategy` makes, inside the test's runtime.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), String>)
where
    S::Value: std::fmt::Debug,
{
    let seconds: u64 = std::env::var("HAILONG_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let started = std::time::Instant::now();
    let mut total = 0u64;
    loop {
        // A new runner each round: fresh random seeds.
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |value| {
            check(value).map_err(proptest::test_runner::TestCaseError::fail)
        });
        if let Err(e) = result {
            panic!("fuzz {name}: {e}");
        }
        total += u64::from(cases());
        if started.elapsed().as_secs() >= seconds {
            break;
        }
    }
    eprintln!(
        "fuzz {name}: {total} cases in {:.1} s, all held",
        started.elapsed().as_secs_f64()
    );
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// Text that attackers like: controls, NUL, bidi overrides, decomposed Vietnamese, formula
/// starters, long runs, invalid numbers.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[=+@\\-\t\r\n\u{0}\u{1b}\u{202E}\u{200B}a-zàáạảãăằắặẳẵâầấậẩẫđèéẹẻẽêềếệểễ ]{0,40}",
        Just("e\u{302}\u{301}".repeat(400)),
        Just("ệ".repeat(1001)),
        "[0-9+\\-. ]{0,6}",
    ]
}

fn answer_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-3i64..9).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_text().prop_map(Value::from),
        Just(Value::Null),
        Just(json!([5])),
        Just(json!({"v": 5})),
    ]
}

const KEYS: &[&str] = &[
    "overall",
    "access",
    "procedure",
    "staff",
    "result",
    "feedback",
    "comment",
    "lang",
    "kiosk",
    "website",
    "csrf",
    "x",
];

fn assert_shape(res: &TestResponse, ok: &[u16]) -> Result<(), String> {
    let status = res.status.as_u16();
    if status >= 500 && status != 503 {
        return Err(format!("{status}: {}", res.text));
    }
    if !ok.contains(&status) && !(400..500).contains(&status) {
        return Err(format!("unexpected {status}: {}", res.text));
    }
    let ct = res
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if status >= 400 && !(ct.starts_with("application/json") || ct.starts_with("text/html")) {
        return Err(format!("{status} answered as {ct:?}"));
    }
    Ok(())
}

async fn fixture() -> (TestApp, String) {
    let app = TestApp::spawn_with(|c| c.rate_limit = None).await;
    app.province().await;
    let token = app.link(json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    (app, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_the_citizen_form() {
    let (app, token) = fixture().await;
    let fields = prop::collection::vec((prop::sample::select(KEYS), nasty_text()), 0..10);
    let raw = prop::collection::vec(any::<u8>(), 0..600);
    let body = prop_oneof![
        fields.prop_map(|f| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in f {
                s.append_pair(k, &v);
            }
            s.finish().into_bytes()
        }),
        raw,
    ];
    fuzz("form", body, |body| {
        block_on(async {
            let before = app.count("responses").await;
            let res = app
                .send(
                    Request::post(format!("/r/{token}"))
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_shape(&res, &[303])?;
            let after = app.count("responses").await;
            let stored = after - before;
            match res.status {
                StatusCode::SEE_OTHER => (stored <= 1).then_some(()).ok_or("stored twice".into()),
                _ => (stored == 0)
                    .then_some(())
                    .ok_or(format!("a {} stored a rating", res.status)),
            }
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_the_json_rating() {
    let (app, token) = fixture().await;
    let answers = prop::collection::vec((prop::sample::select(KEYS), answer_value()), 0..8);
    let body = (
        answers,
        prop::option::of(nasty_text()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(answers, comment, good_token, extra)| {
            let mut map = serde_json::Map::new();
            for (k, v) in answers {
                map.insert(k.to_string(), v);
            }
            let mut body = json!({
                "token": if good_token { token.clone() } else { "x".repeat(22) },
                "answers": map,
            });
            if let Some(c) = comment {
                body["comment"] = c.into();
            }
            if extra {
                body["channel"] = "kiosk".into();
            }
            body.to_string()
        });
    fuzz("json rating", body, |body| {
        block_on(async {
            let before = app.count("responses").await;
            let res = app
                .send(
                    Request::post("/api/v1/responses")
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_shape(&res, &[201])?;
            let stored = app.count("responses").await - before;
            if res.status == StatusCode::CREATED {
                (stored == 1)
                    .then_some(())
                    .ok_or("201 without a rating".into())
            } else {
                (stored == 0)
                    .then_some(())
                    .ok_or(format!("a {} stored a rating", res.status))
            }
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_the_import_csv() {
    let (app, _) = fixture().await;
    let cell = prop_oneof![
        nasty_text(),
        Just("A".to_string()),
        Just("2026-03-01".to_string()),
        Just("5".to_string()),
        Just(String::new()),
    ];
    let row = prop::collection::vec(cell, 0..13).prop_map(|cells| {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(&cells);
        String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
    });
    let header = prop_oneof![
        Just("agency,desk,submitted_at,channel,overall,access,procedure,staff,result,feedback,comment\n".to_string()),
        nasty_text().prop_map(|h| format!("{h}\n")),
    ];
    let body = (header, prop::collection::vec(row, 0..6)).prop_map(|(h, rows)| h + &rows.concat());
    fuzz("import csv", body, |body| {
        block_on(async {
            let before = app.fingerprint().await;
            let res = app
                .send(
                    Request::post("/api/v1/responses/import")
                        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                        .header(header::CONTENT_TYPE, "text/csv")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await;
            assert_shape(&res, &[201])?;
            if res.status != StatusCode::CREATED && app.fingerprint().await != before {
                return Err(format!("a {} changed the database", res.status));
            }
            Ok(())
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_the_report_queries() {
    let (app, _) = fixture().await;
    let param = prop_oneof![
        nasty_text(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        Just("2026-02-29".to_string()),
        Just("0000-01-01".to_string()),
        Just("9999-12-31".to_string()),
    ];
    let query = prop::collection::vec(
        (
            prop::sample::select(&["from", "to", "format", "year", "parent", "agency"][..]),
            param,
        ),
        0..5,
    );
    let path = prop::sample::select(
        &[
            "/api/v1/reports/agencies/KH",
            "/api/v1/reports/annual/2025",
            "/api/v1/responses",
            "/charts/agencies/KH/distribution.svg",
        ][..],
    );
    fuzz("report queries", (path, query), |(path, query)| {
        block_on(async {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &query {
                q.append_pair(k, v);
            }
            let res = app
                .send(
                    Request::get(format!("{path}?{}", q.finish()))
                        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_shape(&res, &[200])
        })
    });
}
