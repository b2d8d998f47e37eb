//! Drawing the charts with plotters, as PNG or SVG. Pure: figures in, bytes out. Text is
//! set in the bundled DejaVu Sans (by [`super::typeset`] on pixels; no system
//! fonts), numbers with the Vietnamese decimal comma, months as "Th1" … "Th12".

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::typeset::Typeset;
use crate::score::{Band, Bands};

/// The fonts every chart uses, bundled in `assets/fonts`.
pub static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
/// The family name charts ask for.
pub const FAMILY: &str = "DejaVu Sans";

/// Registers the bundled faces with plotters (the SVG charts measure text through them).
pub(super) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Both faces are bundled and checked by the tests: failing here is a build defect.
        let _ = register_font(FAMILY, FontStyle::Normal, REGULAR);
        let _ = register_font(FAMILY, FontStyle::Bold, BOLD);
    });
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Image {
    Png,
    Svg,
}

impl Image {
    /// From a file extension.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "png" => Some(Self::Png),
            "svg" => Some(Self::Svg),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// A share or threshold as people see it: `score::shown::share` (rounded down to a tenth,
/// decimal comma), so that no label reaches a band its figure does not.
pub fn vn(x: f64) -> String {
    crate::score::shown::share(x)
}

/// A count with a dot between thousands: `12.345`.
pub fn vn_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// `Th1` … `Th12`.
pub fn month_label(month: u32) -> String {
    format!("Th{month}")
}

/// At most `max` characters, with an ellipsis when cut.
pub fn fit(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let cut: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// One bar of the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankBar {
    pub label: String,
    pub rank: Option<u32>,
    pub responses: u64,
    pub pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub band: Band,
}

/// One month of an agency: its overall answers, and their share and interval when there
/// were any.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MonthFigure {
    pub n: u64,
    pub pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

/// What makes a month read differently from a whole, well-sampled one: fewer answers
/// than the year's minimum, or a month still running.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caveats {
    /// The year's minimum sample (`min_responses`).
    pub min_n: u64,
    /// The month (0 for January) that is not over yet, when it is in the year shown.
    pub running: Option<usize>,
}

impl Caveats {
    /// Whether `month`'s figure stands on fewer answers than the minimum.
    pub fn thin(&self, m: &MonthFigure) -> bool {
        m.n > 0 && m.n < self.min_n
    }

    /// The line under a chart that says how such months are marked.
    pub fn note(&self, running: &str) -> String {
        let mut parts = vec![format!("dưới {} câu trả lời: ghi số n", self.min_n)];
        if self.running.is_some() {
            parts.push(running.to_string());
        }
        parts.join(" · ")
    }
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Horizontal bars in rank order, Wilson whiskers, coloured by band.
    Ranking {
        title: String,
        bars: Vec<RankBar>,
        bands: Bands,
    },
    /// The monthly share with its interval, against the parent's.
    Trend {
        title: String,
        agency: String,
        /// Twelve months, January first.
        months: Vec<MonthFigure>,
        /// The parent's name and its twelve monthly shares.
        parent: Option<(String, Vec<Option<f64>>)>,
        /// Reorganisations within the year: where (in months, 0.5 the first day of
        /// January, 12.5 the end of December) and their label ("Sáp nhập 01/07/2025").
        marks: Vec<(f64, String)>,
        caveats: Caveats,
    },
    /// Stacked answers 1–5 per question.
    Distribution {
        title: String,
        rows: Vec<(String, [u64; 5])>,
    },
    /// Agencies × months, coloured by share.
    Heatmap {
        title: String,
        /// Each agency's twelve months.
        rows: Vec<(String, Vec<MonthFigure>)>,
        caveats: Caveats,
    },
}

type Fallible<T> = Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

const WIDTH: u32 = 1000;

