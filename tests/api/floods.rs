//! Floods against the real server process: its memory and `/healthz` while they last.

use std::time::{Duration, Instant};

use crate::helpers::{TestDb, http, peak_rss_mib, spawn_server};

fn cookie_and_csrf(login_page: &str) -> (String, String) {
    let cookie = login_page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: hl_l="))
        .and_then(|v| v.split(';').next())
        .expect("the login cookie")
        .to_string();
    let marker = "name=\"csrf\" value=\"";
    let at = login_page.find(marker).expect("csrf input") + marker.len();
    let csrf = login_page[at..].split('"').next().unwrap().to_string();
    (cookie, csrf)
}

/// 128 sign-ins at once, each with a wrong password: argon2id takes 19 MiB a hash, so
/// without a bound on concurrent hashing this took the server past 2 GB. With it, the
/// process stays small and `/healthz` answers throughout.
#[tokio::test]
async fn a_sign_in_flood_keeps_memory_bounded_and_health_answering() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let db = TestDb::new().await;
    let (mut child, addr) = spawn_server(&db, &[("HAILONG_LOGIN_LIMIT", "1000000")]).await;
    let page = http(
        &addr,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (cookie, csrf) = cookie_and_csrf(&page);
    let body = format!("csrf={csrf}&username=nobody&password=wrong-password");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: hl_l={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let baseline = peak_rss_mib(child.id());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        for _ in 0..128 {
            let (addr, request) = (addr.clone(), request.clone());
            tasks.push(tokio::spawn(async move { http(&addr, &request).await }));
        }
    }
    let mut slowest_health = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let health = http(
            &addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        slowest_health = slowest_health.max(started.elapsed());
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut refused, mut busy) = (0, 0);
    for t in tasks {
        let answer = t.await.unwrap();
        if answer.starts_with("HTTP/1.1 401") {
            refused += 1;
        } else if answer.starts_with("HTTP/1.1 503") {
            assert!(
                answer.to_ascii_lowercase().contains("retry-after"),
                "{answer}"
            );
            busy += 1;
        } else {
            panic!("unexpected answer: {}", answer.lines().next().unwrap_or(""));
        }
    }
    let peak = peak_rss_mib(child.id());
    eprintln!(
        "sign-in flood: {refused} refused, {busy} busy; peak RSS {peak} MiB (baseline {baseline} MiB); slowest /healthz {slowest_health:?}"
    );
    assert!(refused > 0);
    assert!(
        peak < baseline + 200,
        "peak {peak} MiB over a baseline of {baseline} MiB"
    );
    assert!(
        slowest_health < Duration::from_secs(2),
        "{slowest_health:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// A JSON POST on a new connection, with an optional bearer key: the whole answer.
async fn post_json(addr: &str, path: &str, key: Option<&str>, body: &str) -> String {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

/// Runs the CLI against `db`; its standard output.
fn cli(db: &TestDb, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hailong"))
        .env("DATABASE_URL", &db.url)
        .env("HAILONG_LOG", "warn")
        .args(args)
        .output()
        .expect("run hailong");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wal_mib(db: &TestDb) -> u64 {
    let Some(path) = db.url.strip_prefix("sqlite://") else {
        return 0;
    };
    std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len() / (1024 * 1024))
}

/// Four CSV listings read by clients that stop reading, beside citizens rating: ratings
/// keep their latency, `/healthz` answers, the SQLite WAL stays bounded, and SIGTERM ends
/// the server within its grace period.
#[tokio::test]
async fn stalled_exports_never_hold_ratings_or_shutdown() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    cli(&db, &["demo", "--responses", "60000", "--year", "2025"]);
    let key = cli(&db, &["key", "create", "--role", "admin"]);
    let key = key.lines().last().unwrap().trim().to_string();
    let (mut child, addr) = spawn_server(&db, &[("HAILONG_RATE_LIMIT", "off")]).await;
    let body = r#"{"agency": "KH.STP"}"#;
    let link = post_json(&addr, "/api/v1/links", Some(&key), body).await;
    let token = link
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let baseline = peak_rss_mib(child.id());
    // Four listings that read one small piece, then stop.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!(
                "GET /api/v1/responses?format=csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut first = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read(&mut first)).await;
        stalled.push(s);
    }

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut slowest_health = Duration::ZERO;
    let mut stored = 0;
    while started.elapsed() < Duration::from_secs(8) {
        let body = format!(r#"{{"token":"{token}","answers":{{"overall":4}}}}"#);
        let t = Instant::now();
        let answer = post_json(&addr, "/api/v1/responses", None, &body).await;
        slowest = slowest.max(t.elapsed());
        assert!(
            answer.starts_with("HTTP/1.1 201"),
            "{}",
            answer.lines().next().unwrap_or("")
        );
        stored += 1;
        if stored % 50 == 0 {
            let t = Instant::now();
            let health = http(
                &addr,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await;
            slowest_health = slowest_health.max(t.elapsed());
            assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        }
    }
    let wal = wal_mib(&db);
    let peak = peak_rss_mib(child.id());
    eprintln!(
        "stalled exports: {stored} ratings stored, slowest {slowest:?}, WAL {wal} MiB; \
         peak RSS {peak} MiB (baseline {baseline} MiB); slowest /healthz {slowest_health:?}"
    );
    assert!(peak < baseline + 200, "peak {peak} MiB over {baseline} MiB");
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    assert!(wal < 80, "WAL grew to {wal} MiB");

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stopping = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "SIGTERM did not complete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(stalled);
}

/// `hailong key create` fifteen times beside a live server that stores ratings: every
/// command succeeds (it waits for the write lock instead of failing) and no rating fails.
#[tokio::test]
async fn the_cli_writes_beside_a_live_server_without_failing_ratings() {
    let _heavy = crate::helpers::HEAVY.lock().await;
    let db = TestDb::new().await;
    let key = cli(&db, &["key", "create", "--role", "admin"]);
    let key = key.lines().last().unwrap().trim().to_string();
    let (mut child, addr) = spawn_server(&db, &[("HAILONG_RATE_LIMIT", "off")]).await;
    let body = r#"{"code": "KH", "name": "Tỉnh", "parent": null}"#;
    let answer = post_json(&addr, "/api/v1/agencies", Some(&key), body).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let body = r#"{"agency": "KH"}"#;
    let link = post_json(&addr, "/api/v1/links", Some(&key), body).await;
    let token = link
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut raters = Vec::new();
    for _ in 0..4 {
        let (addr, token, done) = (addr.clone(), token.clone(), done.clone());
        raters.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let body = format!(r#"{{"token":"{token}","answers":{{"overall":5}}}}"#);
                let answer = post_json(&addr, "/api/v1/responses", None, &body).await;
                statuses.push(answer.lines().next().unwrap_or("").to_string());
            }
            statuses
        }));
    }
    for i in 0..15 {
        let db_url = db.url.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hailong"))
                .env("DATABASE_URL", db_url)
                .env("HAILONG_LOG", "warn")
                .args(["key", "create", "--role", "viewer", "--agency", "KH"])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "key create {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for r in raters {
        for status in r.await.unwrap() {
            assert!(status.starts_with("HTTP/1.1 201"), "{status}");
            total += 1;
        }
    }
    eprintln!("beside the CLI: {total} ratings, all stored");
    assert!(total > 0);
    let _ = child.kill();
    let _ = child.wait();
}
