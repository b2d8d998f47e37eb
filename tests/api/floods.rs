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