/// Band colours: blues for the good bands, oranges for the others, grey without enough
/// data; they stay apart for red-green colour blindness, and every bar also carries its
/// band's short label ([`band_short`]).
fn band_colour(band: Band) -> RGBColor {
    match band {
        Band::Outstanding => RGBColor(0x1f, 0x4e, 0x8c),
        Band::Good => RGBColor(0x74, 0xa9, 0xcf),
        Band::Completed => RGBColor(0xf2, 0xb0, 0x5e),
        Band::NotCompleted => RGBColor(0xa6, 0x4b, 0x00),
        Band::InsufficientData => RGBColor(0xc8, 0xc8, 0xc8),
    }
}

/// A band in a word or two, beside each bar.
pub fn band_short(band: Band) -> &'static str {
    match band {
        Band::Outstanding => "XS",
        Band::Good => "Tốt",
        Band::Completed => "HT",
        Band::NotCompleted => "KHT",
        Band::InsufficientData => "chưa đủ",
    }
}

/// Orange (0 %) through near white (60 %) to blue (100 %): a scale that reads the same
/// to red-green colour-blind eyes.
fn share_colour(pct: f64) -> RGBColor {
    let t = (pct / 100.0).clamp(0.0, 1.0);
    let (a, b, u) = if t < 0.6 {
        ((0xb3, 0x58, 0x06), (0xf4, 0xf1, 0xe8), t / 0.6)
    } else {
        ((0xf4, 0xf1, 0xe8), (0x21, 0x66, 0xac), (t - 0.6) / 0.4)
    };
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `background`.
fn ink(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luminance = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luminance < 140.0 { WHITE } else { BLACK }
}

/// Answer levels 1–5: orange to purple through grey (ColorBrewer PuOr, safe for
/// colour-blind readers).
const LEVEL_COLOURS: [RGBColor; 5] = [
    RGBColor(0xb3, 0x58, 0x06),
    RGBColor(0xf1, 0xa3, 0x40),
    RGBColor(0xd9, 0xd9, 0xd9),
    RGBColor(0x99, 0x8e, 0xc3),
    RGBColor(0x54, 0x27, 0x88),
];
const LEVEL_NAMES: [&str; 5] = [
    "1 Rất không hài lòng",
    "2 Không hài lòng",
    "3 Bình thường",
    "4 Hài lòng",
    "5 Rất hài lòng",
];

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

fn bold(size: u32) -> TextStyle<'static> {
    (FAMILY, size)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
}

impl Chart {
    /// The picture's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let rows = |n: usize| u32::try_from(n).unwrap_or(u32::MAX / 64);
        match self {
            Chart::Ranking { bars, .. } => (WIDTH, 160 + 30 * rows(bars.len().max(1))),
            Chart::Trend { .. } => (WIDTH, 528),
            Chart::Distribution { rows: r, .. } => (WIDTH, 150 + 40 * rows(r.len().max(1))),
            Chart::Heatmap { rows: r, .. } => (WIDTH, 128 + 24 * rows(r.len().max(1))),
        }
    }

    /// Draws the chart in `format`.
    pub fn render(&self, format: Image) -> Fallible<Vec<u8>> {
        register();
        let (w, h) = self.size();
        match format {
            Image::Png => {
                let mut buf = vec![0u8; (w as usize) * (h as usize) * 3];
                {
                    let root = Typeset::pixels(BitMapBackend::with_buffer(&mut buf, (w, h)))
                        .into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(err)?;
                }
                let img = image::RgbImage::from_raw(w, h, buf).ok_or("bad buffer size")?;
                let mut out = std::io::Cursor::new(Vec::new());
                img.write_to(&mut out, image::ImageFormat::Png)
                    .map_err(err)?;
                Ok(out.into_inner())
            }
            Image::Svg => {
                let mut text = String::new();
                {
                    let root = Typeset::vector(SVGBackend::with_string(&mut text, (w, h)))
                        .into_drawing_area();
                    self.draw(&root)?;
                    root.present().map_err(err)?;
                }
                Ok(text.into_bytes())
            }
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Fallible<()> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Chart::Ranking { title, bars, bands } => ranking(root, title, bars, bands),
            Chart::Trend {
                title,
                agency,
                months,
                parent,
                marks,
                caveats,
            } => trend(
                root,
                (title, agency),
                months,
                parent.as_ref(),
                marks,
                caveats,
            ),
            Chart::Distribution { title, rows } => distribution(root, title, rows),
            Chart::Heatmap {
                title,
                rows,
                caveats,
            } => heatmap(root, title, rows, caveats),
        }
    }
}

