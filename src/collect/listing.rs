//! The response listing: the stored responses of an agency's subtree over a period, oldest
//! first, as JSON, CSV or XLSX, each with its status (`counted`, `held`, `excluded`). Large periods stream without holding the database: a task
//! reads [`PAGE`] responses at a time, each page in its own short query (keyset on
//! `(submitted_at, id)`, never one long snapshot, so the SQLite WAL can be checkpointed
//! while a slow client downloads), and sends the body in chunks of about [`CHUNK`] bytes.
//! A client that stops reading for [`STALL`] is given up. Callers bound how many listings
//! run at once (the permit handed to [`open`] lives as long as the listing).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use futures_util::Stream;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::import::{ANSWER_COLUMNS, CSV_HEADER};
use super::integrity::Reason;
use crate::app::Context;
use crate::domain::{Period, Role};
use crate::error::{Error, Result};
pub use crate::report::export::ReportFormat as Format;
use crate::report::export::{Cell, Column, SheetWriter, neutralise};
use crate::rollup::Status;

/// The most responses an XLSX listing holds (it is sent only once complete, so its time is
/// bounded here; its memory is not at stake: rows go to a temporary file); longer periods
/// are for CSV.
pub const MAX_XLSX_ROWS: usize = 100_000;

/// Responses read per query.
pub const PAGE: u64 = 500;

/// A client that takes no data for this long is given up.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// The body is sent in chunks of about this many bytes.
pub const CHUNK: usize = 32 * 1024;

/// The query of `GET /api/v1/responses`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// The agency whose subtree is listed; by default the caller's own (every agency for
    /// administrators).
    pub agency: Option<String>,
    /// First day, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// `json` (default), `csv` (with a byte-order mark) or `xlsx` (built in memory: at most
    /// 100,000 responses; longer periods are for CSV).
    pub format: Option<String>,
}

/// One listed response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ListedResponse {
    pub id: i64,
    pub agency: String,
    pub desk: Option<String>,
    pub questionnaire: String,
    pub channel: String,
    pub submitted_at: DateTime<Utc>,
    /// Only the answered questions.
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, i16>,
    pub comment: Option<String>,
    pub excluded: bool,
    /// `counted`, `held` or `excluded`.
    pub status: Status,
    /// The rules it tripped when stored (kept after a release).
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
    pub assisted: bool,
}

/// The whole JSON body, for the OpenAPI document (the server streams it).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResponseList {
    pub responses: Vec<ListedResponse>,
}

/// Checks the request and starts streaming. Roles: administrators; managers and viewers
/// within their scope.
pub async fn open(
    cx: &Context<'_>,
    query: ListQuery,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<(
    Format,
    impl Stream<Item = Result<Bytes, std::io::Error>> + use<>,
)> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    by.require_role(&Role::READ_RESPONSES)?;
    let format = Format::parse(query.format.as_deref())?;
    let period = Period::parse(query.from.as_deref(), query.to.as_deref())
        .map_err(|(field, e)| Error::invalid(field, e))?;
    let agency = crate::org::code_of_opt(query.agency.as_deref())?;
    let agencies = cx.subtree_or_own(agency.as_ref()).await?;
    let listing = statement(
        db.read.get_database_backend(),
        agencies,
        period.instants(tz),
    );
    let conn = db.read.clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let _permit = permit;
        if let Err(e) = produce(&conn, listing, format, tz, &tx).await {
            tracing::error!(error = %e, "the response listing stopped");
            // An error mid-body aborts the connection: the client sees a failed transfer,
            // never a complete-looking file with rows missing.
            let _ = tx.send(Err(std::io::Error::other("listing failed"))).await;
        }
    });
    Ok((
        format,
        // A closed receiver answers `None` again if polled after its end, as the gzip layer
        // does (an `unfold` stream panics then).
        {
            let mut rx = rx;
            futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        },
    ))
}

