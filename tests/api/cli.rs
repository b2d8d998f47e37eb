//! The command line, run as a real process against the test database.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::helpers::{TestApp, TestDb};

fn hailong(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hailong"));
    cmd.env("DATABASE_URL", &db.url).env("HAILONG_LOG", "warn");
    cmd
}

fn run(mut cmd: Command, stdin: Option<&str>) -> (bool, String, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hailong");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrate_then_key_create_prints_a_working_key_last() {
    let db = TestDb::new().await;
    let (ok, _, err) = run(
        {
            let mut c = hailong(&db);
            c.arg("migrate");
            c
        },
        None,
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("m20261122_000001_initial"),
        "progress names the migration: {err}"
    );
    let (ok, _, err) = run(
        {
            let mut c = hailong(&db);
            c.arg("migrate");
            c
        },
        None,
    );
    assert!(
        ok && !err.contains("applying"),
        "nothing left to apply: {err}"
    );

    let (ok, out, err) = run(
        {
            let mut c = hailong(&db);
            c.args(["key", "create", "--role", "admin", "--name", "tích hợp"]);
            c
        },
        None,
    );
    assert!(ok, "{err}");
    let key = out.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("hl_") && key.len() > 40, "{out}");

    // The key works against a server on the same database.
    let app = TestApp::spawn_on(db).await;
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_and_user_commands_reject_bad_input() {
    let db = TestDb::new().await;
    let cases: Vec<(&[&str], &str)> = vec![
        (&["key", "create", "--role", "boss"], "role"),
        (&["key", "create", "--role", "manager"], "needs an agency"),
        (
            &["key", "create", "--role", "viewer", "--agency", "NOPE"],
            "NOPE",
        ),
        (
            &["key", "create", "--role", "admin", "--agency", "X"],
            "administrator",
        ),
        (
            &["user", "add", "--username", "lan", "--role", "manager"],
            "needs an agency",
        ),
        (
            &["user", "add", "--username", "có dấu", "--role", "admin"],
            "username",
        ),
    ];
    for (args, expected) in cases {
        let (ok, out, err) = run(
            {
                let mut c = hailong(&db);
                c.args(args);
                c
            },
            Some("mật khẩu dài 123\n"),
        );
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!out.contains("hl_"), "{args:?} printed a key");
    }
    let (ok, _, err) = run(
        {
            let mut c = hailong(&db);
            c.args(["user", "add", "--username", "lan", "--role", "admin"]);
            c
        },
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 8"), "{err}");
    let app = TestApp::spawn_on(db).await;
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("api_keys").await, 1, "only the harness's own key");
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin() {
    let db = TestDb::new().await;
    let (ok, out, err) = run(
        {
            let mut c = hailong(&db);
            c.args(["user", "add", "--username", "lan", "--role", "admin"]);
            c
        },
        Some("mật khẩu dài 123\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("lan"));
    let app = TestApp::spawn_on(db).await;
    let user = <entity::user::Entity as sea_orm::EntityTrait>::find()
        .one(&app.db.read)
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(hailong::govern::users::verify_password(
        "mật khẩu dài 123",
        &user.password_hash
    ));
    let (ok, _, err) = run(
        {
            let mut c = hailong(&app.test_db);
            c.args(["user", "add", "--username", "lan", "--role", "admin"]);
            c
        },
        Some("another password\n"),
    );
    assert!(!ok && err.contains("already exists"), "{err}");
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_hailong"))
        .args([
            "migrate",
            "--database-url",
            "postgres://hl:s3cret@127.0.0.1:9/hailong",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("postgres://hl@127.0.0.1:9/hailong"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm() {
    let db = TestDb::new().await;
    let (mut child, addr) = crate::helpers::spawn_server(&db, &[]).await;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn verify_names_the_first_response_changed_behind_the_application() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    app.province().await;
    let rows: Vec<serde_json::Value> = [1, 2, 3, 4]
        .iter()
        .map(|v| serde_json::json!({"agency": "A", "submitted_at": "2026-03-01", "answers": {"overall": v, "staff": 3}}))
        .collect();
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            serde_json::json!({ "responses": rows }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let verify = || {
        let mut c = hailong(&app.test_db);
        c.arg("verify");
        run(c, None)
    };
    let (ok, out, err) = verify();
    assert!(ok, "{err}");
    assert!(out.contains("hash chain intact: 4 responses"), "{out}");

    // An answer edited directly in the database file.
    app.db
        .write
        .execute_unprepared(
            "UPDATE answers SET value = 5 WHERE response_id = 2 AND question_key = 'overall'",
        )
        .await
        .unwrap();
    let (ok, _, err) = verify();
    assert!(!ok);
    assert!(err.contains("hash chain broken at response 2"), "{err}");
    app.db
        .write
        .execute_unprepared(
            "UPDATE answers SET value = 2 WHERE response_id = 2 AND question_key = 'overall'",
        )
        .await
        .unwrap();
    assert!(verify().0, "restored");

    // A response removed: the next one no longer chains.
    app.db
        .write
        .execute_unprepared("DELETE FROM answers WHERE response_id = 3")
        .await
        .unwrap();
    let (ok, _, err) = verify();
    assert!(!ok && err.contains("broken at response 3"), "{err}");
    app.db
        .write
        .execute_unprepared("DELETE FROM responses WHERE id = 3")
        .await
        .unwrap();
    let (ok, _, err) = verify();
    assert!(!ok && err.contains("broken at response 4"), "{err}");
    // The newest removed: the head no longer matches.
    app.db
        .write
        .execute_unprepared("DELETE FROM answers WHERE response_id = 4")
        .await
        .unwrap();
    app.db
        .write
        .execute_unprepared("DELETE FROM responses WHERE id IN (3, 4)")
        .await
        .unwrap();
    let (ok, _, err) = verify();
    assert!(!ok && err.contains("head points at response 4"), "{err}");
}

#[tokio::test]
async fn verify_recomputes_every_frozen_report() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_with(|c| c.min_responses = 1).await;
    app.province().await;
    let rows: Vec<serde_json::Value> = [5, 4, 2]
        .iter()
        .map(|v| serde_json::json!({"agency": "A", "submitted_at": "2025-03-01", "answers": {"overall": v}}))
        .collect();
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            serde_json::json!({ "responses": rows }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .post(
            "/api/v1/reports/annual/2025/freeze?parent=KH",
            &app.admin,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let digest = res.json()["digest"].as_str().unwrap().to_string();
    let verify = || {
        let mut c = hailong(&app.test_db);
        c.arg("verify");
        run(c, None)
    };
    let (ok, out, err) = verify();
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "frozen 2025 report (parent KH) verified: digest {digest}"
        )),
        "{out}"
    );
    // An answer changed behind the application's back: the chain breaks, and the frozen
    // report no longer recomputes to its digest.
    app.db
        .write
        .execute_unprepared(
            "UPDATE answers SET value = 1 WHERE response_id = 1 AND question_key = 'overall'",
        )
        .await
        .unwrap();
    let (ok, _, err) = verify();
    assert!(!ok);
    assert!(err.contains("hash chain broken at response 1"), "{err}");
    assert!(
        err.contains("frozen 2025 report (parent KH) does not verify"),
        "{err}"
    );
}

#[tokio::test]
async fn rollup_rebuild_finds_and_mends_differences() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    app.province().await;
    let rows: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            let agency = ["A", "B"][i % 2];
            serde_json::json!({
                "agency": agency,
                "submitted_at": format!("2025-{:02}-28T23:30:00+07:00", 1 + i % 12),
                "answers": {"overall": 1 + i % 5, "staff": 1 + (i * 3) % 5},
            })
        })
        .collect();
    let res = app
        .post(
            "/api/v1/responses/import",
            &app.admin,
            serde_json::json!({ "responses": rows }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .post(
            "/api/v1/responses/3/exclude",
            &app.admin,
            serde_json::json!({"reason": "trùng lặp"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let report = "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31";
    let partial = "/api/v1/reports/agencies/KH?from=2025-02-03&to=2025-11-30";
    let before = (
        app.get(report, &app.admin).await.text,
        app.get(partial, &app.admin).await.text,
    );
    let rebuild = |check: bool| {
        let mut c = hailong(&app.test_db);
        c.args(["rollup", "rebuild"]);
        if check {
            c.arg("--check");
        }
        run(c, None)
    };
    let (ok, out, err) = rebuild(true);
    assert!(ok, "{err}");
    assert!(
        out.contains("roll-ups match the responses: 40 responses"),
        "{out}"
    );

    // Counts changed, removed and invented behind the application's back.
    for sql in [
        "UPDATE rollup_yearly SET n = n + 7 WHERE question_key = 'overall' AND value = 5",
        "DELETE FROM rollup_monthly WHERE question_key = 'staff'",
        "UPDATE rollup_daily SET excluded = 0 WHERE excluded > 0",
    ] {
        app.db.write.execute_unprepared(sql).await.unwrap();
    }
    // The server keeps closed periods' figures until the roll-ups' epoch moves
    // (`rollup::kept`), which a change behind the writers' back does not do: it is shown once
    // the epoch moves (the mending rebuild below moves it again).
    assert_eq!(app.get(report, &app.admin).await.text, before.0);
    hailong::rollup::kept::renew(&app.db.write).await.unwrap();
    assert_ne!(app.get(report, &app.admin).await.text, before.0);
    let (ok, out, err) = rebuild(true);
    assert!(!ok);
    assert!(
        err.contains("roll-up rows differ from the responses"),
        "{err}"
    );
    assert!(out.contains("differs: rollup_yearly 2025 agency"), "{out}");
    assert!(out.contains("stored n"), "{out}");
    assert_ne!(
        app.get(report, &app.admin).await.text,
        before.0,
        "check writes nothing"
    );

    let (ok, out, err) = rebuild(false);
    assert!(ok, "{err}");
    assert!(
        out.contains("roll-ups rewritten from the responses"),
        "{out}"
    );
    assert!(out.contains("rollup_monthly: "), "{out}");
    assert_eq!(app.get(report, &app.admin).await.text, before.0);
    assert_eq!(app.get(partial, &app.admin).await.text, before.1);
    let (ok, out, _) = rebuild(true);
    assert!(ok && out.contains("roll-ups match"), "{out}");
}

#[tokio::test]
async fn keys_and_users_are_revoked_from_the_command_line() {
    let app = TestApp::spawn().await;
    app.province().await;
    let (ok, out, err) = run(
        {
            let mut c = hailong(&app.test_db);
            c.args([
                "key",
                "create",
                "--role",
                "viewer",
                "--agency",
                "A",
                "--name",
                "máy đọc",
            ]);
            c
        },
        None,
    );
    assert!(ok, "{err}");
    let key = out.lines().last().unwrap().trim().to_string();
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::OK
    );

    let (ok, list, err) = run(
        {
            let mut c = hailong(&app.test_db);
            c.args(["key", "list"]);
            c
        },
        None,
    );
    assert!(ok, "{err}");
    assert!(!list.contains(&key), "{list}");
    let line = list
        .lines()
        .find(|l| l.contains("máy đọc"))
        .expect("the new key is listed");
    let id = line.split('\t').next().unwrap().to_string();
    let (ok, _, err) = run(
        {
            let mut c = hailong(&app.test_db);
            c.args(["key", "revoke", &id]);
            c
        },
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(
        app.get("/api/v1/agencies", &key).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Users: add, list, change the password (read from stdin), disable.
    let user = |args: &[&str], stdin: Option<&str>| {
        let mut c = hailong(&app.test_db);
        c.arg("user").args(args);
        run(c, stdin)
    };
    let (ok, _, err) = user(
        &[
            "add",
            "--username",
            "lan",
            "--role",
            "manager",
            "--agency",
            "A",
        ],
        Some("mật khẩu đầu tiên\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = user(&["password", "lan"], Some("mật khẩu thứ hai\n"));
    assert!(ok, "{err}");
    let stored: entity::user::Model = <entity::user::Entity as sea_orm::EntityTrait>::find()
        .one(&app.db.read)
        .await
        .unwrap()
        .unwrap();
    assert!(hailong::govern::users::verify_password(
        "mật khẩu thứ hai",
        &stored.password_hash
    ));
    assert!(!hailong::govern::users::verify_password(
        "mật khẩu đầu tiên",
        &stored.password_hash
    ));
    let (ok, _, err) = user(&["password", "lan"], Some("short\n"));
    assert!(!ok && err.contains("at least 8"), "{err}");
    let (ok, _, err) = user(&["disable", "lan"], None);
    assert!(ok, "{err}");
    let (ok, list, _) = user(&["list"], None);
    assert!(ok && list.contains("lan\tmanager\tA\tdisabled"), "{list}");
    let (ok, _, err) = user(&["disable", "nobody"], None);
    assert!(!ok && err.contains("nobody"), "{err}");
}