fn text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    style: &TextStyle<'_>,
) -> Fallible<()> {
    root.draw(&Text::new(s.to_string(), at, style.clone()))
        .map_err(err)
}

/// A row of coloured squares with their names, from `x` at height `y`.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, RGBColor)],
    (mut x, y): (i32, i32),
) -> Fallible<()> {
    let style = font(12);
    for (name, colour) in items {
        area.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], colour.filled()))
            .map_err(err)?;
        text(area, name, (x + 19, y), &style)?;
        let (w, _) = area.estimate_text_size(name, &style).map_err(err)?;
        x += 19 + i32::try_from(w).unwrap_or(200) + 18;
    }
    Ok(())
}

/// Splits a long label into at most two lines at a space.
fn two_lines(label: &str, width: usize) -> Vec<String> {
    if label.chars().count() <= width {
        return vec![label.to_string()];
    }
    let words: Vec<&str> = label.split(' ').collect();
    let mut first = String::new();
    let mut rest = 0;
    for (i, w) in words.iter().enumerate() {
        let next = if first.is_empty() {
            w.to_string()
        } else {
            format!("{first} {w}")
        };
        if next.chars().count() > width && !first.is_empty() {
            rest = i;
            break;
        }
        first = next;
        rest = i + 1;
    }
    let second = words[rest.min(words.len())..].join(" ");
    if second.is_empty() {
        vec![fit(&first, width)]
    } else {
        vec![fit(&first, width), fit(&second, width)]
    }
}

/// The coordinates of `n` horizontal rows over 0–100 %, with the x axis drawn and the
/// rows' labels left to the caller.
fn percent_rows<'a, 'b, DB: DrawingBackend>(
    mut builder: ChartBuilder<'a, 'b, DB>,
    n: usize,
    x_desc: &str,
) -> Fallible<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let mut chart = builder
        .build_cartesian_2d(0f64..100f64, 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .y_labels(0)
        .x_labels(11)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc(x_desc)
        .label_style(font(13))
        .axis_desc_style(font(13))
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn ranking<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[RankBar],
    bands: &Bands,
) -> Fallible<()> {
    let (head, body) = root.split_vertically(64);
    text(&head, title, (16, 10), &bold(20))?;
    let items: Vec<(String, RGBColor)> = [
        (Band::Outstanding, format!(" ≥ {}", vn(bands.outstanding))),
        (Band::Good, format!(" ≥ {}", vn(bands.good))),
        (Band::Completed, format!(" ≥ {}", vn(bands.completed))),
        (Band::NotCompleted, String::new()),
        (Band::InsufficientData, String::new()),
    ]
    .into_iter()
    .map(|(b, tail)| {
        let name = format!("{}: {}{tail}", band_short(b), b.name_vi());
        (name, band_colour(b))
    })
    .collect();
    legend(&head, &items, (16, 40))?;
    let n = bars.len().max(1);
    let mut builder = ChartBuilder::on(&body);
    builder
        .margin(14)
        .margin_top(4)
        .x_label_area_size(48)
        .y_label_area_size(330)
        .right_y_label_area_size(150);
    let mut chart = percent_rows(builder, n, "Tỷ lệ hài lòng (%), khoảng tin cậy 95%")?;
    for value in [bands.completed, bands.good, bands.outstanding] {
        chart
            .draw_series(DashedLineSeries::new(
                [(value, 0.0), (value, n as f64)],
                4,
                3,
                RGBColor(0x55, 0x55, 0x55).stroke_width(1),
            ))
            .map_err(err)?;
    }
    let grey = RGBColor(0x60, 0x60, 0x60);
    for (i, bar) in bars.iter().enumerate() {
        // Row 0 at the top.
        let top = (n - i) as f64 - 0.15;
        let bottom = (n - i - 1) as f64 + 0.15;
        if let Some(pct) = bar.pct {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, bottom), (pct, top)],
                    band_colour(bar.band).filled(),
                )))
                .map_err(err)?;
        }
        if let Some([lo, hi]) = bar.ci95 {
            let mid = (top + bottom) / 2.0;
            let whisker = BLACK.stroke_width(1);
            chart
                .draw_series([
                    PathElement::new(vec![(lo, mid), (hi, mid)], whisker),
                    PathElement::new(vec![(lo, mid - 0.2), (lo, mid + 0.2)], whisker),
                    PathElement::new(vec![(hi, mid - 0.2), (hi, mid + 0.2)], whisker),
                ])
                .map_err(err)?;
        }
        let (_, y) = chart.backend_coord(&(0.0, (top + bottom) / 2.0));
        let style = if bar.rank.is_some() {
            font(13)
        } else {
            font(13).color(&grey)
        };
        let rank = bar.rank.map_or("–".to_string(), |r| r.to_string());
        text(root, &rank, (16, y - 8), &style)?;
        let lines = two_lines(&bar.label, 42);
        if lines.len() == 1 {
            text(root, &lines[0], (48, y - 8), &style)?;
        } else {
            let small = if bar.rank.is_some() {
                font(12)
            } else {
                font(12).color(&grey)
            };
            text(root, &lines[0], (48, y - 15), &small)?;
            text(root, &lines[1], (48, y + 1), &small)?;
        }
        let value = match (bar.pct, bar.rank) {
            (Some(p), Some(_)) => format!("{} · {}", vn(p), band_short(bar.band)),
            (_, None) => format!("n = {} · chưa đủ", bar.responses),
            (None, Some(_)) => String::new(),
        };
        let (right, _) = chart.backend_coord(&(100.0, 0.0));
        text(root, &value, (right + 10, y - 8), &style)?;
    }
    Ok(())
}