/// The columns of a listed response (table, column, name), then its `answers`; a page holds
/// each response as an array of them in this order.
const COLUMNS: [(&str, &str, &str); 11] = [
    ("r", "id", "id"),
    ("a", "code", "agency"),
    ("d", "code", "desk"),
    ("q", "key", "questionnaire"),
    ("r", "channel", "channel"),
    ("r", "submitted_at", "submitted_at"),
    ("r", "comment", "comment"),
    ("r", "assisted", "assisted"),
    ("e", "reason", "excluded_reason"),
    ("h", "reasons", "held_reasons"),
    ("h", "released_at", "released_at"),
];

/// The responses with their answers, oldest first; [`produce`] adds the keyset condition
/// and the limit of each page. The answers come as one text column, `key=value,…` (see
/// [`answers_of`]), so a response is one row: a page used to read its answers in a second
/// query, nearly four rows per response, and the time went into handing rows over.
fn statement(
    backend: DbBackend,
    agencies: Option<Vec<i64>>,
    (start, end): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> Listing {
    let t = |name: &str| Alias::new(name);
    let c = super::raw::col;
    let mut q = Query::select();
    super::raw::pick(&mut q, &COLUMNS)
        .expr_as(answers_of(backend), t("answers"))
        .from_as(t("responses"), t("r"))
        .join_as(
            JoinType::InnerJoin,
            t("agencies"),
            t("a"),
            c("a", "id").equals((t("r"), t("agency_id"))),
        )
        .join_as(
            JoinType::LeftJoin,
            t("desks"),
            t("d"),
            c("d", "id").equals((t("r"), t("desk_id"))),
        )
        .join_as(
            JoinType::InnerJoin,
            t("questionnaires"),
            t("q"),
            c("q", "id").equals((t("r"), t("questionnaire_id"))),
        )
        .join_as(
            JoinType::LeftJoin,
            t("exclusions"),
            t("e"),
            c("e", "response_id").equals((t("r"), t("id"))),
        )
        .join_as(
            JoinType::LeftJoin,
            t("holds"),
            t("h"),
            c("h", "response_id").equals((t("r"), t("id"))),
        )
        .order_by((t("r"), t("submitted_at")), Order::Asc)
        .order_by((t("r"), t("id")), Order::Asc);
    if let Some(ids) = agencies {
        q.and_where(c("r", "agency_id").is_in(ids));
    }
    if let Some(end) = end {
        q.and_where(c("r", "submitted_at").lt(end));
    }
    Listing { select: q, start }
}

/// What a listing reads: its statement, and its first instant, which [`read_page`] adds as
/// the lower bound of each page.
struct Listing {
    select: SelectStatement,
    start: Option<DateTime<Utc>>,
}

/// A response's answers as `key=value` pairs separated by commas (question keys are
/// built in: letters and `_`), or NULL when it has none.
fn answers_of(backend: DbBackend) -> Expr {
    let aggregate = match backend {
        DbBackend::Postgres => "string_agg",
        _ => "group_concat",
    };
    Expr::cust(format!(
        "(SELECT {aggregate}(x.question_key || '=' || x.value, ',') \
         FROM answers x WHERE x.response_id = r.id)"
    ))
}

/// The answers of [`answers_of`]'s text.
fn parse_answers(text: Option<&str>) -> Result<BTreeMap<String, i16>, sea_orm::DbErr> {
    let mut answers = BTreeMap::new();
    for pair in text
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let parsed = pair
            .rsplit_once('=')
            .and_then(|(key, value)| Some((key, value.parse::<i16>().ok()?)));
        let Some((key, value)) = parsed else {
            return Err(sea_orm::DbErr::Type(format!("an answer reads {pair:?}")));
        };
        answers.insert(key.to_owned(), value);
    }
    Ok(answers)
}

