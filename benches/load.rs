//! The load script: submits ratings over HTTP with N concurrent clients against a release
//! build, and reports throughput and p50/p99 latency.
//!
//! ```text
//! cargo bench --bench load -- [--clients 64] [--seconds 10] [--mode api|form|both] [--rules on|off]
//!                                [--low-share 0.2] [--servers 1]
//! ```
//!
//! `--servers 2` starts two servers on the same database, each with its own connections and
//! caches as two processes would have, and spreads the clients over them (client *i* to
//! server *i* mod 2): on PostgreSQL (`LOAD_DATABASE_URL`), ingest through two app servers
//! against one.
//!
//! `--low-share 0.2` makes one API rating in five a 1 (*Rất không hài lòng*), which opens a
//! case in the storing transaction (API.md, "Closing the loop").
//!
//! `--rules off` sets every integrity rule to 0 first; with them on (the default rules),
//! one link taking thousands of ratings a second holds nearly all of them as a burst, the
//! most work the rules can cause: every rating judged, and a hold row stored for each.
//!
//! It starts the real server in this process on 127.0.0.1 (a fresh SQLite file in a temp
//! folder, or `LOAD_DATABASE_URL`), with the rate limit off (every client comes from one
//! address), creates an agency, a desk and a desk link, then for each mode runs a one-second
//! warm-up and the measured period:
//!
//! - `api`: `POST /api/v1/responses` with five answers;
//! - `form`: `GET /r/{token}` then `POST /r/{token}` (form-encoded, 303), timed as a pair.
//!
//! Each client is a task with its own keep-alive connection that sends its next request as
//! soon as the previous one is answered (a closed loop).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use hailong::app::Context;
use hailong::collect::links::{self, Created, NewLink};
use hailong::config::Config;
use hailong::db::Db;
use hailong::govern::Principal;
use hailong::org::{self, NewAgency, NewDesk};
use hailong::web::{AppState, router};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

struct Options {
    clients: usize,
    seconds: u64,
    modes: Vec<&'static str>,
    rules: bool,
    /// One rating in this many is a 1 (which opens a case); 0: none.
    low_every: u64,
    /// Servers on the one database.
    servers: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let modes = match value("--mode").as_deref() {
        Some("api") => vec!["api"],
        Some("form") => vec!["form"],
        _ => vec!["api", "form"],
    };
    Options {
        clients: value("--clients")
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        seconds: value("--seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        modes,
        rules: value("--rules").as_deref() != Some("off"),
        low_every: value("--low-share")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(0, |s| (1.0 / s).round() as u64),
        servers: value("--servers")
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1),
    }
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("LOAD_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("load.db").display()));
    let db = Db::connect(&url).await.unwrap();
    hailong::prepare(&db, |_| {}).await.unwrap();
    let mut bases = Vec::new();
    let mut config = None;
    for _ in 0..options.servers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut server_config = Config::new(url.clone(), addr, Some(base.clone()));
        server_config.rate_limit = None;
        // Each server its own connections and caches, as a process of its own would have.
        let state = AppState::new(Db::connect(&url).await.unwrap(), server_config.clone());
        // The server's own accept loop, with its timeouts and connection cap.
        tokio::spawn(hailong::web::server::run(
            listener,
            router(state),
            hailong::config::DEFAULT_MAX_CONNECTIONS,
            std::future::pending(),
        ));
        bases.push(base);
        config.get_or_insert(server_config);
    }
    let config = config.unwrap();
    let token = fixture(&db, &config).await;
    if !options.rules {
        let cli = Principal::cli();
        let off = serde_json::json!({"burst_max": 0, "burst_window_s": 0, "min_seconds": 0, "repeat_max": 0});
        hailong::collect::integrity::put_rules(&Context::new(&db, &cli, &config), &off)
            .await
            .unwrap();
    }
    println!(
        "hailong load: {} clients, {} server(s), {} s per mode, rules {}, database {}",
        options.clients,
        options.servers,
        options.seconds,
        if options.rules { "on" } else { "off" },
        if url.starts_with("sqlite") {
            "SQLite (temp file)"
        } else {
            "PostgreSQL"
        }
    );
    for mode in &options.modes {
        phase(
            &bases,
            &token,
            mode,
            (options.clients, options.low_every),
            Duration::from_secs(1),
        )
        .await;
        let report = phase(
            &bases,
            &token,
            mode,
            (options.clients, options.low_every),
            Duration::from_secs(options.seconds),
        )
        .await;
        report.print(mode);
    }
    db.close().await;
}