fn trend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, agency): (&str, &str),
    months: &[MonthFigure],
    parent: Option<&(String, Vec<Option<f64>>)>,
    marks: &[(f64, String)],
    caveats: &Caveats,
) -> Fallible<()> {
    let (_, h) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(h.saturating_sub(48));
    let mut chart = ChartBuilder::on(&body)
        .caption(title, bold(20))
        .margin(14)
        .margin_bottom(4)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0.5f64..12.5f64, 0f64..100f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .x_label_formatter(&|x| {
            let m = x.round();
            if (1.0..=12.0).contains(&m) && (x - m).abs() < 0.01 {
                month_label(m as u32)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("Tỷ lệ hài lòng (%)")
        .label_style(font(13))
        .axis_desc_style(font(13))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(err)?;
    let blue = RGBColor(0x1f, 0x5f, 0xa8);
    // Runs of consecutive months with answers: the band and the line break at gaps.
    // Each point: x, share, interval, month.
    type Point = (f64, f64, [f64; 2], usize);
    let mut runs: Vec<Vec<Point>> = vec![Vec::new()];
    for (i, m) in months.iter().enumerate() {
        match (m.pct, m.ci95) {
            (Some(pct), Some(ci)) => {
                if let Some(run) = runs.last_mut() {
                    run.push((i as f64 + 1.0, pct, ci, i));
                }
            }
            _ => runs.push(Vec::new()),
        }
    }
    for run in runs.iter().filter(|r| !r.is_empty()) {
        let mut outline: Vec<(f64, f64)> = run.iter().map(|(x, _, ci, _)| (*x, ci[1])).collect();
        outline.extend(run.iter().rev().map(|(x, _, ci, _)| (*x, ci[0])));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                blue.mix(0.18).filled(),
            )))
            .map_err(err)?;
    }
    for run in runs.iter().filter(|r| !r.is_empty()) {
        chart
            .draw_series(LineSeries::new(
                run.iter().map(|(x, p, _, _)| (*x, *p)),
                blue.stroke_width(3),
            ))
            .map_err(err)?;
        // A month under the minimum or still running: an open point, with its n.
        for &(x, p, _, m) in run {
            let month = &months[m];
            let open = caveats.thin(month) || caveats.running == Some(m);
            let point = if open {
                Circle::new((x, p), 5, WHITE.filled())
            } else {
                Circle::new((x, p), 4, blue.filled())
            };
            chart.draw_series([point]).map_err(err)?;
            if open {
                chart
                    .draw_series([Circle::new((x, p), 5, blue.stroke_width(2))])
                    .map_err(err)?;
                let (px, py) = chart.backend_coord(&(x, p));
                let below = if p > 50.0 { 10 } else { -26 };
                text(
                    &body,
                    &format!("n = {}", month.n),
                    (px - 18, py + below),
                    &font(12).color(&blue),
                )?;
            }
        }
    }
    if let Some((_, values)) = parent {
        let grey = RGBColor(0x66, 0x66, 0x66);
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64 + 1.0, v)))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(points, 6, 4, grey.stroke_width(2)))
            .map_err(err)?;
    }
    // Each reorganisation: a dashed line at its day, its label at the top.
    let mark = RGBColor(0x8a, 0x3b, 0x00);
    for (i, (x, label)) in marks.iter().enumerate() {
        let x = x.clamp(0.5, 12.5);
        chart
            .draw_series(DashedLineSeries::new(
                [(x, 0.0), (x, 100.0)],
                5,
                4,
                mark.stroke_width(2),
            ))
            .map_err(err)?;
        let y = 96.0 - 6.0 * i as f64;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (x + 0.08, y),
                font(13).color(&mark),
            )))
            .map_err(err)?;
    }
    // The key below the plot, set by us (plotters sizes its own box narrower than the text).
    let key_style = font(13);
    let mut x = 64;
    let own = format!("{agency} (vùng: khoảng tin cậy 95%)");
    let mut keys = vec![(own, blue, 3, false)];
    if let Some((name, _)) = parent {
        keys.push((name.clone(), RGBColor(0x66, 0x66, 0x66), 2, true));
    }
    for (label, colour, width, dashed) in keys {
        let line = colour.stroke_width(width);
        if dashed {
            foot.draw(&PathElement::new(vec![(x, 10), (x + 8, 10)], line))
                .map_err(err)?;
            foot.draw(&PathElement::new(vec![(x + 13, 10), (x + 22, 10)], line))
                .map_err(err)?;
        } else {
            foot.draw(&PathElement::new(vec![(x, 10), (x + 22, 10)], line))
                .map_err(err)?;
        }
        text(&foot, &label, (x + 28, 2), &key_style)?;
        let (w, _) = foot.estimate_text_size(&label, &key_style).map_err(err)?;
        x += 28 + i32::try_from(w).unwrap_or(300) + 24;
    }
    let note = format!("○ điểm rỗng: {}", caveats.note("tháng chưa hết"));
    text(&foot, &note, (64, 26), &key_style)?;
    Ok(())
}