async fn produce(
    conn: &DatabaseConnection,
    listing: Listing,
    format: Format,
    tz: Tz,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let mut out = Renderer::new(format, tz);
    let mut after: Option<(DateTime<Utc>, i64)> = None;
    loop {
        let listed = read_page(conn, &listing, after, PAGE).await?;
        let Some(last) = listed.last() else { break };
        after = Some((last.submitted_at, last.id));
        for r in &listed {
            out.push(r)?;
            if out.buf.len() >= CHUNK && !send(tx, out.take()).await {
                return Ok(()); // the client went away or stopped reading
            }
        }
        if (listed.len() as u64) < PAGE {
            break;
        }
    }
    out.finish()?;
    send(tx, out.take()).await;
    Ok(())
}

/// At most `limit` responses of `listing` after `after` (its time and id) in listing order,
/// with their answers.
///
/// The database hands over the whole page as one JSON text ([`crate::db::json_rows`]):
/// handing over rows one by one cost more than reading and rendering them (about 20 µs a
/// response; `docs/PERFORMANCE.md`, "The response listing").
async fn read_page(
    conn: &impl ConnectionTrait,
    listing: &Listing,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u64,
) -> Result<Vec<ListedResponse>, sea_orm::DbErr> {
    let c = |column: &str| Expr::col((Alias::new("r"), Alias::new(column)));
    let mut page = listing.select.clone();
    // Each page starts where the last one ended: its lower bound on time is the later of the
    // period's start and the last response listed (SQLite seeks to one lower bound only, and
    // took the period's: each page read the index from the start of the period again).
    let lower = match (listing.start, after) {
        (Some(start), Some((at, _))) => Some(Ord::max(start, at)),
        (start, after) => start.or(after.map(|(at, _)| at)),
    };
    if let Some(lower) = lower {
        page.and_where(c("submitted_at").gte(lower));
    }
    if let Some((at, id)) = after {
        // The rest of the keyset: after that response in (submitted_at, id) order.
        page.and_where(
            Expr::tuple([c("submitted_at"), c("id")])
                .gt(Expr::tuple([Expr::val(at), Expr::val(id)])),
        );
    }
    page.limit(limit);
    let fields: Vec<&str> = COLUMNS
        .iter()
        .map(|(_, _, name)| *name)
        .chain(["answers"])
        .collect();
    let rows: Vec<PageRow> =
        crate::db::json_rows(conn, page, &fields, Some("s.submitted_at, s.id")).await?;
    rows.into_iter().map(PageRow::listed).collect()
}

/// One page of the listing for people: at most `limit` (1–500) responses of `agency`'s
/// subtree (the caller's own by default) within `period`, after response `after`, oldest
/// first. Roles as for the listing.
pub async fn page(
    cx: &Context<'_>,
    agency: Option<&crate::domain::AgencyCode>,
    period: Period,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<ListedResponse>> {
    let Context { db, by, config, .. } = *cx;
    by.require_role(&Role::READ_RESPONSES)?;
    let agencies = cx.subtree_or_own(agency).await?;
    let listing = statement(
        db.read.get_database_backend(),
        agencies,
        period.instants(config.timezone),
    );
    let after = match after {
        Some(id) => entity::response::Entity::find_by_id(id)
            .one(&db.read)
            .await?
            .map(|r| (r.submitted_at, r.id)),
        None => None,
    };
    Ok(read_page(&db.read, &listing, after, limit.clamp(1, PAGE)).await?)
}

/// Hands a chunk to the client's connection; false when the client is gone or has taken
/// nothing for [`STALL`].
async fn send(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, chunk: Bytes) -> bool {
    match tokio::time::timeout(STALL, tx.send(Ok(chunk))).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!("a listing client stopped reading; giving up");
            let _ = tx.try_send(Err(std::io::Error::other("client stalled")));
            false
        }
    }
}

