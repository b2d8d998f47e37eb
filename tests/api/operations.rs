//! Operations (API.md, "Operations (round 2)"): several servers starting at once, backup,
//! restore and copy between databases. The commands run as real processes.

use std::process::{Command, Output};

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{TABLES, TestApp, TestDb};

fn hailong(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hailong"));
    cmd.env("DATABASE_URL", url)
        .env("HAILONG_LOG", "warn")
        .args(args);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Four processes started at the same moment on an empty database all come up: the
/// migrations and the first-start writes run once, under the start-up lock. (Without the
/// lock, three of four failed with "relation already exists" on both databases.)
#[tokio::test]
async fn processes_started_together_on_an_empty_database_all_come_up() {
    for _ in 0..3 {
        let db = TestDb::new().await;
        let children: Vec<_> = (0..4)
            .map(|_| {
                hailong(&db.url, &["migrate"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn hailong")
            })
            .collect();
        let mut migrated = 0;
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", text(&out));
            if String::from_utf8_lossy(&out.stderr).contains("applying migration") {
                migrated += 1;
            }
        }
        assert_eq!(migrated, 1, "exactly one process applied the migrations");
    }
}

/// A database with something in every kind of table: agencies and a desk, imported
/// ratings of 2025 with a frozen ranking and an exclusion, live ratings of today through a
/// desk link (two of them held by the burst rule), a user, keys and settings.
async fn filled() -> TestApp {
    let app = TestApp::spawn_with(|c| c.min_responses = 1).await;
    app.province().await;
    let rows: Vec<Value> = [5, 4, 2, 5, 3, 1]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"agency": if i % 2 == 0 { "A" } else { "B" }, "submitted_at": "2025-03-01",
                   "answers": {"overall": v, "staff": 4}, "comment": "Cán bộ nhiệt tình"})
        })
        .collect();
    app.import(rows).await;
    let res = app
        .post(
            "/api/v1/responses/6/exclude",
            &app.admin,
            json!({"reason": "phiếu thử"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    app.freeze(2025, "KH").await;
    let rules = json!({"burst_max": 2, "burst_window_s": 600, "min_seconds": 0, "repeat_max": 100});
    let res = app
        .call(
            Method::PUT,
            "/api/v1/integrity/rules",
            Some(&app.admin),
            Some(rules),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let link = app.link(json!({"agency": "A", "desk": "MC1"})).await;
    let token = link["token"].as_str().unwrap();
    for v in [5, 4, 3, 2] {
        let res = app
            .post(
                "/api/v1/responses",
                "",
                json!({"token": token, "answers": {"overall": v}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    assert_eq!(app.count("holds").await, 2);
    let res = app
        .post("/api/v1/users", &app.admin, json!({"username": "hoa", "password": "mật khẩu của Hoa", "role": "viewer", "agency": "B"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    app
}

/// What must come out of a copy the same: the row count of every table (with the hash
/// chain's head), the frozen ranking as served, an agency report and the listing.
async fn contents(app: &TestApp) -> Value {
    let mut counts = serde_json::Map::new();
    for table in TABLES {
        counts.insert(table.to_string(), json!(app.count(table).await));
    }
    let get = |path: &'static str| async move {
        let res = app.get(path, &app.admin).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
        res.json()
    };
    json!({
        "counts": counts,
        "annual": get("/api/v1/reports/annual/2025?parent=KH").await,
        "report": get("/api/v1/reports/agencies/KH?from=2025-01-01&to=2026-12-31").await,
        "listing": get("/api/v1/responses").await,
        "users": get("/api/v1/users").await,
    })
}

/// `contents` of `copy` equal those of `original`, but for the administrator key (and its
/// audit line) that each `TestApp` adds.
async fn same_contents(original: &TestApp, copy: &TestApp) {
    let (x, mut y) = (contents(original).await, contents(copy).await);
    y["counts"]["api_keys"] = json!(y["counts"]["api_keys"].as_i64().unwrap() - 1);
    y["counts"]["audit_log"] = json!(y["counts"]["audit_log"].as_i64().unwrap() - 1);
    for part in ["counts", "annual", "report", "listing", "users"] {
        assert_eq!(x[part], y[part], "{part} differ");
    }
}

fn sqlite_url(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

#[tokio::test]
async fn a_backup_restores_into_an_empty_database_of_either_kind() {
    let source = filled().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hailong-backup");
    let out = hailong(
        &source.test_db.url,
        &["backup", "--to", file.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["hailong-backup"],
        "no temporary file left beside it"
    );

    // Into a fresh database of the run's kind, and into a SQLite file (from PostgreSQL
    // that is the archive crossing over).
    let targets = [
        TestDb::new().await,
        TestDb::at(&sqlite_url(dir.path(), "r.db")),
    ];
    for target in targets {
        let out = hailong(&target.url, &["restore", "--from", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("hash chain intact: 10 responses"), "{said}");
        assert!(
            said.contains("frozen 2025 report (parent KH) verified"),
            "{said}"
        );
        let restored = TestApp::spawn_on(target).await;
        same_contents(&source, &restored).await;

        // A restored database takes new ratings (its id sequences moved on) and still
        // verifies; a second restore into it is refused and changes nothing.
        let link = restored.link(json!({"agency": "B"})).await;
        let res = restored
            .post(
                "/api/v1/responses",
                "",
                json!({"token": link["token"], "answers": {"overall": 4}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        let out = hailong(&restored.test_db.url, &["verify"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let before = restored.fingerprint().await;
        let out = hailong(
            &restored.test_db.url,
            &["restore", "--from", file.to_str().unwrap()],
        )
        .output()
        .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the target database holds data"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(restored.fingerprint().await, before);
    }
}

#[tokio::test]
async fn copy_moves_everything_to_the_other_kind_of_database_and_back() {
    let source = filled().await;
    let dir = tempfile::tempdir().unwrap();
    // Out to a SQLite file (from PostgreSQL in the PostgreSQL run), then back into a fresh
    // database of the run's kind.
    let middle = sqlite_url(dir.path(), "middle.db");
    let out = hailong(&source.test_db.url, &["copy", "--to", &middle])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("copied"), "{said}");
    assert!(said.contains("hash chain intact: 10 responses"), "{said}");
    let back = TestDb::new().await;
    let out = hailong(&middle, &["copy", "--to", &back.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let back = TestApp::spawn_on(back).await;
    same_contents(&source, &back).await;
    // The copy serves on: it takes a rating (its id sequences moved past the copied ids).
    back.import(vec![
        json!({"agency": "A", "submitted_at": "2025-04-01", "answers": {"overall": 5}}),
    ])
    .await;

    // A target that holds data is refused and left as it was.
    let before = back.fingerprint().await;
    let out = hailong(&middle, &["copy", "--to", &back.test_db.url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the target database holds data"), "{err}");
    assert_eq!(back.fingerprint().await, before);
}

#[tokio::test]
async fn bad_backups_and_targets_fail_in_one_line_and_leave_nothing_behind() {
    let source = filled().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let out = hailong(
        &source.test_db.url,
        &["backup", "--to", good.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(&good).unwrap();

    let damaged = dir.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    let half = damaged.join("half");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let text_file = damaged.join("notes.txt");
    std::fs::write(&text_file, "Biên bản họp\n").unwrap();
    let foreign = damaged.join("foreign.db");
    {
        let other = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", foreign.display()))
            .await
            .unwrap();
        other
            .execute_unprepared("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .await
            .unwrap();
        other.close().await.unwrap();
    }
    let empty = damaged.join("empty");
    std::fs::write(&empty, b"").unwrap();

    // Each refused restore leaves the target empty: the good backup restores into it last.
    let target = TestDb::new().await;
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let missing = path(&dir.path().join("missing"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["restore".into(), "--from".into(), missing],
            "cannot open the backup",
        ),
        (
            vec!["restore".into(), "--from".into(), path(&half)],
            "damaged",
        ),
        (
            vec!["restore".into(), "--from".into(), path(&text_file)],
            "is not a hailong backup",
        ),
        (
            vec!["restore".into(), "--from".into(), path(&empty)],
            "is not a hailong backup",
        ),
        (
            vec!["restore".into(), "--from".into(), path(&foreign)],
            "not a hailong backup",
        ),
    ];
    for (args, said) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = hailong(&target.url, &args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(said), "{args:?}: {err}");
        let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {err}");
        assert!(errors[0].contains(said), "{args:?}: {err}");
    }
    let out = hailong(&target.url, &["restore", "--from", &path(&good)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // Backups to places that cannot be written: nothing is left behind.
    let under_a_file = path(&good.join("x"));
    let no_folder = path(&dir.path().join("no/such/folder/b"));
    for to in [under_a_file, no_folder, path(dir.path())] {
        let out = hailong(&source.test_db.url, &["backup", "--to", &to])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to}");
        assert!(
            err.contains("cannot write the backup") || err.contains("is a directory"),
            "{to}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{to}: {err}");
    }
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["damaged", "good"]);

    // Copies to databases that cannot be reached or named.
    for (to, said) in [
        ("postgres://hl:secret@127.0.0.1:9/hailong", "cannot connect"),
        ("mysql://127.0.0.1/hailong", "unsupported URL"),
    ] {
        let out = hailong(&source.test_db.url, &["copy", "--to", to])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to}");
        assert!(err.contains(said), "{to}: {err}");
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{to}: {err}");
    }
}

/// A backup taken while ratings keep arriving is one consistent instant: it restores and
/// verifies (a torn copy would break the hash chain or its head), and holds no rating the
/// server had not acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_ratings_arrive_is_consistent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let app = Arc::new(filled().await);
    let link = app.link(json!({"agency": "B"})).await;
    let token = link["token"].as_str().unwrap().to_string();
    let before = app.count("responses").await as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writer = {
        let (app, stop, acknowledged) = (app.clone(), stop.clone(), acknowledged.clone());
        tokio::spawn(async move {
            for i in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Each rating from its own address, so that no limit stops the stream.
                let body = json!({"token": token, "answers": {"overall": 4}});
                let mut req = Request::post("/api/v1/responses")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap();
                let peer = std::net::Ipv4Addr::from(0x0a00_0000 + i);
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::new(peer.into(), 40000)));
                let res = app.send(req).await;
                if res.status != StatusCode::CREATED {
                    return Err(format!("{}: {}", res.status, res.text));
                }
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let waited = std::time::Instant::now();
    while acknowledged.load(Ordering::Relaxed) < 20 {
        assert!(waited.elapsed().as_secs() < 30, "ratings do not arrive");
        assert!(!writer.is_finished(), "the writer stopped");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live");
    let url = app.test_db.url.clone();
    let file_arg = file.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        hailong(&url, &["backup", "--to", &file_arg])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let during = acknowledged.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap().expect("every rating acknowledged");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        acknowledged.load(Ordering::Relaxed) > 20,
        "ratings arrived during the backup"
    );

    let target = TestDb::new().await;
    let out = hailong(&target.url, &["restore", "--from", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let restored = TestApp::spawn_on(target).await;
    let n = restored.count("responses").await as u64;
    assert!(
        n >= before + 20 && n <= before + during + 1,
        "{n} responses: between {} and {}",
        before + 20,
        before + during + 1
    );
}

/// Backups, restores and copies carry every table the migrations make (a new table left
/// out of `ops::tables` would silently be lost), and the tests' list of tables is whole.
#[tokio::test]
async fn every_table_is_carried_by_backups_and_known_to_the_tests() {
    let app = TestApp::spawn().await;
    let sql = match app.db.backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name::text AS t FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
    };
    let rows = app
        .db
        .read
        .query_all_raw(sea_orm::Statement::from_string(app.db.backend(), sql))
        .await
        .unwrap();
    let mut in_database: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "t").unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect();
    in_database.sort();
    let mut carried: Vec<String> = hailong::ops::table_names()
        .iter()
        .map(|t| t.to_string())
        .collect();
    carried.sort();
    assert_eq!(carried, in_database, "ops::tables");
    let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    known.sort();
    assert_eq!(known, in_database, "TABLES in tests/api/helpers.rs");
}
