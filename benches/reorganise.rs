//! Reorganisation at scale: the report fixture of `benches/reports.rs` (the demo province
//! grown to 500 communes and departments, ratings over 2025) copied and reformed on
//! 1 July 2025 by one CSV of 1,000 changes: half of the 500 units merge into the other
//! half (250 merges), the 250 successors are renamed, and 500 moves put each successor
//! under the province again (a move to the same parent is still a new version of the
//! agency). Then the restated reports and ranking are timed on it.
//!
//! ```text
//! cargo bench --bench reorganise                                  # 1 M ratings
//! BENCH_SIZES=10000000 cargo bench --bench reorganise             # 10 M
//! ```
//!
//! The reformed copy is `BENCH_DIR/rN-reformed.db`, made on first use; the time the CSV
//! took to apply there is printed. `preview` (the same reform checked and written, then
//! rolled back) is timed by criterion on the fixture before the reform.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hailong::app::Context;
use hailong::config::Config;
use hailong::db::Db;
use hailong::domain::Year;
use hailong::govern::Principal;
use hailong::org::reorganise;
use hailong::report::{agency, annual};

#[path = "fixture.rs"]
mod fixture;
use fixture::{AGENCIES, YEAR, fixture, label, path_of, period, setup, sizes};

/// The reform as CSV, over the province's units of 1 July 2025 in code order.
async fn reform_csv(cx: &Context<'_>) -> String {
    // The units of the effective day (those a reform of the fixture ended are not among them).
    let agencies = cx.agencies_on("2025-07-01".parse().unwrap()).await.unwrap();
    let kh = agencies.by_code("KH").unwrap().id;
    let mut units: Vec<String> = agencies
        .tree
        .children(kh)
        .iter()
        .filter_map(|&id| agencies.get(id))
        .map(|a| a.code.clone())
        .collect();
    units.sort();
    units.truncate(AGENCIES);
    let pairs: Vec<(&String, &String)> = units.chunks_exact(2).map(|p| (&p[0], &p[1])).collect();
    let mut csv = String::from("kind,agency,from,into,name,parent\n");
    for (into, from) in &pairs {
        csv.push_str(&format!("merge,,{from},{into},,\n"));
    }
    for (i, (into, _)) in pairs.iter().enumerate() {
        csv.push_str(&format!("rename,{into},,,Đơn vị hợp nhất số {},\n", i + 1));
    }
    for _ in 0..2 {
        for (into, _) in &pairs {
            csv.push_str(&format!("move,{into},,,,KH\n"));
        }
    }
    csv
}

fn input(csv: &str) -> reorganise::NewReorganisation {
    reorganise::parse_csv_body(Some("2025-07-01"), Some("bench"), csv.as_bytes()).unwrap()
}

/// The reformed copy of the fixture of `n` ratings.
async fn reformed(n: u64, config: &Config, by: &Principal) -> Db {
    let source = path_of(n);
    let path = source.replace(".db", "-reformed.db");
    if !std::path::Path::new(&path).exists() {
        fixture(n).await.close().await;
        let _ = std::fs::remove_file(format!("{path}-wal"));
        std::fs::copy(&source, &path).unwrap();
        let db = Db::connect(&format!("sqlite://{path}")).await.unwrap();
        hailong::prepare(&db, |_| {}).await.unwrap();
        let cx = Context::new(&db, by, config);
        let csv = reform_csv(&cx).await;
        let started = Instant::now();
        let done = reorganise::reorganise(&cx, input(&csv)).await.unwrap();
        eprintln!(
            "reform of {} changes applied in {:.2} s",
            done.changes.len(),
            started.elapsed().as_secs_f64()
        );
        db.close().await;
    }
    // A copy made by an earlier build gets this build's migrations.
    let db = Db::connect(&format!("sqlite://{path}")).await.unwrap();
    hailong::prepare(&db, |_| {}).await.unwrap();
    db
}

fn bench(c: &mut Criterion) {
    let (rt, by, config) = setup();
    for n in sizes() {
        let size = label(n);
        let mut group = c.benchmark_group("reorganise");
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(20));
        {
            let db = rt.block_on(fixture(n));
            let cx = Context::new(&db, &by, &config);
            let csv = rt.block_on(reform_csv(&cx));
            group.bench_function(BenchmarkId::new("preview_1000_changes", &size), |b| {
                b.iter(|| rt.block_on(reorganise::preview(&cx, input(&csv))).unwrap())
            });
            rt.block_on(db.close());
        }
        let db = rt.block_on(reformed(n, &config, &by));
        let cx = Context::new(&db, &by, &config);
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(5));
        let kh = hailong::org::code_of("KH").unwrap();
        let successor = rt.block_on(async {
            let agencies = cx.agencies().await.unwrap();
            let kh_id = agencies.by_code("KH").unwrap().id;
            let first = agencies
                .tree
                .children(kh_id)
                .iter()
                .filter_map(|&id| agencies.get(id))
                .find(|a| !agencies.restated_from(a.id).is_empty())
                .unwrap()
                .code
                .clone();
            hailong::org::code_of(&first).unwrap()
        });
        let cases = [
            (
                "restated_province_year",
                &kh,
                period("2025-01-01", "2025-12-31"),
            ),
            (
                "restated_province_partial",
                &kh,
                period("2025-03-15", "2025-10-20"),
            ),
            (
                "restated_successor_year",
                &successor,
                period("2025-01-01", "2025-12-31"),
            ),
        ];
        for (name, code, q) in cases {
            group.bench_function(BenchmarkId::new(name, &size), |b| {
                b.iter(|| {
                    let report = rt.block_on(agency::report(&cx, code, q, None)).unwrap();
                    assert!(!report.restated_from.is_empty());
                    serde_json::to_vec(&report).unwrap()
                })
            });
        }
        group.bench_function(BenchmarkId::new("restated_annual_ranking", &size), |b| {
            b.iter(|| {
                let report = rt
                    .block_on(annual::ranking(&cx, Year::stored(YEAR), Some(&kh)))
                    .unwrap();
                assert!(report.rows.len() <= AGENCIES / 2 + 2);
                serde_json::to_vec(&report).unwrap()
            })
        });
        group.finish();
        rt.block_on(db.close());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
