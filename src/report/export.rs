//! Reports as tables: CSV (UTF-8 with a byte-order mark, so that spreadsheet programs show
//! Vietnamese correctly; a header of the JSON field names; numbers unrounded, as in the
//! JSON) and XLSX (a title, Vietnamese column labels, the same unrounded numbers shown with
//! one decimal).

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::agency::AgencyReport;
use super::annual::AnnualReport;
use crate::error::{Error, Result};
use crate::follow::figures::LoopFigures;
use crate::score::{ELEMENTS, Figures, shown};

/// A report's output format (`format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Xlsx,
}

impl ReportFormat {
    /// `json` (also when absent), `csv` or `xlsx`; else 422 `invalid_format`.
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        match raw {
            None | Some("") | Some("json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some("xlsx") => Ok(Self::Xlsx),
            Some(_) => Err(
                Error::unprocessable("invalid_format", "format is json, csv or xlsx")
                    .with_field("format"),
            ),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(u64),
    /// A figure: `None` (no answers) is an empty cell.
    Num(Option<f64>),
    /// A share in percent (or an interval's lower end): in full in CSV; in XLSX as people
    /// see it on the pages, rounded down to a tenth (`score::shown`), so that a sheet never
    /// shows 90,0 beside a band its share does not reach.
    Share(Option<f64>),
    /// An interval's upper end: in XLSX rounded up to a tenth.
    ShareUp(Option<f64>),
}

/// A column: the field name (CSV header) and its Vietnamese label (XLSX header).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub key: String,
    pub label: String,
}

fn col(key: impl Into<String>, label: impl Into<String>) -> Column {
    Column {
        key: key.into(),
        label: label.into(),
    }
}

/// A report flattened to rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The XLSX title line.
    pub title: String,
    /// The XLSX sheet name (at most 31 characters).
    pub sheet: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Short Vietnamese names of the elements of satisfaction.
pub fn element_label(key: &str) -> &str {
    match key {
        crate::score::OVERALL => "Nhìn chung",
        "access" => "Tiếp cận dịch vụ",
        "procedure" => "Thủ tục hành chính",
        "staff" => "Công chức",
        "result" => "Kết quả",
        "feedback" => "Tiếp nhận, xử lý góp ý",
        other => other,
    }
}

fn ci(f: Option<[f64; 2]>) -> [Cell; 2] {
    [Cell::Share(f.map(|c| c[0])), Cell::ShareUp(f.map(|c| c[1]))]
}

/// The columns of a share and its interval.
fn share_columns(prefix: &str, label: &str) -> Vec<Column> {
    vec![
        col(
            format!("{prefix}satisfaction_pct"),
            format!("{label}Tỷ lệ hài lòng (%)"),
        ),
        col(
            format!("{prefix}ci95_lo"),
            format!("{label}Cận dưới KTC 95% (%)"),
        ),
        col(
            format!("{prefix}ci95_hi"),
            format!("{label}Cận trên KTC 95% (%)"),
        ),
        col(format!("{prefix}mean"), format!("{label}Điểm trung bình")),
    ]
}

fn share_cells(pct: Option<f64>, ci95: Option<[f64; 2]>, mean: Option<f64>) -> Vec<Cell> {
    let [lo, hi] = ci(ci95);
    vec![Cell::Share(pct), lo, hi, Cell::Num(mean)]
}

/// The columns of Decision 766's follow-up and dossier figures (API.md, "Closing the loop").
fn loop_columns() -> Vec<Column> {
    vec![
        col("cases", "Số phản ánh cần trả lời"),
        col("answered", "Số phản ánh đã trả lời"),
        col("answered_on_time", "Số phản ánh trả lời đúng hạn"),
        col("on_time_pct", "Tỷ lệ trả lời đúng hạn (%)"),
        col("overdue_open", "Số phản ánh quá hạn chưa trả lời"),
        col("reply_rated", "Số câu trả lời được đánh giá"),
        col("reply_dissatisfied", "Số câu trả lời không hài lòng"),
        col(
            "handling_satisfaction_pct",
            "Tỷ lệ hài lòng về giải quyết phản ánh (%)",
        ),
        col("dossiers", "Số hồ sơ đã giải quyết"),
        col("response_rate", "Số phiếu trên mỗi hồ sơ"),
        col(
            "dossier_satisfaction_pct",
            "Tỷ lệ hài lòng về giải quyết thủ tục (%)",
        ),
    ]
}

/// The cells of [`loop_columns`]: empty where the figure is `null` in JSON.
fn loop_cells(f: &LoopFigures) -> Vec<Cell> {
    let count = |n: Option<u64>| n.map_or(Cell::Text(String::new()), Cell::Int);
    let up = f.follow_up.as_ref();
    vec![
        count(up.map(|u| u.cases)),
        count(up.map(|u| u.answered)),
        count(up.map(|u| u.answered_on_time)),
        Cell::Share(up.and_then(|u| u.on_time_pct)),
        count(up.map(|u| u.overdue_open)),
        count(up.map(|u| u.reply_rated)),
        count(up.map(|u| u.reply_dissatisfied)),
        Cell::Share(up.and_then(|u| u.handling_satisfaction_pct)),
        count(f.dossiers),
        Cell::Num(f.response_rate),
        Cell::Share(f.dossier_satisfaction_pct),
    ]
}

/// The agency report: a `total` row for the agency over its subtree, then a `child` row per
/// direct child (children carry the figures the JSON gives them; other cells are empty).
/// What a restated report says of itself in its title: the day of its tree and the ended
/// agencies it includes (API.md, "Reorganisation"); empty when it restates nothing.
fn restated_note(r: &AgencyReport) -> String {
    if r.restated_from.is_empty() {
        return String::new();
    }
    format!(
        "; tính theo cơ cấu ngày {}, gồm cả số liệu của {}",
        r.as_of.format("%d/%m/%Y"),
        r.restated_from.join(", ")
    )
}

pub fn agency_table(r: &AgencyReport) -> Table {
    let mut columns = vec![
        col("row", "Dòng"),
        col("agency", "Mã đơn vị"),
        col("name", "Tên đơn vị"),
        col("from", "Từ ngày"),
        col("to", "Đến ngày"),
        col("responses", "Số phiếu"),
        col("excluded", "Số phiếu bị loại"),
        col("satisfied", "Số phiếu hài lòng"),
    ];
    columns.extend(share_columns("", ""));
    columns.push(col("index", "Chỉ số hài lòng (%)"));
    for level in 1..=5 {
        columns.push(col(
            format!("answers_{level}"),
            format!("Số phiếu mức {level}"),
        ));
    }
    for key in ELEMENTS {
        let label = format!("{}: ", element_label(key));
        columns.push(col(format!("{key}_n"), format!("{label}Số phiếu")));
        columns.extend(share_columns(&format!("{key}_"), &label));
    }
    let empty = |n: usize| std::iter::repeat_n(Cell::Text(String::new()), n);
    let mut total = vec![
        Cell::Text("total".into()),
        Cell::Text(r.agency.clone()),
        Cell::Text(r.name.clone()),
        Cell::Text(r.from.to_string()),
        Cell::Text(r.to.to_string()),
        Cell::Int(r.responses),
        Cell::Int(r.excluded),
        Cell::Int(r.satisfied),
    ];
    total.extend(share_cells(r.satisfaction_pct, r.ci95, r.mean));
    total.push(Cell::Share(r.index));
    for level in 1..=5 {
        let n = r.distribution.get(&level.to_string()).copied().unwrap_or(0);
        total.push(Cell::Int(n));
    }
    for key in ELEMENTS {
        let f: Option<&Figures> = r.elements.get(key);
        total.push(Cell::Int(f.map_or(0, |f| f.n)));
        total.extend(share_cells(
            f.and_then(|f| f.satisfaction_pct),
            f.and_then(|f| f.ci95),
            f.and_then(|f| f.mean),
        ));
    }
    // Added in round 2, last so that the earlier columns keep their places.
    columns.push(col("held", "Số phiếu chờ xem xét"));
    columns.push(col("assisted", "Số phiếu có người hỗ trợ"));
    total.push(Cell::Int(r.held));
    total.push(Cell::Int(r.assisted));
    columns.push(col("as_of", "Cơ cấu tổ chức tính theo ngày"));
    columns.push(col("restated_from", "Gồm cả số liệu của"));
    total.push(Cell::Text(r.as_of.to_string()));
    total.push(Cell::Text(r.restated_from.join(" ")));
    columns.extend(loop_columns());
    total.extend(loop_cells(&r.loop_figures));
    let width = columns.len();
    let mut rows = vec![total];
    for c in &r.children {
        let mut row = vec![
            Cell::Text("child".into()),
            Cell::Text(c.agency.clone()),
            Cell::Text(c.name.clone()),
            Cell::Text(r.from.to_string()),
            Cell::Text(r.to.to_string()),
            Cell::Int(c.responses),
        ];
        row.extend(empty(2));
        row.extend(share_cells(c.satisfaction_pct, c.ci95, c.mean));
        row.push(Cell::Share(c.index));
        row.extend(empty(width - row.len()));
        rows.push(row);
    }
    Table {
        title: format!(
            "Mức độ hài lòng: {} ({} – {}){}",
            r.name,
            r.from.format("%d/%m/%Y"),
            r.to.format("%d/%m/%Y"),
            restated_note(r),
        ),
        sheet: "Báo cáo".into(),
        columns,
        rows,
    }
}

/// The annual ranking: one row per agency, in rank order.
pub fn annual_table(r: &AnnualReport) -> Table {
    let mut columns = vec![
        col("rank", "Hạng"),
        col("agency", "Mã đơn vị"),
        col("name", "Tên đơn vị"),
        col("responses", "Số phiếu"),
        col("excluded", "Số phiếu bị loại"),
        col("satisfied", "Số phiếu hài lòng"),
    ];
    columns.extend(share_columns("", ""));
    columns.push(col("index", "Chỉ số hài lòng (%)"));
    columns.push(col("band", "Xếp loại (mã)"));
    columns.push(col("band_name", "Xếp loại"));
    // Added in round 2, last so that the earlier columns keep their places.
    columns.push(col("held", "Số phiếu chờ xem xét"));
    columns.extend(loop_columns());
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.rank
                    .map_or(Cell::Text(String::new()), |n| Cell::Int(u64::from(n))),
                Cell::Text(row.agency.clone()),
                Cell::Text(row.name.clone()),
                Cell::Int(row.responses),
                Cell::Int(row.excluded),
                Cell::Int(row.satisfied),
            ];
            cells.extend(share_cells(row.satisfaction_pct, row.ci95, row.mean));
            cells.push(Cell::Share(row.index));
            cells.push(Cell::Text(row.band.as_str().into()));
            cells.push(Cell::Text(row.band.name_vi().into()));
            cells.push(Cell::Int(row.held));
            cells.extend(loop_cells(&row.loop_figures));
            cells
        })
        .collect();
    let status = match &r.digest {
        Some(d) => format!("đã chốt, SHA-256 {d}"),
        None => "chưa chốt".to_string(),
    };
    Table {
        title: format!(
            "Xếp hạng mức độ hài lòng năm {} ({}), {status}",
            r.year,
            r.parent.as_deref().unwrap_or(super::annual::TOP_LEVEL)
        ),
        sheet: format!("Xếp hạng {}", r.year),
        columns,
        rows,
    }
}

