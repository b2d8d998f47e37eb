//! Reorganisations (API.md, "Reorganisation"): the 2025 reform of a province end to end,
//! the tree of any day, each agency's history, reports and rankings that restate history,
//! and every refused request leaving every table as it was.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// One paper rating: agency, day, overall answer.
type Rating = (&'static str, String, i64);

/// KH ─┬─ H1 (district) ─┬─ X1
///     │                 ├─ X2
///     │                 └─ X3
///     ├─ X4
///     └─ X5
async fn province(app: &TestApp) {
    app.agency("KH", None).await;
    app.agency("H1", Some("KH")).await;
    for x in ["X1", "X2", "X3"] {
        app.agency(x, Some("H1")).await;
    }
    app.agency("X4", Some("KH")).await;
    app.agency("X5", Some("KH")).await;
}

/// The 2025 reform: X1 and X2 merge into the new X12 under KH, X3 moves up to KH, X5
/// merges into X4, and the district H1, left empty, closes.
fn reform() -> Value {
    json!({
        "effective": "2025-07-01",
        "reason": "Nghị quyết sắp xếp đơn vị hành chính cấp xã năm 2025",
        "changes": [
            {"kind": "merge", "from": ["X1", "X2"], "into": "X12", "name": "Xã Hòa Thắng", "parent": "KH"},
            {"kind": "move", "agency": "X3", "parent": "KH"},
            {"kind": "merge", "from": ["X5"], "into": "X4"},
            {"kind": "close", "agency": "H1"},
        ]
    })
}

/// Ratings in the first half of 2025 under the old units, in the second under the new
/// (and two paper forms still filed under X1 after the merge), each with its own mix.
fn ratings() -> Vec<Rating> {
    let mut out = Vec::new();
    let mut add = |agency: &'static str, month: u32, count: usize, bias: i64| {
        for i in 0..count {
            let overall = (1 + (i as i64 * 3 + bias) % 5).clamp(1, 5);
            let day = 1 + (i as u32 * 5) % 27;
            out.push((agency, format!("2025-{month:02}-{day:02}"), overall));
        }
    };
    add("X1", 2, 10, 3);
    add("X2", 3, 8, 1);
    add("X3", 4, 6, 4);
    add("X4", 5, 7, 2);
    add("X5", 6, 5, 0);
    add("H1", 1, 3, 3);
    add("KH", 6, 2, 4);
    add("X12", 8, 12, 3);
    add("X3", 9, 6, 2);
    add("X4", 10, 9, 4);
    add("X1", 8, 2, 4);
    out
}

/// The units of KH after the reform and the agencies whose ratings each counts, by the
/// restating rule applied by hand.
const UNITS_AFTER: [(&str, &[&str]); 3] = [
    ("X12", &["X1", "X2", "X12"]),
    ("X4", &["X4", "X5"]),
    ("X3", &["X3"]),
];

fn as_import(ratings: &[Rating]) -> Vec<Value> {
    ratings
        .iter()
        .map(|(agency, day, overall)| {
            json!({"agency": agency, "submitted_at": format!("{day}T09:00:00+07:00"),
                   "answers": {"overall": overall}, "channel": "paper"})
        })
        .collect()
}

/// Responses and satisfied share of the ratings of `members` between `from` and `to`
/// (both included), counted here without the application.
fn naive(ratings: &[Rating], members: &[&str], from: &str, to: &str) -> (u64, Option<f64>) {
    let rows: Vec<&Rating> = ratings
        .iter()
        .filter(|r| members.contains(&r.0) && r.1.as_str() >= from && r.1.as_str() <= to)
        .collect();
    let n = rows.len() as u64;
    let satisfied = rows.iter().filter(|r| r.2 >= 4).count() as f64;
    (n, (n > 0).then(|| 100.0 * satisfied / n as f64))
}

fn assert_figures(report: &Value, expected: (u64, Option<f64>), what: &str) {
    assert_eq!(report["responses"], expected.0, "{what}: {report}");
    match expected.1 {
        Some(pct) => {
            let got = report["satisfaction_pct"].as_f64().expect("a share");
            assert!((got - pct).abs() < 1e-9, "{what}: {got} vs {pct}");
        }
        None => assert!(report["satisfaction_pct"].is_null(), "{what}"),
    }
}

