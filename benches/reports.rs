//! Report times at scale, on SQLite files of generated ratings (500 agencies, the year
//! 2025):
//!
//! ```text
//! cargo bench --bench reports                                # 1 M ratings
//! BENCH_SIZES=1000000,10000000 cargo bench --bench reports   # 1 M and 10 M side by side
//! ```
//!
//! Each size's database is `BENCH_DIR/rN.db` (default `target/bench-data`), generated on
//! first use exactly like `hailong demo --responses N --agencies 500 --year 2025` (10 M
//! take about 7 minutes and 5 GB). The raw `GROUP BY` over a year's responses (what
//! verification reads) runs beside the roll-up reports for comparison.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hailong::app::Context;
use hailong::config::DEFAULT_TIMEZONE;

use hailong::domain::Year;
use hailong::report::agency;
use hailong::report::annual;

#[path = "fixture.rs"]
mod fixture;
use fixture::{AGENCIES, YEAR, fixture, label, period, setup, sizes};

fn reports(c: &mut Criterion) {
    let (rt, by, config) = setup();
    for n in sizes() {
        let db = rt.block_on(fixture(n));
        let cx = Context::new(&db, &by, &config);
        let size = label(n);
        let mut group = c.benchmark_group("reports");
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(5));
        let cases = [
            (
                "agency_province_year",
                "KH",
                period("2025-01-01", "2025-12-31"),
            ),
            (
                "agency_commune_year",
                "KH.STP",
                period("2025-01-01", "2025-12-31"),
            ),
            (
                "agency_commune_partial",
                "KH.STP",
                period("2025-03-15", "2025-10-20"),
            ),
            (
                "agency_province_partial",
                "KH",
                period("2025-03-15", "2025-10-20"),
            ),
        ];
        let kh = hailong::org::code_of("KH").unwrap();
        for (name, code, q) in &cases {
            let code = hailong::org::code_of(code).unwrap();
            group.bench_function(BenchmarkId::new(*name, &size), |b| {
                b.iter(|| {
                    let report = rt.block_on(agency::report(&cx, &code, *q, None)).unwrap();
                    serde_json::to_vec(&report).unwrap()
                })
            });
        }
        // The same report read afresh each time: nothing kept from the last request.
        let province = hailong::org::code_of("KH").unwrap();
        let partial = period("2025-03-15", "2025-10-20");
        group.bench_function(
            BenchmarkId::new("agency_province_partial_first", &size),
            |b| {
                b.iter(|| {
                    db.kept.clear();
                    let report = rt
                        .block_on(agency::report(&cx, &province, partial, None))
                        .unwrap();
                    serde_json::to_vec(&report).unwrap()
                })
            },
        );
        group.bench_function(BenchmarkId::new("annual_ranking", &size), |b| {
            b.iter(|| {
                let report = rt
                    .block_on(annual::ranking(&cx, Year::stored(YEAR), Some(&kh)))
                    .unwrap();
                assert_eq!(report.rows.len(), AGENCIES);
                serde_json::to_vec(&report).unwrap()
            })
        });
        group.finish();

        // The raw GROUP BY over the year's responses, for comparison: seconds, not ms.
        let mut raw = c.benchmark_group("raw");
        raw.sample_size(10)
            .measurement_time(Duration::from_secs(30));
        let units: Vec<i64> = (1..=(AGENCIES as i64 + 1)).collect();
        // In one query, and as verification reads it: in ranges of ids side by side.
        for parts in [1, annual::RECOUNT_PARTS] {
            let name = format!("group_by_year_in_{parts}");
            raw.bench_function(BenchmarkId::new(name, &size), |b| {
                b.iter(|| {
                    rt.block_on(annual::raw_tallies_in(
                        &db.read,
                        DEFAULT_TIMEZONE,
                        (YEAR, i64::MAX, hailong::now()),
                        &units,
                        parts,
                    ))
                    .unwrap()
                })
            });
        }
        raw.finish();
        rt.block_on(db.close());
    }
}

criterion_group!(benches, reports);
criterion_main!(benches);
