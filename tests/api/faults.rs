//! Faults made real: commits that fail (a SQLite file made "full" with `max_page_count`, a
//! real full file system on a small tmpfs), a job that the database refuses inside a batch.
//! The rule they check: every 201 is a stored rating, after the fault clears and after a
//! restart; nothing is acknowledged that was not stored; writing resumes by itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use hailong::collect::chain::{self, ChainCheck};
use hailong::db::Db;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, tools_required};

fn is_sqlite(app: &TestApp) -> bool {
    app.test_db.url.starts_with("sqlite:")
}

/// What many clients got back while posting `per_client` ratings each.
#[derive(Default, Debug)]
struct Outcome {
    stored: BTreeSet<i64>,
    unavailable: usize,
    other: Vec<String>,
}

async fn post_many(app: &TestApp, token: &str, clients: usize, per_client: usize) -> Outcome {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let router = app.router.clone();
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..per_client {
                let body = json!({"token": token, "answers": {"overall": 1 + (c + i) % 5},
                                  "comment": format!("góp ý {c}-{i}")});
                out.push(crate::helpers::send_json(&router, "/api/v1/responses", &body).await);
            }
            out
        }));
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        for res in task.await.unwrap() {
            match res.status {
                StatusCode::CREATED => {
                    assert!(outcome.stored.insert(res.json()["id"].as_i64().unwrap()));
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(res.error_code(), "storage_unavailable", "{}", res.text);
                    assert!(
                        res.headers.contains_key("retry-after"),
                        "503 without Retry-After"
                    );
                    outcome.unavailable += 1;
                }
                other => outcome.other.push(format!("{other}: {}", res.text)),
            }
        }
    }
    outcome
}

/// Reopens the database as a restarted server would, and checks that exactly the
/// acknowledged ratings are there and that the chain is whole.
async fn assert_stored_after_restart(url: &str, acknowledged: &BTreeSet<i64>) {
    let db = Db::connect(url).await.expect("reopen");
    let rows = db
        .read
        .query_all_raw(Statement::from_string(
            db.backend(),
            "SELECT id FROM responses ORDER BY id",
        ))
        .await
        .unwrap();
    let stored: BTreeSet<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "id").unwrap())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert_eq!(&stored, acknowledged, "stored without acknowledgement");
    let check = chain::verify(&db.read, |_| {}).await.unwrap();
    assert_eq!(
        check,
        ChainCheck::Intact {
            responses: acknowledged.len() as u64
        }
    );
    db.close().await;
}

async fn health(app: &TestApp) -> StatusCode {
    crate::helpers::send_get(&app.router, "/healthz")
        .await
        .status
}