/// Applies [`reform`], asserting 201.
async fn apply_reform(app: &TestApp) -> crate::helpers::TestResponse {
    let res = app
        .post("/api/v1/reorganisations", &app.admin, reform())
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res
}

async fn reformed() -> (TestApp, Vec<Rating>) {
    let app = TestApp::spawn().await;
    province(&app).await;
    // The ratings under X12 exist only after it begins: the reform comes first.
    let res = apply_reform(&app).await;
    let body = res.json();
    assert_eq!(body["effective"], "2025-07-01");
    assert_eq!(body["changes"].as_array().map(Vec::len), Some(4));
    assert!(body["id"].as_i64().is_some());
    let all = ratings();
    app.import(as_import(&all)).await;
    (app, all)
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|a| a["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_tree_of_any_day_and_each_agencys_history() {
    let (app, _) = reformed().await;
    let before = app
        .get("/api/v1/agencies?date=2025-06-30", &app.admin)
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(
        codes(&before.json()),
        ["H1", "KH", "X1", "X2", "X3", "X4", "X5"]
    );
    let x3 = &before.json()[4];
    assert_eq!(
        (x3["code"].as_str(), x3["parent"].as_str()),
        (Some("X3"), Some("H1"))
    );
    let after = app
        .get("/api/v1/agencies?date=2025-07-01", &app.admin)
        .await;
    assert_eq!(codes(&after.json()), ["KH", "X12", "X3", "X4"]);
    let today = app.get("/api/v1/agencies", &app.admin).await.json();
    assert_eq!(today, after.json());
    let x12 = &today[1];
    assert_eq!(x12["name"], "Xã Hòa Thắng");
    assert_eq!(x12["parent"], "KH");
    assert_eq!(x12["valid_from"], "2025-07-01");
    assert!(x12["valid_to"].is_null());
    assert_eq!(today[2]["parent"], "KH", "X3 moved up");

    let history = app.get("/api/v1/agencies/X1/history", &app.admin).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    assert_eq!(
        history.json(),
        json!({
            "code": "X1", "valid_from": null, "valid_to": "2025-06-30",
            "names": [{"name": "Cơ quan X1", "from": null, "to": "2025-06-30"}],
            "parents": [{"parent": "H1", "from": null, "to": "2025-06-30"}],
            "predecessors": [],
            "successor": {"agency": "X12", "effective": "2025-07-01"},
        })
    );
    let history = app
        .get("/api/v1/agencies/X12/history", &app.admin)
        .await
        .json();
    assert_eq!(
        history["predecessors"],
        json!([{"agency": "X1", "effective": "2025-07-01"}, {"agency": "X2", "effective": "2025-07-01"}])
    );
    assert_eq!(history["valid_from"], "2025-07-01");
    let history = app
        .get("/api/v1/agencies/X3/history", &app.admin)
        .await
        .json();
    assert_eq!(
        history["parents"],
        json!([{"parent": "H1", "from": null, "to": "2025-06-30"},
               {"parent": "KH", "from": "2025-07-01", "to": null}])
    );
    let history = app
        .get("/api/v1/agencies/H1/history", &app.admin)
        .await
        .json();
    assert_eq!(history["valid_to"], "2025-06-30");
    assert!(history["successor"].is_null(), "a closure has no successor");

    // A rename through PATCH is a rename from today: the old name stays in the history.
    let res = app
        .call(
            axum::http::Method::PATCH,
            "/api/v1/agencies/X4",
            Some(&app.admin),
            Some(json!({"name": "Phường Bắc"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let names = app
        .get("/api/v1/agencies/X4/history", &app.admin)
        .await
        .json()["names"]
        .clone();
    assert_eq!(names[0]["name"], "Cơ quan X4");
    assert_eq!(names[1]["name"], "Phường Bắc");
    assert!(names[1]["to"].is_null());
    let mid = app
        .get("/api/v1/agencies?date=2025-12-31", &app.admin)
        .await
        .json();
    assert_eq!(mid[3]["name"], "Cơ quan X4", "the past keeps its name");

    // The reorganisations are listed, and audited.
    let list = app.get("/api/v1/reorganisations", &app.admin).await;
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
    assert!(
        app.count("audit_log").await > 0,
        "the reorganisation is audited"
    );
}

#[tokio::test]
async fn reports_restate_history_across_the_reform() {
    let (app, all) = reformed().await;
    let year = ("2025-01-01", "2025-12-31");
    let report = |path: String| {
        let app = &app;
        async move {
            let res = app.get(&path, &app.admin).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
            res.json()
        }
    };

    // Conservation: the province counts every stored rating.
    let kh = report("/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31".into()).await;
    assert_eq!(kh["responses"], all.len() as u64);
    assert_figures(
        &kh,
        naive(
            &all,
            &["KH", "H1", "X1", "X2", "X3", "X4", "X5", "X12"],
            year.0,
            year.1,
        ),
        "KH",
    );
    assert_eq!(kh["restated_from"], json!(["H1", "X1", "X2", "X5"]));
    assert_eq!(codes(&kh["children"]).len(), 3);
    let child = |code: &str| {
        kh["children"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["agency"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("{code} is a child"))
    };
    for (code, members) in UNITS_AFTER {
        assert_figures(&child(code), naive(&all, members, year.0, year.1), code);
    }

    // The successor's history includes its predecessors', before, across and after the day.
    for (from, to) in [
        ("2025-01-01", "2025-06-30"),
        ("2025-05-01", "2025-08-31"),
        ("2025-07-01", "2025-12-31"),
    ] {
        let x12 = report(format!("/api/v1/reports/agencies/X12?from={from}&to={to}")).await;
        assert_figures(&x12, naive(&all, &["X1", "X2", "X12"], from, to), from);
        assert_eq!(x12["restated_from"], json!(["X1", "X2"]));
    }

    // The spreadsheet says what it restated, in its title.
    let xlsx = app
        .call(
            axum::http::Method::GET,
            "/api/v1/reports/agencies/X12?from=2025-01-01&to=2025-12-31&format=xlsx",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    let text = crate::helpers::xlsx_text(&xlsx.bytes);
    assert!(text.contains("gồm cả số liệu của X1, X2"), "{text}");
    // And the CSV, in its own columns.
    let csv = app
        .get(
            "/api/v1/reports/agencies/X12?from=2025-01-01&to=2025-12-31&format=csv",
            &app.admin,
        )
        .await
        .csv_records();
    assert_eq!(csv[0]["restated_from"], "X1 X2");
    assert_eq!(csv[0]["as_of"], kh["as_of"].as_str().unwrap());

    // An agency that has ended is read on its last day: its own figures and its tree then.
    let x1 = report("/api/v1/reports/agencies/X1?from=2025-01-01&to=2025-12-31".into()).await;
    assert_eq!(x1["as_of"], "2025-06-30");
    assert_eq!(x1["restated_from"], json!([]));
    assert_figures(&x1, naive(&all, &["X1"], year.0, year.1), "X1");
    let h1 = report("/api/v1/reports/agencies/H1?from=2025-01-01&to=2025-12-31".into()).await;
    let children: Vec<&str> = h1["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["agency"].as_str())
        .collect();
    assert_eq!(children, ["X1", "X2", "X3"]);
    assert_figures(
        &h1,
        naive(&all, &["H1", "X1", "X2", "X3"], year.0, year.1),
        "H1",
    );

    // The province read on the tree of 30 June: the old children; X12, not begun yet, is
    // counted where its first parent stands.
    let old =
        report("/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31&as_of=2025-06-30".into())
            .await;
    assert_eq!(old["as_of"], "2025-06-30");
    assert_eq!(old["restated_from"], json!(["X12"]));
    let old_children: Vec<&str> = old["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["agency"].as_str())
        .collect();
    assert_eq!(old_children, ["H1", "X4", "X5"]);
    assert_eq!(old["responses"], kh["responses"]);

    // The ranking of 2025 ranks the units of 31 December, each with its predecessors.
    let ranking = report("/api/v1/reports/annual/2025?parent=KH".into()).await;
    let rows = ranking["rows"].as_array().unwrap();
    let row = |code: &str| rows.iter().find(|r| r["agency"] == code).cloned().unwrap();
    assert_eq!(rows.len(), 3, "{ranking}");
    for (code, members) in UNITS_AFTER {
        let mut units: Vec<&str> = members.to_vec();
        units.sort_unstable();
        assert_eq!(row(code)["units"], json!(units));
        assert_figures(&row(code), naive(&all, members, year.0, year.1), code);
    }

    // The trend of the successor is drawn from the restated series.
    let trend = app
        .get("/charts/agencies/X12/trend.svg?year=2025", &app.admin)
        .await;
    assert_eq!(trend.status, StatusCode::OK);
    assert!(
        trend.text.contains("Sáp nhập 01/07/2025"),
        "the merger is marked"
    );
    // Its monthly figures are the naive recount of the restated units, month by month.
    let by = hailong::govern::Principal::cli();
    let cx = hailong::app::Context::new(&app.db, &by, &app.state.config);
    let chart = hailong::report::charts::trend(
        &cx,
        &hailong::org::code_of("X12").unwrap(),
        hailong::domain::Year::stored(2025),
    )
    .await
    .unwrap();
    let hailong::chart::Chart::Trend { months, marks, .. } = chart else {
        panic!("a trend")
    };
    assert_eq!(marks.len(), 1);
    for (m, got) in months.iter().enumerate() {
        let from = format!("2025-{:02}-01", m + 1);
        let to = format!("2025-{:02}-31", m + 1);
        let (_, pct) = naive(&all, &["X1", "X2", "X12"], &from, &to);
        let round = |p: f64| (p * 1e6).round();
        assert_eq!(got.pct.map(round), pct.map(round), "month {}", m + 1);
    }
}

#[tokio::test]
async fn a_frozen_ranking_survives_a_later_reorganisation() {
    let (app, _) = reformed().await;
    let frozen = app.freeze(2025, "KH").await;
    let res = app
        .post(
            "/api/v1/reorganisations",
            &app.admin,
            json!({"effective": "2026-01-01", "reason": "Sáp nhập X3",
                   "changes": [{"kind": "merge", "from": ["X3"], "into": "X4"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let verify = app
        .get("/api/v1/reports/annual/2025/verify?parent=KH", &app.admin)
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    assert_eq!(verify.json()["ok"], true, "{}", verify.text);
    let again = app
        .get("/api/v1/reports/annual/2025?parent=KH", &app.admin)
        .await;
    assert_eq!(again.json()["rows"], frozen["rows"]);
    assert_eq!(again.json()["digest"], frozen["digest"]);
    // The live 2026 tree has X4 carrying X3 now.
    let kh = app
        .get(
            "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31",
            &app.admin,
        )
        .await
        .json();
    assert_eq!(codes(&kh["children"]).len(), 2);
}

#[tokio::test]
async fn a_link_of_a_merged_agency_rates_its_successor() {
    let app = TestApp::spawn().await;
    province(&app).await;
    let link = app.link(json!({"agency": "X1"})).await;
    let token = link["token"].as_str().expect("token").to_string();
    apply_reform(&app).await;
    // The printed card still works, and the rating lands under X12.
    let res = app
        .post(
            "/api/v1/responses",
            &app.admin,
            json!({"token": token, "answers": {"overall": 5}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let stored = <entity::response::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap();
    let x12 = <entity::agency::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db.read)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.code == "X12")
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].agency_id, x12.id);
    // The form of the old card names the agency the rating counts for.
    let form = app.get(&format!("/r/{token}"), &app.admin).await;
    assert!(form.text.contains("Xã Hòa Thắng"), "{}", form.text);
    let desks = app.get("/api/v1/agencies/X12/desks", &app.admin).await;
    assert_eq!(desks.status, StatusCode::OK);
}

#[tokio::test]
async fn a_whole_reform_in_one_csv() {
    let app = TestApp::spawn().await;
    province(&app).await;
    let csv = "kind,agency,from,into,name,parent\n\
               merge,,X1;X2,X12,Xã Hòa Thắng,KH\n\
               move,X3,,,,KH\n\
               merge,,X5,X4,,\n\
               close,H1,,,,\n";
    let res = app
        .post_raw(
            "/api/v1/reorganisations?effective=2025-07-01&reason=NQ%201",
            &app.admin,
            "text/csv",
            csv,
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["reason"], "NQ 1");
    let today = app.get("/api/v1/agencies", &app.admin).await.json();
    assert_eq!(codes(&today), ["KH", "X12", "X3", "X4"]);

    // A bad row names its line and stores nothing.
    let before = app.fingerprint().await;
    let bad = "kind,agency,from,into,name,parent\nrename,X3,,,Tên mới,\nmove,X3\n";
    let res = app
        .post_raw(
            "/api/v1/reorganisations?effective=2026-01-01",
            &app.admin,
            "text/csv",
            bad,
        )
        .await;
    app.assert_rejected("short row", &res, 422, "invalid_csv", &before)
        .await;
    assert_eq!(res.json()["error"]["row"], 3);
}

#[tokio::test]
async fn bad_reorganisations_change_nothing() {
    let app = TestApp::spawn().await;
    province(&app).await;
    apply_reform(&app).await;
    let one =
        |change: Value| json!({"effective": "2026-01-01", "reason": "r", "changes": [change]});
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown agency",
            one(json!({"kind": "rename", "agency": "NOPE", "name": "X"})),
            "unknown_agency",
            "changes[0].agency",
        ),
        (
            "into itself",
            one(json!({"kind": "merge", "from": ["X3", "X4"], "into": "X4"})),
            "merge_into_itself",
            "changes[0].from",
        ),
        (
            "merging an agency that has ended",
            one(json!({"kind": "merge", "from": ["X1"], "into": "X4"})),
            "agency_ended",
            "changes[0].from",
        ),
        (
            "moving an agency that has ended",
            one(json!({"kind": "move", "agency": "H1", "parent": "KH"})),
            "agency_ended",
            "changes[0].agency",
        ),
        (
            "a cycle",
            one(json!({"kind": "move", "agency": "KH", "parent": "X3"})),
            "cycle",
            "changes[0].parent",
        ),
        (
            "a new agency without a name",
            one(json!({"kind": "merge", "from": ["X3"], "into": "X99", "parent": "KH"})),
            "required",
            "changes[0].name",
        ),
        (
            "closing with children left",
            one(json!({"kind": "close", "agency": "KH"})),
            "children_left",
            "changes[0].agency",
        ),
        (
            "out of order",
            json!({"effective": "2025-03-01", "changes": [{"kind": "rename", "agency": "X3", "name": "Y"}]}),
            "out_of_order",
            "changes[0].agency",
        ),
        (
            "no changes",
            json!({"effective": "2026-01-01", "changes": []}),
            "no_changes",
            "changes",
        ),
        (
            "a long reason",
            json!({"effective": "2026-01-01", "reason": "ý".repeat(1001),
                   "changes": [{"kind": "rename", "agency": "X3", "name": "Y"}]}),
            "text_too_long",
            "reason",
        ),
        (
            "a bad date",
            json!({"effective": "2026-02-30", "changes": [{"kind": "close", "agency": "X3"}]}),
            "invalid_date",
            "effective",
        ),
        (
            "all or nothing",
            json!({"effective": "2026-01-01", "changes": [
                {"kind": "rename", "agency": "X3", "name": "Tên mới"},
                {"kind": "move", "agency": "X4", "parent": "NOPE"}]}),
            "unknown_agency",
            "changes[1].parent",
        ),
    ];
    for (case, body, code, field) in cases {
        let before = app.fingerprint().await;
        let res = app.post("/api/v1/reorganisations", &app.admin, body).await;
        app.assert_rejected(case, &res, 422, code, &before).await;
        assert_eq!(res.json()["error"]["field"], field, "{case}");
    }
    let manager = app.key(hailong::domain::Role::Manager, Some("KH")).await;
    let before = app.fingerprint().await;
    let res = app
        .post(
            "/api/v1/reorganisations",
            &manager,
            one(json!({"kind": "close", "agency": "X3"})),
        )
        .await;
    app.assert_rejected("a manager", &res, 403, "forbidden", &before)
        .await;

    // A merge moves the children with their parent: a child changed later refuses it too.
    let later = json!({"effective": "2026-06-01", "changes": [
        {"kind": "rename", "agency": "X3", "name": "Xã X3 mới"}]});
    let res = app.post("/api/v1/reorganisations", &app.admin, later).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let before = app.fingerprint().await;
    let res = app
        .post(
            "/api/v1/reorganisations",
            &app.admin,
            one(json!({"kind": "merge", "from": ["KH"], "into": "KH2",
                       "name": "Tỉnh mới", "parent": null})),
        )
        .await;
    app.assert_rejected("a child changed later", &res, 422, "out_of_order", &before)
        .await;
    assert_eq!(res.json()["error"]["field"], "changes[0].from");
}