fn distribution<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[(String, [u64; 5])],
) -> Fallible<()> {
    let n = rows.len().max(1);
    let (_, h) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(h.saturating_sub(36));
    let mut builder = ChartBuilder::on(&body);
    builder
        .caption(title, bold(20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(230);
    let mut chart = percent_rows(builder, n, "Tỷ lệ câu trả lời (%)")?;
    for (i, (label, counts)) in rows.iter().enumerate() {
        let top = (n - i) as f64 - 0.2;
        let bottom = (n - i - 1) as f64 + 0.2;
        let total: u64 = counts.iter().sum();
        let (_, y) = chart.backend_coord(&(0.0, (top + bottom) / 2.0));
        text(
            root,
            &fit(&format!("{label} (n = {total})"), 30),
            (16, y - 7),
            &font(13),
        )?;
        if total == 0 {
            continue;
        }
        let mut start = 0.0;
        for (level, count) in counts.iter().enumerate() {
            let share = *count as f64 * 100.0 / total as f64;
            if share > 0.0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(start, bottom), (start + share, top)],
                        LEVEL_COLOURS[level].filled(),
                    )))
                    .map_err(err)?;
                if share >= 6.0 {
                    let (x, _) = chart.backend_coord(&(start + share / 2.0, 0.0));
                    let colour = ink(LEVEL_COLOURS[level]);
                    let style = font(12).color(&colour);
                    text(root, &format!("{share:.0}"), (x - 8, y - 7), &style)?;
                }
            }
            start += share;
        }
    }
    let items: Vec<(String, RGBColor)> = LEVEL_NAMES
        .iter()
        .zip(LEVEL_COLOURS)
        .map(|(name, colour)| ((*name).to_string(), colour))
        .collect();
    legend(&foot, &items, (16, 8))?;
    Ok(())
}

