//! A chart on a page: its SVG drawn into the page (crisp at any zoom, no second request),
//! named for screen readers, with a table of the same figures under it and the PNG and the
//! table's CSV to download. A chart of more than [`INLINE_ROWS`] rows (a province's 500
//! communes) is not built with the page: the page links its SVG as an image, which the
//! browser fetches on its own, and its table as CSV.

use super::*;
use crate::chart::render::{band_short, month_label};
use crate::chart::{Caveats, Chart, MonthFigure};

/// The most rows (agencies) a chart drawn into the page has.
pub(super) const INLINE_ROWS: usize = 60;

/// One chart as a page shows it.
pub(super) struct ChartBlock {
    /// The SVG, ready to be written into the page, and the table of its figures; `None`
    /// for a large chart, shown from `src` with its table in the CSV.
    pub svg: Option<String>,
    pub table: Option<DataTable>,
    /// The chart's name for screen readers.
    pub label: String,
    /// The chart's address without its extension and its query (`/charts/heatmap`,
    /// `year=2025&parent=KH`): `.svg`, `.png` and `.csv` of it.
    pub src: String,
    pub query: String,
}

/// Rows of text under a header; each row's first cell names it.
pub(super) struct DataTable {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The one sentence that says what the interval is.
pub(super) const INTERVAL: &str = "Khoảng tin cậy 95% (KTC): với số phiếu đã có, tỷ lệ thật \
    nằm trong khoảng này với độ tin cậy 95%; càng ít phiếu, khoảng càng rộng.";

/// Draws `chart` (from the shared cache) into the page; `(src, query)` is its address.
pub(super) async fn block(
    state: &AppState,
    chart: Chart,
    (src, query): (String, String),
) -> Result<ChartBlock, Error> {
    let table = table_of(&chart);
    let label = match &chart {
        Chart::Ranking { title, .. }
        | Chart::Trend { title, .. }
        | Chart::Distribution { title, .. }
        | Chart::Heatmap { title, .. } => format!("{title} (số liệu trong bảng ngay sau)"),
    };
    let bytes = state.charts.render(chart, Image::Svg).await?;
    Ok(ChartBlock {
        svg: Some(named(&String::from_utf8_lossy(&bytes), &label)),
        table: Some(table),
        label,
        src,
        query,
    })
}

/// A large chart, not built with the page: shown from its address, its table as CSV.
pub(super) fn linked((src, query): (String, String), label: String) -> ChartBlock {
    ChartBlock {
        svg: None,
        table: None,
        label: format!("{label} (số liệu trong tệp CSV ngay sau)"),
        src,
        query,
    }
}

/// The table of `chart` as CSV: a byte-order mark, the Vietnamese header, the rows (text
/// that a spreadsheet would read as a formula made text).
pub(crate) fn csv_of(chart: &Chart) -> Result<Vec<u8>, Error> {
    let table = table_of(chart);
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&table.head).map_err(Error::internal)?;
        for row in &table.rows {
            w.write_record(
                row.iter()
                    .map(|c| crate::report::export::neutralise(c).into_owned()),
            )
            .map_err(Error::internal)?;
        }
        w.flush().map_err(Error::internal)?;
    }
    Ok(out)
}

