//! The generated databases that the report benches read, shared by `benches/reports.rs`
//! and `benches/reorganise.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hailong::config::{Config, DEFAULT_TIMEZONE};
use hailong::db::Db;
use hailong::domain::Period;
use hailong::govern::Principal;

pub const YEAR: i32 = 2025;
pub const AGENCIES: usize = 500;

/// The runtime, the caller (the command line's administrator) and the settings the benches
/// read reports with (30 responses to rank).
pub fn setup() -> (tokio::runtime::Runtime, Principal, Config) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::new(String::new(), "127.0.0.1:8080".parse().unwrap(), None);
    config.min_responses = 30;
    (rt, Principal::cli(), config)
}

/// A period from `from` to `to` (YYYY-MM-DD).
pub fn period(from: &str, to: &str) -> Period {
    Period::parse(Some(from), Some(to)).unwrap()
}

/// The sizes to run, from `BENCH_SIZES` (default 1 M).
pub fn sizes() -> Vec<u64> {
    std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

pub fn label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        n.to_string()
    }
}

/// Where the fixture of `n` ratings lives: `BENCH_DIR/rN.db` (default `target/bench-data`).
pub fn path_of(n: u64) -> String {
    let dir = std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-data".into());
    std::fs::create_dir_all(&dir).unwrap();
    format!("{dir}/r{}.db", label(n).to_lowercase())
}

/// The database of `n` ratings, generated when missing.
pub async fn fixture(n: u64) -> Db {
    let path = path_of(n);
    let url = format!("sqlite://{path}");
    let fresh = !std::path::Path::new(&path).exists();
    let db = Db::connect(&url).await.unwrap();
    hailong::prepare(&db, |_| {}).await.unwrap();
    if fresh {
        eprintln!("generating {n} ratings into {path} …");
        let config = Config::new(url.clone(), "127.0.0.1:8080".parse().unwrap(), None);
        hailong::demo::load(&db, &config).await.unwrap();
        hailong::demo::grow(&db, &config, AGENCIES).await.unwrap();
        let spec = hailong::generate::Spec {
            year: YEAR,
            count: n,
            seed: 2026,
            until: None,
            comments: false,
        };
        hailong::generate::ratings(&db, DEFAULT_TIMEZONE, &spec, |done| {
            if done.is_multiple_of(1_000_000) {
                eprintln!("  {done}");
            }
        })
        .await
        .unwrap();
    }
    db
}