fn heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[(String, Vec<MonthFigure>)],
    caveats: &Caveats,
) -> Fallible<()> {
    let n = rows.len().max(1);
    let (_, h) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(h.saturating_sub(28));
    let mut chart = ChartBuilder::on(&body)
        .caption(title, bold(20))
        .margin(14)
        .margin_bottom(0)
        .x_label_area_size(30)
        .y_label_area_size(300)
        .build_cartesian_2d(0f64..12f64, 0f64..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_y_axis()
        .y_labels(0)
        .x_labels(0)
        .draw()
        .map_err(err)?;
    for m in 0..12 {
        let (x, _) = chart.backend_coord(&(m as f64 + 0.5, 0.0));
        let (_, y) = chart.backend_coord(&(0.0, 0.0));
        let mut label = month_label(m as u32 + 1);
        if caveats.running == Some(m) {
            label.push('*');
        }
        text(&body, &label, (x - 12, y + 6), &font(12))?;
    }
    let blank = RGBColor(0xf0, 0xf0, 0xf0);
    for (i, (label, months)) in rows.iter().enumerate() {
        let top = (n - i) as f64;
        let bottom = (n - i - 1) as f64;
        let (_, y) = chart.backend_coord(&(0.0, (top + bottom) / 2.0));
        text(&body, &fit(label, 38), (16, y - 7), &font(12))?;
        for (m, month) in months.iter().enumerate() {
            // A share on too few answers is not coloured: its n is written instead.
            let shown = month.pct.filter(|_| !caveats.thin(month));
            let colour = shown.map_or(blank, share_colour);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (m as f64 + 0.03, bottom + 0.06),
                        (m as f64 + 0.97, top - 0.06),
                    ],
                    colour.filled(),
                )))
                .map_err(err)?;
            let (x, _) = chart.backend_coord(&(m as f64 + 0.5, 0.0));
            let cell = match shown {
                Some(v) => Some((vn(v), ink(colour))),
                None if month.n > 0 => Some((format!("n={}", month.n), RGBColor(0x44, 0x44, 0x44))),
                None => None,
            };
            if let Some((value, colour)) = cell {
                let style = font(12).color(&colour);
                let (w, _) = body.estimate_text_size(&value, &style).map_err(err)?;
                let half = i32::try_from(w / 2).unwrap_or(0);
                text(&body, &value, (x - half, y - 7), &style)?;
            }
        }
    }
    let mut note = format!("Ô xám: {}", caveats.note("* tháng chưa hết"));
    note.push_str(" · màu: cam (thấp) → xanh (cao)");
    text(&foot, &note, (16, 6), &font(13))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_months_read_the_vietnamese_way() {
        assert_eq!(vn(87.46), "87,4");
        assert_eq!(vn(89.98), "89,9");
        assert_eq!(vn(100.0), "100,0");
        assert_eq!(month_label(1), "Th1");
        assert_eq!(vn_count(0), "0");
        assert_eq!(vn_count(999), "999");
        assert_eq!(vn_count(1234567), "1.234.567");
        assert_eq!(month_label(12), "Th12");
        assert_eq!(fit("Sở Văn hóa, Thể thao và Du lịch", 12), "Sở Văn hóa,…");
        assert_eq!(fit("Sở Y tế", 12), "Sở Y tế");
    }

    #[test]
    fn the_bundled_font_has_every_vietnamese_letter() {
        use ab_glyph::{Font, FontRef};
        let letters = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ";
        for face in [REGULAR, BOLD] {
            let font = FontRef::try_from_slice(face).unwrap();
            for c in letters.chars().chain(letters.to_lowercase().chars()) {
                assert_ne!(font.glyph_id(c).0, 0, "{c} missing");
            }
        }
    }

    fn sample() -> Vec<Chart> {
        let bars = (0..40)
            .map(|i| RankBar {
                label: format!("Phường Đông Ninh Hòa và các xã lân cận số {i}"),
                rank: (i < 35).then_some(i + 1),
                responses: 100,
                pct: Some(95.0 - f64::from(i)),
                ci95: Some([90.0 - f64::from(i), 98.0 - f64::from(i) / 2.0]),
                band: if i < 35 {
                    Band::Good
                } else {
                    Band::InsufficientData
                },
            })
            .collect();
        let mut months = vec![MonthFigure::default(); 12];
        for (i, m) in months.iter_mut().enumerate().take(10) {
            if i != 4 {
                *m = MonthFigure {
                    n: 10 * i as u64,
                    pct: Some(80.0 + i as f64),
                    ci95: Some([75.0, 85.0 + i as f64]),
                };
            }
        }
        let caveats = Caveats {
            min_n: 30,
            running: Some(9),
        };
        let cell = |pct: f64, n: u64| MonthFigure {
            n,
            pct: Some(pct),
            ci95: None,
        };
        vec![
            Chart::Ranking {
                title: "Xếp hạng năm 2025".into(),
                bars,
                bands: Bands::default(),
            },
            Chart::Trend {
                title: "Xu hướng".into(),
                agency: "Sở Tư pháp".into(),
                months,
                parent: Some(("Tỉnh".into(), vec![Some(82.0); 12])),
                marks: vec![(6.5, "Sáp nhập 01/07/2025".into())],
                caveats,
            },
            Chart::Distribution {
                title: "Phân bố".into(),
                rows: vec![
                    ("Nhìn chung".into(), [1, 2, 3, 40, 50]),
                    ("Công chức".into(), [0; 5]),
                ],
            },
            Chart::Heatmap {
                title: "Bản đồ nhiệt".into(),
                rows: vec![(
                    "Sở Y tế".into(),
                    vec![
                        cell(50.0, 40),
                        MonthFigure::default(),
                        cell(99.0, 100),
                        cell(80.0, 7),
                        MonthFigure::default(),
                        MonthFigure::default(),
                        MonthFigure::default(),
                        MonthFigure::default(),
                        MonthFigure::default(),
                        cell(70.0, 31),
                        MonthFigure::default(),
                        cell(0.0, 30),
                    ],
                )],
                caveats,
            },
        ]
    }

    #[test]
    fn svg_text_is_escaped() {
        let chart = Chart::Distribution {
            title: "<script>alert(1)</script> & \"Sở\"".into(),
            rows: vec![("<b>".into(), [1, 0, 0, 0, 1])],
        };
        let svg = String::from_utf8(chart.render(Image::Svg).unwrap()).unwrap();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn every_chart_renders_as_png_and_svg() {
        for chart in sample() {
            let png = chart.render(Image::Png).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            let decoded = image::load_from_memory(&png).unwrap();
            assert_eq!((decoded.width(), decoded.height()), chart.size());
            let svg = String::from_utf8(chart.render(Image::Svg).unwrap()).unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
            assert!(svg.contains(FAMILY));
            // `CHART_DUMP=dir` keeps the pictures for a look.
            if let Ok(dir) = std::env::var("CHART_DUMP") {
                let name = format!("{dir}/{}.png", chart.size().1);
                std::fs::write(name, &png).unwrap();
                std::fs::write(format!("{dir}/{}.svg", chart.size().1), &svg).unwrap();
            }
        }
    }
}