/// A text cell that a spreadsheet would read as a formula (first character `=`, `+`, `-`,
/// `@`, tab or carriage return) gets a leading `'`, so that `=HYPERLINK(…)` in a citizen's
/// comment or an agency's name stays text when the CSV is opened.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// CSV bytes: a byte-order mark, the header of field names, the rows.
pub fn to_csv(t: &Table) -> Result<Vec<u8>> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(t.columns.iter().map(|c| c.key.as_str()))
            .map_err(Error::internal)?;
        for row in &t.rows {
            w.write_record(row.iter().map(|cell| match cell {
                Cell::Text(s) => neutralise(s).into_owned(),
                Cell::Int(n) => n.to_string(),
                Cell::Num(Some(x)) | Cell::Share(Some(x)) | Cell::ShareUp(Some(x)) => x.to_string(),
                Cell::Num(None) | Cell::Share(None) | Cell::ShareUp(None) => String::new(),
            }))
            .map_err(Error::internal)?;
        }
        w.flush().map_err(Error::internal)?;
    }
    Ok(out)
}

/// XLSX bytes: the title, the Vietnamese labels, the rows; means keep every digit and show
/// two decimals, shares are written as the pages show them (a tenth, rounded down).
pub fn to_xlsx(t: &Table) -> Result<Vec<u8>> {
    let mut sheet = SheetWriter::new(&t.title, &t.sheet, &t.columns)?;
    for row in &t.rows {
        sheet.row(row)?;
    }
    sheet.finish()
}