/// One response of a page, as [`COLUMNS`] and its answers.
#[derive(Deserialize)]
struct PageRow(
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Flag,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A boolean column: SQLite stores 0 or 1.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

/// A time as either database writes it into JSON (RFC 3339, with `T` or a space).
fn instant(text: &str) -> Result<DateTime<Utc>, sea_orm::DbErr> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| sea_orm::DbErr::Type(format!("a time reads {text:?}")))
}

impl PageRow {
    fn listed(self) -> Result<ListedResponse, sea_orm::DbErr> {
        let PageRow(
            id,
            agency,
            desk,
            questionnaire,
            channel,
            submitted_at,
            comment,
            assisted,
            reason,
            held,
            released,
            answers,
        ) = self;
        let status = match (&reason, &held, &released) {
            (Some(_), ..) => Status::Excluded,
            (None, Some(_), None) => Status::Held,
            _ => Status::Counted,
        };
        Ok(ListedResponse {
            id,
            agency,
            desk,
            questionnaire,
            channel,
            submitted_at: instant(&submitted_at)?,
            answers: parse_answers(answers.as_deref())?,
            comment,
            excluded: reason.is_some(),
            status,
            reasons: held.as_deref().map(Reason::split).unwrap_or_default(),
            assisted: match assisted {
                Flag::Bool(b) => b,
                Flag::Int(n) => n != 0,
            },
        })
    }
}

/// Renders listed responses into a growing buffer that the producer drains in chunks (an
/// XLSX file is written whole at the end).
struct Renderer {
    format: Format,
    tz: Tz,
    buf: Vec<u8>,
    /// The XLSX sheet being written, from the first row on.
    sheet: Option<SheetWriter>,
    first: bool,
}

/// The CSV and XLSX columns: the import header, then `id` and `excluded` (API.md; a held
/// response's status and reasons are in the JSON listing and the review).
fn columns() -> Vec<&'static str> {
    CSV_HEADER
        .iter()
        .copied()
        .chain(["id", "excluded"])
        .collect()
}