async fn fixture(db: &Db, config: &Config) -> String {
    let cli = Principal::cli();
    let cx = Context::new(db, &cli, config);
    let agency = NewAgency {
        code: "LOAD".into(),
        name: "Trung tâm Phục vụ hành chính công".into(),
        parent: None,
        level: None,
    };
    org::create_agency(&cx, agency).await.unwrap();
    let desk = NewDesk {
        code: "MC1".into(),
        name: "Quầy số 1".into(),
    };
    org::create_desk(&cx, &org::code_of("LOAD").unwrap(), desk)
        .await
        .unwrap();
    let link: NewLink =
        serde_json::from_value(serde_json::json!({"agency": "LOAD", "desk": "MC1"})).unwrap();
    match links::create(&cx, link).await.unwrap() {
        Created::New(dto) | Created::Existing(dto) => dto.token,
    }
}

struct Report {
    done: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn print(mut self, mode: &str) {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            self.latencies.get(i).copied().unwrap_or_default()
        };
        let what = if mode == "api" {
            "ratings/s through POST /api/v1/responses"
        } else {
            "form GET+POST pairs/s"
        };
        println!(
            "{mode:>4}: {:>8.0} {what}; {} done, {} errors in {:.1} s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.done as f64 / self.elapsed.as_secs_f64(),
            self.done,
            self.errors,
            self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.latencies
                .last()
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3,
        );
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

async fn send(
    client: &Http,
    method: Method,
    uri: &str,
    content_type: &str,
    body: &'static str,
) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    match client.request(req).await {
        Ok(res) => {
            let status = res.status();
            // Read the whole body, as a browser would.
            let _ = res.into_body().collect().await;
            status
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn phase(
    bases: &[String],
    token: &str,
    mode: &str,
    (clients, low_every): (usize, u64),
    length: Duration,
) -> Report {
    let started = Instant::now();
    let deadline = started + length;
    let body_of = |overall: u8| -> &'static str {
        Box::leak(
            format!(
                r#"{{"token":"{token}","answers":{{"overall":{overall},"access":4,"procedure":4,"staff":5,"result":4}}}}"#
            )
            .into_boxed_str(),
        )
    };
    let api_body = body_of(5);
    let low_body = body_of(1);
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let base = bases[i % bases.len()].clone();
        let token = token.to_string();
        let api = mode == "api";
        tasks.push(tokio::spawn(async move {
            let client: Http = Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(1)
                .build_http();
            let form_url = format!("{base}/r/{token}");
            let api_url = format!("{base}/api/v1/responses");
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut sent: u64 = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                sent += 1;
                let body = if low_every > 0 && sent.is_multiple_of(low_every) {
                    low_body
                } else {
                    api_body
                };
                let ok = if api {
                    send(&client, Method::POST, &api_url, "application/json", body).await
                        == StatusCode::CREATED
                } else {
                    send(&client, Method::GET, &form_url, "text/html", "").await == StatusCode::OK
                        && send(
                            &client,
                            Method::POST,
                            &form_url,
                            "application/x-www-form-urlencoded",
                            "lang=vi&overall=5&access=4&procedure=5&staff=5&result=4&feedback=&comment=&website=",
                        )
                        .await
                            == StatusCode::SEE_OTHER
                };
                if ok {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut report = Report {
        done: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        report.done += latencies.len();
        report.errors += errors;
        report.latencies.extend(latencies);
    }
    report.elapsed = started.elapsed();
    report
}