/// An XLSX sheet written row by row into a temporary file (rust_xlsxwriter's constant-memory
/// mode), so that a long listing costs the compressed file, not every cell in memory.
pub struct SheetWriter {
    book: Workbook,
    next_row: u32,
    figure: Format,
    share: Format,
}

impl SheetWriter {
    const HEADER_ROW: u32 = 2;

    pub fn new(title: &str, sheet: &str, columns: &[Column]) -> Result<Self> {
        Self::start(title, sheet, columns).map_err(Error::internal)
    }

    fn start(title: &str, sheet_name: &str, columns: &[Column]) -> Result<Self, XlsxError> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory()?;
        sheet.set_name(sheet_name.chars().take(31).collect::<String>())?;
        for (i, c) in (0u16..).zip(columns) {
            sheet.set_column_width(i, if c.key == "name" { 40 } else { 14 })?;
        }
        sheet.write_string_with_format(0, 0, title, &Format::new().set_bold())?;
        let header = Format::new().set_bold().set_text_wrap();
        for (i, c) in (0u16..).zip(columns) {
            sheet.write_string_with_format(Self::HEADER_ROW, i, &c.label, &header)?;
        }
        sheet.set_freeze_panes(Self::HEADER_ROW + 1, 0)?;
        Ok(Self {
            book,
            next_row: Self::HEADER_ROW + 1,
            figure: Format::new().set_num_format("0.00"),
            share: Format::new().set_num_format("0.0"),
        })
    }

    /// Appends one row.
    pub fn row(&mut self, row: &[Cell]) -> Result<()> {
        self.write(row).map_err(Error::internal)
    }

    fn write(&mut self, row: &[Cell]) -> Result<(), XlsxError> {
        let r = self.next_row;
        let sheet = self.book.worksheet_from_index(0)?;
        for (i, cell) in (0u16..).zip(row) {
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    sheet.write_string(r, i, s)?;
                }
                // Counts stay exact: Excel holds integers up to 2^53 exactly.
                Cell::Int(n) => {
                    sheet.write_number(r, i, *n as f64)?;
                }
                Cell::Num(Some(x)) => {
                    sheet.write_number_with_format(r, i, *x, &self.figure)?;
                }
                Cell::Share(Some(x)) => {
                    sheet.write_number_with_format(r, i, shown::tenths_down(*x), &self.share)?;
                }
                Cell::ShareUp(Some(x)) => {
                    sheet.write_number_with_format(r, i, shown::tenths_up(*x), &self.share)?;
                }
                Cell::Num(None) | Cell::Share(None) | Cell::ShareUp(None) => {}
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// The rows written so far, without the title and header.
    pub fn rows(&self) -> u32 {
        self.next_row - Self::HEADER_ROW - 1
    }

    /// The finished file.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.book.save_to_buffer().map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_stay_text() {
        for (raw, safe) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Sở Tư pháp", "Sở Tư pháp"),
            ("", ""),
        ] {
            assert_eq!(neutralise(raw), safe, "{raw:?}");
        }
    }

    #[test]
    fn formats_parse_and_bad_ones_are_refused() {
        assert_eq!(ReportFormat::parse(None).unwrap(), ReportFormat::Json);
        assert_eq!(ReportFormat::parse(Some("csv")).unwrap(), ReportFormat::Csv);
        assert_eq!(
            ReportFormat::parse(Some("xlsx")).unwrap(),
            ReportFormat::Xlsx
        );
        assert_eq!(
            ReportFormat::parse(Some("pdf")).unwrap_err().code,
            "invalid_format"
        );
    }

    #[test]
    fn csv_starts_with_a_byte_order_mark_and_keeps_diacritics() {
        let t = Table {
            title: "t".into(),
            sheet: "s".into(),
            columns: vec![col("name", "Tên"), col("pct", "Tỷ lệ")],
            rows: vec![vec![
                Cell::Text("Sở Tư pháp, \"A\"".into()),
                Cell::Num(Some(2.0 / 3.0 * 100.0)),
            ]],
        };
        let bytes = to_csv(&t).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\u{feff}name,pct\n\"Sở Tư pháp, \"\"A\"\"\",66.66666666666666\n"
        );
        let xlsx = to_xlsx(&t).unwrap();
        assert_eq!(&xlsx[..2], b"PK");
    }
}