impl Renderer {
    fn new(format: Format, tz: Tz) -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        match format {
            Format::Json => buf.extend_from_slice(b"{\"responses\":["),
            Format::Csv => {
                // A byte-order mark, so that spreadsheet programs read UTF-8.
                buf.extend_from_slice("\u{feff}".as_bytes());
                buf.extend_from_slice(columns().join(",").as_bytes());
                buf.push(b'\n');
            }
            Format::Xlsx => {}
        }
        Self {
            format,
            tz,
            buf,
            sheet: None,
            first: true,
        }
    }

    /// A response as the CSV and XLSX columns hold it.
    fn record(&self, r: &ListedResponse) -> Vec<String> {
        let answer = |k: &str| r.answers.get(k).map(|v| v.to_string()).unwrap_or_default();
        let submitted = r
            .submitted_at
            .with_timezone(&self.tz)
            .to_rfc3339_opts(SecondsFormat::AutoSi, false);
        let mut record = vec![
            r.agency.clone(),
            r.desk.clone().unwrap_or_default(),
            submitted,
            r.channel.clone(),
        ];
        record.extend(ANSWER_COLUMNS.iter().map(|k| answer(k)));
        record.push(r.comment.clone().unwrap_or_default());
        record.push(r.id.to_string());
        record.push(r.excluded.to_string());
        record
    }

    fn push(&mut self, r: &ListedResponse) -> anyhow::Result<()> {
        match self.format {
            Format::Json => {
                if !self.first {
                    self.buf.push(b',');
                }
                serde_json::to_writer(&mut self.buf, r)?;
            }
            Format::Csv => {
                // Comments and names that look like formulas stay text (numbers, dates and
                // words in the other columns never start with a formula character).
                let record = self.record(r);
                let cells: Vec<_> = record.iter().map(|cell| neutralise(cell)).collect();
                // A small buffer: the writer lives for one row (its default is 8 KiB).
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .buffer_capacity(512)
                    .from_writer(&mut self.buf);
                w.write_record(cells.iter().map(|cell| cell.as_bytes()))?;
                w.flush()?;
            }
            Format::Xlsx => {
                // Answers and ids are numbers; codes stay text even when they look numeric.
                let cells: Vec<Cell> = columns()
                    .into_iter()
                    .zip(self.record(r))
                    .map(|(key, v)| {
                        let numeric = key == "id" || ANSWER_COLUMNS.contains(&key);
                        match v.parse::<u64>() {
                            Ok(n) if numeric => Cell::Int(n),
                            _ => Cell::Text(v),
                        }
                    })
                    .collect();
                let sheet = self.sheet()?;
                anyhow::ensure!(
                    (sheet.rows() as usize) < MAX_XLSX_ROWS,
                    "more than {MAX_XLSX_ROWS} responses for an XLSX listing"
                );
                sheet.row(&cells).map_err(|e| anyhow::anyhow!(e.message))?;
            }
        }
        self.first = false;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match self.format {
            Format::Json => self.buf.extend_from_slice(b"]}"),
            Format::Csv => {}
            Format::Xlsx => {
                let sheet = match self.sheet.take() {
                    Some(sheet) => sheet,
                    None => Self::new_sheet()?,
                };
                self.buf = sheet.finish().map_err(|e| anyhow::anyhow!(e.message))?;
            }
        }
        Ok(())
    }

    fn new_sheet() -> anyhow::Result<SheetWriter> {
        let columns: Vec<Column> = columns()
            .into_iter()
            .map(|k| Column {
                key: k.into(),
                label: k.into(),
            })
            .collect();
        SheetWriter::new("Phiếu đánh giá mức độ hài lòng", "Phiếu", &columns)
            .map_err(|e| anyhow::anyhow!(e.message))
    }

    /// The sheet, started at the first row.
    fn sheet(&mut self) -> anyhow::Result<&mut SheetWriter> {
        if self.sheet.is_none() {
            self.sheet = Some(Self::new_sheet()?);
        }
        self.sheet
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the XLSX sheet is missing"))
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_answers_and_times_as_either_database_writes_them() {
        let answers = parse_answers(Some("overall=4,staff=5,access=1")).unwrap();
        assert_eq!(
            answers.into_iter().collect::<Vec<_>>(),
            [
                ("access".into(), 1),
                ("overall".into(), 4),
                ("staff".into(), 5)
            ]
        );
        assert!(parse_answers(None).unwrap().is_empty());
        assert!(parse_answers(Some("overall")).is_err());
        assert!(parse_answers(Some("overall=high")).is_err());
        let utc = instant("2025-03-01T00:30:05+00:00").unwrap();
        assert_eq!(instant("2025-03-01T07:30:05+07:00").unwrap(), utc);
        assert_eq!(instant("2025-03-01 00:30:05.000+00:00").unwrap(), utc);
        assert!(instant("yesterday").is_err());
    }

    #[test]
    fn a_page_row_says_counted_held_or_excluded() {
        let row = |reason: Option<&str>, held: Option<&str>, released: Option<&str>| {
            let json = serde_json::json!([
                7,
                "A",
                null,
                "one-stop-5",
                "qr",
                "2025-03-01T00:30:05+00:00",
                "Tốt",
                1,
                reason,
                held,
                released,
                "overall=5"
            ]);
            serde_json::from_value::<PageRow>(json)
                .unwrap()
                .listed()
                .unwrap()
        };
        let counted = row(None, None, None);
        assert_eq!((counted.status, counted.assisted), (Status::Counted, true));
        assert_eq!(counted.comment.as_deref(), Some("Tốt"));
        assert_eq!(row(None, Some("burst"), None).status, Status::Held);
        let released = row(None, Some("burst"), Some("2025-03-02T00:00:00+00:00"));
        assert_eq!(released.status, Status::Counted);
        let excluded = row(Some("thử"), None, None);
        assert!(excluded.excluded && excluded.status == Status::Excluded);
    }
}