/// The SVG as an image with an accessible name (escaped: a name may hold any text).
pub(super) fn named(svg: &str, label: &str) -> String {
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    match svg.strip_prefix("<svg ") {
        Some(rest) => format!(r#"<svg role="img" aria-label="{label}" {rest}"#),
        None => svg.to_string(),
    }
}

/// A share with its sample, as a table cell: "87,4", "n = 7 (dưới tối thiểu)", "–".
fn month_cell(m: &MonthFigure, caveats: &Caveats) -> String {
    match m.pct {
        _ if caveats.thin(m) => format!("n = {} (dưới tối thiểu)", vn_count(m.n)),
        Some(p) => vn(p),
        None => "–".into(),
    }
}

fn month_name(m: usize, caveats: &Caveats) -> String {
    let name = month_label(m as u32 + 1);
    if caveats.running == Some(m) {
        format!("{name} (chưa hết tháng)")
    } else {
        name
    }
}

/// The figures a chart draws, as a table.
fn table_of(chart: &Chart) -> DataTable {
    match chart {
        Chart::Ranking { title, bars, .. } => DataTable {
            caption: title.clone(),
            head: [
                "Hạng",
                "Đơn vị",
                "Số phiếu",
                "Tỷ lệ hài lòng (%)",
                "KTC 95%",
                "Xếp loại",
            ]
            .map(String::from)
            .to_vec(),
            rows: bars
                .iter()
                .map(|b| {
                    vec![
                        b.rank.map_or("–".into(), |r| r.to_string()),
                        b.label.clone(),
                        vn_count(b.responses),
                        pct_text(b.pct),
                        ci_text(b.ci95),
                        format!("{} ({})", b.band.name_vi(), band_short(b.band)),
                    ]
                })
                .collect(),
        },
        Chart::Trend {
            title,
            agency,
            months,
            parent,
            caveats,
            ..
        } => {
            let mut head = vec![
                "Tháng".to_string(),
                "Số câu trả lời".to_string(),
                format!("{agency} (%)"),
                "KTC 95%".to_string(),
            ];
            if let Some((name, _)) = parent {
                head.push(format!("{name} (%)"));
            }
            let rows = months
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let mut row = vec![
                        month_name(i, caveats),
                        vn_count(m.n),
                        month_cell(m, caveats),
                        ci_text(m.ci95),
                    ];
                    if let Some((_, shares)) = parent {
                        row.push(pct_text(shares.get(i).copied().flatten()));
                    }
                    row
                })
                .collect();
            DataTable {
                caption: title.clone(),
                head,
                rows,
            }
        }
        Chart::Distribution { title, rows } => DataTable {
            caption: title.clone(),
            head: [
                "Nội dung",
                "Số câu trả lời",
                "1 Rất không hài lòng",
                "2 Không hài lòng",
                "3 Bình thường",
                "4 Hài lòng",
                "5 Rất hài lòng",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .map(|(label, counts)| {
                    let total: u64 = counts.iter().sum();
                    std::iter::once(label.clone())
                        .chain(std::iter::once(vn_count(total)))
                        .chain(counts.iter().map(|&c| vn_count(c)))
                        .collect()
                })
                .collect(),
        },
        Chart::Heatmap {
            title,
            rows,
            caveats,
        } => DataTable {
            caption: title.clone(),
            head: std::iter::once("Đơn vị".to_string())
                .chain((0..12).map(|m| month_name(m, caveats)))
                .collect(),
            rows: rows
                .iter()
                .map(|(name, months)| {
                    std::iter::once(name.clone())
                        .chain(months.iter().map(|m| month_cell(m, caveats)))
                        .collect()
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_is_named_and_its_name_escaped() {
        let svg = named(r#"<svg width="1" height="1"></svg>"#, r#"Sở "A" & <B>"#);
        assert!(
            svg.starts_with(
                r#"<svg role="img" aria-label="Sở &quot;A&quot; &amp; &lt;B&gt;" width="1""#
            ),
            "{svg}"
        );
    }

    #[test]
    fn a_month_under_the_minimum_shows_its_n_not_its_share() {
        let caveats = Caveats {
            min_n: 30,
            running: Some(11),
        };
        let thin = MonthFigure {
            n: 7,
            pct: Some(100.0),
            ci95: None,
        };
        assert_eq!(month_cell(&thin, &caveats), "n = 7 (dưới tối thiểu)");
        let whole = MonthFigure { n: 30, ..thin };
        assert_eq!(month_cell(&whole, &caveats), "100,0");
        assert_eq!(month_cell(&MonthFigure::default(), &caveats), "–");
        assert_eq!(month_name(11, &caveats), "Th12 (chưa hết tháng)");
        assert_eq!(month_name(0, &caveats), "Th1");
    }
}
