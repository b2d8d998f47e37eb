//! Chart drawing times for 100 agencies: `cargo bench --bench charts`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hailong::chart::{Caveats, Chart, Image, MonthFigure, RankBar};
use hailong::score::{Band, Bands};

const AGENCIES: usize = 100;

fn charts() -> Vec<(&'static str, Chart)> {
    let share = |i: usize| 40.0 + (i * 37 % 60) as f64;
    let bars = (0..AGENCIES)
        .map(|i| RankBar {
            label: format!("Ủy ban nhân dân phường Đông Ninh Hòa số {i}"),
            rank: (i < 90).then_some(i as u32 + 1),
            responses: 1000,
            pct: Some(share(i)),
            ci95: Some([share(i) - 3.0, (share(i) + 3.0).min(100.0)]),
            band: if i < 90 {
                Band::Good
            } else {
                Band::InsufficientData
            },
        })
        .collect();
    let months = (0..12)
        .map(|m| MonthFigure {
            n: 100 + m,
            pct: Some(80.0 + m as f64),
            ci95: Some([76.0 + m as f64, 84.0 + m as f64]),
        })
        .collect();
    let caveats = Caveats {
        min_n: 30,
        running: Some(11),
    };
    vec![
        (
            "ranking",
            Chart::Ranking {
                title: "Xếp hạng mức độ hài lòng năm 2025".into(),
                bars,
                bands: Bands::default(),
            },
        ),
        (
            "heatmap",
            Chart::Heatmap {
                title: "Tỷ lệ hài lòng theo tháng".into(),
                rows: (0..AGENCIES)
                    .map(|i| {
                        (
                            format!("Xã Mẫu số {i}"),
                            (0..12)
                                .map(|m| MonthFigure {
                                    n: 40,
                                    pct: Some(share(i + m)),
                                    ci95: None,
                                })
                                .collect(),
                        )
                    })
                    .collect(),
                caveats,
            },
        ),
        (
            "trend",
            Chart::Trend {
                title: "Tỷ lệ hài lòng theo tháng năm 2025: Sở Tư pháp".into(),
                agency: "Sở Tư pháp".into(),
                months,
                parent: Some((
                    "Ủy ban nhân dân tỉnh Khánh Hòa".into(),
                    vec![Some(82.0); 12],
                )),
                marks: vec![(6.5, "Sáp nhập 01/07/2025".into())],
                caveats,
            },
        ),
        (
            "distribution",
            Chart::Distribution {
                title: "Phân bố câu trả lời".into(),
                rows: (0..6)
                    .map(|i| (format!("Câu hỏi {i}"), [10, 20, 30, 400, 500]))
                    .collect(),
            },
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("charts");
    for (name, chart) in charts() {
        for (ext, format) in [("png", Image::Png), ("svg", Image::Svg)] {
            group.bench_function(BenchmarkId::new(name, ext), |b| {
                b.iter(|| chart.render(format).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