/// `max_page_count` makes SQLite refuse to grow the file, as a full disk does; a task keeps
/// re-applying it to the writer's connection while 8 clients post. Before the fix, the
/// first failed commit left the writer inside a transaction and every later "stored"
/// rating was thrown away.
#[tokio::test]
async fn commits_failing_under_load_lose_no_acknowledged_rating() {
    let app = TestApp::spawn_with(|c| c.rate_limit = None).await;
    if !is_sqlite(&app) {
        return; // max_page_count is SQLite's; PostgreSQL is covered by the job test below.
    }
    app.province().await;
    let token = app.link(json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let before = post_many(&app, &token, 4, 5).await;
    assert_eq!(before.stored.len(), 20, "{before:?}");

    let full = Arc::new(AtomicBool::new(true));
    let filler = {
        let (db, full) = (app.db.clone(), full.clone());
        tokio::spawn(async move {
            while full.load(Ordering::Relaxed) {
                let pages = db
                    .write
                    .query_one_raw(Statement::from_string(db.backend(), "PRAGMA page_count"))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                    .unwrap_or(1);
                let _ = db
                    .write
                    .execute_unprepared(&format!("PRAGMA max_page_count = {pages}"))
                    .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let during = post_many(&app, &token, 8, 40).await;
    full.store(false, Ordering::Relaxed);
    filler.await.unwrap();
    // The fault clears: the file may grow again.
    app.db
        .write
        .execute_unprepared("PRAGMA max_page_count = 1073741823")
        .await
        .unwrap();
    assert!(during.other.is_empty(), "{:?}", during.other);
    assert!(
        during.unavailable > 0,
        "the fault never bit: {} stored",
        during.stored.len()
    );

    let metrics = crate::helpers::send_get(&app.router, "/metrics").await;
    assert!(
        metrics.text.contains("hailong_write_failures_total"),
        "failures are not counted"
    );

    // The fault has cleared: writing resumes without a restart.
    let after = post_many(&app, &token, 2, 5).await;
    assert_eq!(after.stored.len(), 10, "{after:?}");
    assert_eq!(health(&app).await, StatusCode::OK);

    let acknowledged: BTreeSet<i64> = before
        .stored
        .iter()
        .chain(&during.stored)
        .chain(&after.stored)
        .copied()
        .collect();
    assert_eq!(app.count("responses").await, acknowledged.len() as i64);
    app.db.clone().close().await;
    assert_stored_after_restart(&app.test_db.url, &acknowledged).await;
}

/// A real full file system: the database lives on an 8 MiB tmpfs filled up by a file. The
/// ratings posted meanwhile get 503 with Retry-After, `/healthz` says 503, and once the file
/// is removed both come back by themselves. Needs root (mount); CI runs as root.
#[tokio::test]
async fn a_full_disk_answers_503_and_recovers_by_itself() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        return;
    }
    let Some(mount) = Tmpfs::mount(8) else {
        assert!(!tools_required(), "mounting a tmpfs needs root");
        eprintln!("cannot mount a tmpfs (not root?): skipping the full-disk test");
        return;
    };
    let url = format!("sqlite://{}", mount.dir.path().join("full.db").display());
    let app = TestApp::spawn_configured(TestDb::at(&url), |c| c.rate_limit = None).await;
    app.province().await;
    let token = app.link(json!({"agency": "A"})).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let before = post_many(&app, &token, 2, 5).await;
    assert_eq!(before.stored.len(), 10, "{before:?}");

    let filler = mount.dir.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let during = post_many(&app, &token, 4, 25).await;
    assert!(during.other.is_empty(), "{:?}", during.other);
    assert!(during.unavailable > 0, "the disk never filled: {during:?}");
    assert_eq!(health(&app).await, StatusCode::SERVICE_UNAVAILABLE);

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(health(&app).await, StatusCode::OK, "health did not return");
    let after = post_many(&app, &token, 2, 5).await;
    assert_eq!(after.stored.len(), 10, "{after:?}");

    let acknowledged: BTreeSet<i64> = before
        .stored
        .iter()
        .chain(&during.stored)
        .chain(&after.stored)
        .copied()
        .collect();
    app.db.clone().close().await;
    assert_stored_after_restart(&url, &acknowledged).await;
}

/// One job that the database refuses (here an agency id that does not exist) in the same
/// batch as valid ones: the valid ones are stored, the bad one alone fails, with 503.
#[tokio::test]
async fn one_failing_job_never_fails_the_others_in_its_batch() {
    use hailong::collect::answers::Answers;
    use hailong::collect::store::{Channel, Submission};
    let app = TestApp::spawn().await;
    app.province().await;
    let agency: i64 = app
        .db
        .read
        .query_one_raw(Statement::from_string(
            app.db.backend(),
            "SELECT id FROM agencies WHERE code = 'A'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let sub = |agency_id: i64, overall: i16| Submission {
        link: None,
        agency_id,
        desk_id: None,
        service_id: None,
        questionnaire_id: 1,
        channel: Channel::Api,
        submitted_at: hailong::now(),
        answers: Answers {
            values: vec![("overall".into(), overall)],
            comment: None,
        },
        assisted: false,
        client_hash: None,
        device_hash: None,
        form_age: None,
        want_reply: false,
    };
    let mut tasks = Vec::new();
    for i in 0..60 {
        let writer = app.state.intake.writer().clone();
        let s = if i == 30 {
            sub(999_999, 1)
        } else {
            sub(agency, 1 + (i % 5) as i16)
        };
        tasks.push(tokio::spawn(async move { writer.submit(s).await }));
    }
    let mut stored = 0;
    let mut failed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(Ok(_)) => stored += 1,
            Ok(Err(_)) => panic!("not a single-use link"),
            Err(e) => failed.push(hailong::web::error::status_of(e.kind).as_u16()),
        }
    }
    assert_eq!((stored, failed), (59, vec![503]));
    assert_eq!(app.count("responses").await, 59);
}

/// A tmpfs mounted on a temporary folder for the life of the test.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Imports and exclusions meet the same fault: 503 with `Retry-After` and nothing stored
/// (before: `201 {"imported": 500}` with nothing stored), then normal service once it clears.
#[tokio::test]
async fn imports_and_exclusions_under_a_full_file_answer_503_and_store_nothing() {
    let app = TestApp::spawn().await;
    if !is_sqlite(&app) {
        return;
    }
    app.province().await;
    let rows: Vec<_> = (0..500)
        .map(|i| {
            json!({"agency": "A", "submitted_at": "2026-03-01", "answers": {"overall": 1 + i % 5},
                        "comment": format!("phiếu giấy số {i}")})
        })
        .collect();
    let first = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({"responses": rows[..1]}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let fill = |db: Db| async move {
        let pages = db
            .write
            .query_one_raw(Statement::from_string(db.backend(), "PRAGMA page_count"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        db.write
            .execute_unprepared(&format!("PRAGMA max_page_count = {pages}"))
            .await
            .unwrap();
    };
    fill(app.db.clone()).await;
    let before = app.fingerprint().await;
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({"responses": rows}),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert!(res.headers.contains_key("retry-after"));
    assert_eq!(
        app.fingerprint().await,
        before,
        "a failed import changed the database"
    );

    // The fault clears: the same import is stored.
    app.db
        .write
        .execute_unprepared("PRAGMA max_page_count = 1073741823")
        .await
        .unwrap();
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            json!({"responses": rows}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(app.count("responses").await, 501);
    assert_eq!(health(&app).await, StatusCode::OK);
    let id = first.json()["imported"].as_i64().unwrap();
    app.exclude(id, "thử").await;
    app.db.clone().close().await;
    let check = {
        let db = Db::connect(&app.test_db.url).await.unwrap();
        chain::verify(&db.read, |_| {}).await.unwrap()
    };
    assert_eq!(check, ChainCheck::Intact { responses: 501 });
}
