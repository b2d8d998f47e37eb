//! Bulk import of responses: paper forms and history, as JSON or CSV. At most
//! [`MAX_ROWS`] rows; all or nothing: every row is checked before anything is written, and
//! the rows are then stored in one transaction. The first bad row is named by its 1-based
//! number among the data rows.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use entity::{agency, desk, idempotency_key};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::Deserialize;
use serde_json::json;

use super::answers::{self, Raw};
use super::questionnaire::{self, ONE_STOP_5, Questionnaire};
use super::store::{Channel, Submission, store_batch};
use crate::app::Context;
use crate::db::Db;
use crate::domain::json::{from_value, parse_json};
use crate::domain::period::{local_to_utc, start_of};
use crate::domain::{Invalid, Role, csv_rows};
use crate::error::{Error, Result};
use crate::govern::{Principal, audit};
use crate::org::Tree;
use crate::score::{ELEMENTS, OVERALL};

/// The most rows one import takes.
pub const MAX_ROWS: usize = 10_000;
/// The import endpoint's body limit.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// How far in the future a `submitted_at` may lie (clocks differ a little).
pub const FUTURE_SLACK: TimeDelta = TimeDelta::minutes(5);
/// The answer columns of the CSV format, in order: the built-in questions.
pub const ANSWER_COLUMNS: [&str; 6] = [
    OVERALL,
    ELEMENTS[0],
    ELEMENTS[1],
    ELEMENTS[2],
    ELEMENTS[3],
    ELEMENTS[4],
];
/// The CSV header: the import's, and the first columns of the response listing's.
pub const CSV_HEADER: [&str; 11] = [
    "agency",
    "desk",
    "submitted_at",
    "channel",
    ANSWER_COLUMNS[0],
    ANSWER_COLUMNS[1],
    ANSWER_COLUMNS[2],
    ANSWER_COLUMNS[3],
    ANSWER_COLUMNS[4],
    ANSWER_COLUMNS[5],
    "comment",
];

/// One row as it arrived, before any lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub agency: String,
    pub desk: Option<String>,
    pub questionnaire: Option<String>,
    pub submitted_at: String,
    pub channel: Option<String>,
    pub answers: Vec<(String, Raw)>,
    pub comment: Option<String>,
}

/// The JSON form of a row.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonRow {
    pub agency: String,
    #[serde(default)]
    pub desk: Option<String>,
    #[serde(default)]
    pub questionnaire: Option<String>,
    /// RFC 3339; a local `YYYY-MM-DDTHH:MM[:SS]` or a bare `YYYY-MM-DD` (local midnight) is
    /// taken in the deployment's time zone.
    pub submitted_at: String,
    /// `qr`, `kiosk`, `web`, `paper` (default) or `api`.
    #[serde(default)]
    pub channel: Option<String>,
    #[schema(value_type = Object)]
    pub answers: crate::domain::UniqueMap,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The body of a JSON import: `{"responses": [...]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonImport {
    #[schema(value_type = Vec<JsonRow>)]
    pub responses: Vec<serde_json::Value>,
}

fn too_many() -> Error {
    Error::unprocessable(
        "too_many_rows",
        format!("an import takes at most {MAX_ROWS} rows; split the file"),
    )
}

fn no_rows() -> Error {
    Error::unprocessable("no_rows", "there are no rows to import")
}

/// Reads a JSON import body.
pub fn parse_json_rows(bytes: &[u8]) -> Result<Vec<Row>> {
    let body: JsonImport = parse_json(bytes)?;
    if body.responses.len() > MAX_ROWS {
        return Err(too_many());
    }
    body.responses
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let row: JsonRow = from_value(value).map_err(|e| e.with_row(i as u64 + 1))?;
            Ok(Row {
                agency: row.agency,
                desk: row.desk.filter(|d| !d.is_empty()),
                questionnaire: row.questionnaire.filter(|q| !q.is_empty()),
                submitted_at: row.submitted_at,
                channel: row.channel,
                answers: row
                    .answers
                    .0
                    .iter()
                    .map(|(k, v)| (k.clone(), Raw::from_json(v)))
                    .collect(),
                comment: row.comment,
            })
        })
        .collect()
}

/// Reads a CSV import body. Columns are matched by name; every column of [`CSV_HEADER`]
/// must be there, `questionnaire` may be, and other columns (such as the listing's `id` and
/// `excluded`) are ignored, so that an export can be imported elsewhere. Empty cells are
/// unanswered.
pub fn parse_csv_rows(bytes: &[u8]) -> Result<Vec<Row>> {
    let bytes = csv_rows::without_bom(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|_| bad_header("the first line is not a readable CSV header"))?
        .clone();
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let position = |name: &str| names.iter().position(|n| n == name);
    let mut missing = CSV_HEADER.iter().filter(|c| position(c).is_none());
    if let Some(first) = missing.next() {
        return Err(bad_header(format!(
            "the header lacks the column `{first}`; it must hold {}",
            CSV_HEADER.join(",")
        ))
        .with_field(*first));
    }
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
        .map(|(_, n)| n)
    {
        return Err(bad_header(format!("the column `{dup}` appears twice")).with_field(dup.clone()));
    }
    let col = |name: &str| position(name).unwrap_or(0);
    let questionnaire_col = position("questionnaire");
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i as u64 + 1;
        if rows.len() == MAX_ROWS {
            return Err(too_many());
        }
        let record = record.map_err(|e| {
            Error::unprocessable("invalid_csv", csv_rows::problem(&e, names.len())).with_row(number)
        })?;
        let cell = |name: &str| record.get(col(name)).unwrap_or("").trim().to_string();
        let optional = |text: String| Some(text).filter(|t| !t.is_empty());
        rows.push(Row {
            agency: cell("agency"),
            desk: optional(cell("desk")),
            questionnaire: questionnaire_col
                .and_then(|c| record.get(c))
                .map(|q| q.trim().to_string())
                .filter(|q| !q.is_empty()),
            submitted_at: cell("submitted_at"),
            channel: optional(cell("channel")),
            answers: ANSWER_COLUMNS
                .iter()
                .map(|k| (k.to_string(), Raw::from_text(&cell(k))))
                .filter(|(_, v)| *v != Raw::Empty)
                .collect(),
            comment: optional(record.get(col("comment")).unwrap_or("").to_string()),
        });
    }
    Ok(rows)
}

fn bad_header(message: impl Into<String>) -> Error {
    Error::unprocessable("invalid_header", message)
}

/// The earliest `submitted_at` an import takes: nothing older is a rating of this product
/// (year 0 or 1900 is a typing or spreadsheet mistake).
pub const EARLIEST_YEAR: i32 = 2000;

/// A `submitted_at`: RFC 3339, or a local date-time or date in `tz`, from
/// [`EARLIEST_YEAR`] on.
pub fn parse_instant(raw: &str, tz: Tz) -> Result<DateTime<Utc>, Invalid> {
    let at = parse_any_instant(raw, tz)?;
    if at.with_timezone(&tz).year() < EARLIEST_YEAR {
        return Err(Invalid::new(
            "invalid_date",
            format!("submitted_at must be in {EARLIEST_YEAR} or later"),
        ));
    }
    Ok(at)
}

fn parse_any_instant(raw: &str, tz: Tz) -> Result<DateTime<Utc>, Invalid> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(local_to_utc(tz, local));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(start_of(tz, day));
    }
    Err(Invalid::new(
        "invalid_date",
        "submitted_at must be an RFC 3339 instant (2026-03-01T09:30:00+07:00) or a date (2026-03-01)",
    ))
}

/// What rows are checked against: loaded once per import.
struct Lookup {
    tree: Tree,
    agencies: HashMap<String, i64>,
    desks: HashMap<(i64, String), i64>,
    questionnaires: HashMap<String, Option<Arc<Questionnaire>>>,
}

/// Checks `rows` and stores them all in one transaction, or none. Returns how many were
/// stored.
/// An import's `Idempotency-Key` and the digest of what it was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub body_sha256: String,
}

impl Idempotency {
    /// 1 to 200 visible ASCII characters; the digest covers the media type and the body.
    pub fn parse(key: &str, media_type: &str, body: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::unprocessable(
                "invalid_idempotency_key",
                "Idempotency-Key has 1 to 200 visible ASCII characters",
            )
            .with_field("Idempotency-Key"));
        }
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(media_type.as_bytes());
        h.update(b"\n");
        h.update(body);
        Ok(Self {
            key: key.to_string(),
            body_sha256: hex::encode(h.finalize()),
        })
    }
}

/// The first answer to this caller's key: the number imported then, or 409 when the key
/// came with another body.
async fn replay(
    conn: &impl sea_orm::ConnectionTrait,
    by: &Principal,
    idem: &Idempotency,
) -> Result<Option<usize>> {
    let Some(first) = idempotency_key::Entity::find_by_id((by.actor.clone(), idem.key.clone()))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if first.body_sha256 != idem.body_sha256 {
        return Err(Error::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body",
        )
        .with_field("Idempotency-Key"));
    }
    let n = first.response.parse().map_err(Error::internal)?;
    Ok(Some(n))
}

/// Imports `rows` all or nothing. With an idempotency key, a repeat of an import that was
/// stored answers its first result and stores nothing.
pub async fn import(
    cx: &Context<'_>,
    rows: Vec<Row>,
    idempotency: Option<Idempotency>,
) -> Result<usize> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    by.require_role(&[Role::Admin, Role::Integrator])?;
    if let Some(idem) = &idempotency
        && let Some(n) = replay(&db.read, by, idem).await?
    {
        return Ok(n);
    }
    if rows.is_empty() {
        return Err(no_rows());
    }
    if rows.len() > MAX_ROWS {
        return Err(too_many());
    }
    let mut lookup = Lookup {
        tree: crate::org::Agencies::load(
            &db.read,
            crate::now().with_timezone(&cx.config.timezone).date_naive(),
        )
        .await?
        .tree,
        agencies: agency::Entity::find()
            .all(&db.read)
            .await?
            .into_iter()
            .map(|a| (a.code, a.id))
            .collect(),
        desks: desk::Entity::find()
            .all(&db.read)
            .await?
            .into_iter()
            .map(|d| ((d.agency_id, d.code), d.id))
            .collect(),
        questionnaires: HashMap::new(),
    };
    let now = crate::now();
    let mut subs = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let sub = submission(db, by, tz, now, &mut lookup, row)
            .await
            .map_err(|e| e.with_row(i as u64 + 1))?;
        subs.push(sub);
    }
    let txn = db.begin_write().await?;
    let stored = store_batch(&txn, tz, &subs, None).await?;
    if let Some(idem) = &idempotency {
        let first = idempotency_key::ActiveModel {
            actor: Set(by.actor.clone()),
            key: Set(idem.key.clone()),
            body_sha256: Set(idem.body_sha256.clone()),
            status: Set(201),
            response: Set(stored.len().to_string()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await;
        if let Err(e) = first {
            // The same key raced in from another request and won: answer as it did.
            let _ = txn.rollback().await;
            if crate::db::is_unique_violation(&e) {
                return replay(&db.write, by, idem)
                    .await?
                    .ok_or_else(|| Error::internal("an idempotency key vanished"));
            }
            return Err(e.into());
        }
    }
    audit::record(
        &txn,
        &by.actor,
        "responses.import",
        "responses",
        json!({
            "rows": stored.len(),
            "first_id": stored.first().and_then(|s| s.as_ref().ok()).map(|s| s.id),
            "last_id": stored.last().and_then(|s| s.as_ref().ok()).map(|s| s.id),
        }),
    )
    .await?;
    db.commit(txn).await?;
    metrics::counter!("hailong_imported_responses_total").increment(stored.len() as u64);
    Ok(stored.len())
}

async fn submission(
    db: &Db,
    by: &Principal,
    tz: Tz,
    now: DateTime<Utc>,
    lookup: &mut Lookup,
    row: Row,
) -> Result<Submission> {
    let agency_id = *lookup.agencies.get(row.agency.trim()).ok_or_else(|| {
        Error::unprocessable(
            "unknown_agency",
            format!("there is no agency with the code `{}`", row.agency.trim()),
        )
        .with_field("agency")
    })?;
    by.require_scope(&lookup.tree, agency_id)
        .map_err(|e| e.with_field("agency"))?;
    let desk_id = match &row.desk {
        None => None,
        Some(code) => Some(
            *lookup
                .desks
                .get(&(agency_id, code.trim().to_string()))
                .ok_or_else(|| {
                    Error::unprocessable(
                        "unknown_desk",
                        format!("the agency has no desk with the code `{}`", code.trim()),
                    )
                    .with_field("desk")
                })?,
        ),
    };
    let key = row.questionnaire.as_deref().unwrap_or(ONE_STOP_5).trim();
    if !lookup.questionnaires.contains_key(key) {
        let found = questionnaire::latest(&db.read, key).await?.map(Arc::new);
        lookup.questionnaires.insert(key.to_string(), found);
    }
    let q = lookup
        .questionnaires
        .get(key)
        .cloned()
        .flatten()
        .ok_or_else(|| {
            Error::unprocessable(
                "unknown_questionnaire",
                format!("there is no questionnaire `{key}`"),
            )
            .with_field("questionnaire")
        })?;
    let submitted_at =
        parse_instant(&row.submitted_at, tz).map_err(|e| Error::invalid("submitted_at", e))?;
    if submitted_at > now + FUTURE_SLACK {
        return Err(Error::unprocessable(
            "submitted_at_in_future",
            "submitted_at lies more than five minutes in the future",
        )
        .with_field("submitted_at"));
    }
    let channel = match row.channel.as_deref().map(str::trim) {
        None | Some("") => Channel::Paper,
        Some(name) => Channel::parse(name).ok_or_else(|| {
            Error::unprocessable(
                "invalid_channel",
                "channel is one of qr, kiosk, web, paper, api",
            )
            .with_field("channel")
        })?,
    };
    let checked = answers::check(&q, &row.answers, row.comment.as_deref())
        .map_err(|problems| problems[0].api_error())?;
    Ok(Submission {
        link: None,
        agency_id,
        desk_id,
        service_id: None,
        questionnaire_id: q.id,
        channel,
        submitted_at,
        answers: checked,
        assisted: false,
        client_hash: None,
        device_hash: None,
        form_age: None,
        want_reply: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> Tz {
        "Asia/Ho_Chi_Minh".parse().unwrap()
    }

    #[test]
    fn instants_in_every_accepted_form() {
        let utc = |s: &str| parse_instant(s, tz()).unwrap().to_rfc3339();
        assert_eq!(
            utc("2026-03-01T09:30:00+07:00"),
            "2026-03-01T02:30:00+00:00"
        );
        assert_eq!(utc("2026-03-01T02:30:00Z"), "2026-03-01T02:30:00+00:00");
        assert_eq!(utc("2026-03-01 09:30"), "2026-03-01T02:30:00+00:00");
        assert_eq!(utc("2026-03-01"), "2026-02-28T17:00:00+00:00");
        for bad in [
            "",
            "01/03/2026",
            "2026-02-30",
            "tomorrow",
            "2026-03-01T25:00:00Z",
        ] {
            assert_eq!(
                parse_instant(bad, tz()).unwrap_err().code,
                "invalid_date",
                "{bad}"
            );
        }
    }

    #[test]
    fn csv_columns_are_matched_by_name() {
        let csv = "\u{feff}comment,agency,desk,submitted_at,channel,overall,access,procedure,staff,result,feedback,questionnaire,id\n\
                   \"Tốt, nhanh\",A,,2026-03-01,,5,,4,,,,kiosk-3,17\n";
        let rows = parse_csv_rows(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.agency, "A");
        assert_eq!(row.desk, None);
        assert_eq!(row.channel, None);
        assert_eq!(row.questionnaire.as_deref(), Some("kiosk-3"));
        assert_eq!(row.comment.as_deref(), Some("Tốt, nhanh"));
        assert_eq!(
            row.answers,
            vec![
                ("overall".to_string(), Raw::Int(5)),
                ("procedure".to_string(), Raw::Int(4))
            ]
        );
    }

    #[test]
    fn bad_csv_is_named() {
        let err = parse_csv_rows(b"agency,desk,submitted_at\nA,,2026-01-01\n").unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("invalid_header", Some("channel"))
        );
        let header = CSV_HEADER.join(",");
        let err = parse_csv_rows(format!("{header},agency\n").as_bytes()).unwrap_err();
        assert_eq!(err.code, "invalid_header");
        let err =
            parse_csv_rows(format!("{header}\nA,,2026-01-01,,5,,,,,,\nA,,2026-01-01\n").as_bytes())
                .unwrap_err();
        assert_eq!((err.code, err.row), ("invalid_csv", Some(2)));
        let mut bytes = format!("{header}\nA,,2026-01-01,,5,,,,,,").into_bytes();
        bytes.extend_from_slice(b"\xff\n");
        let err = parse_csv_rows(&bytes).unwrap_err();
        assert_eq!((err.code, err.row), ("invalid_csv", Some(1)));
    }

    #[test]
    fn json_rows_name_their_row_and_field() {
        let err = parse_json_rows(
            br#"{"responses": [{"agency": "A", "submitted_at": "2026-01-01", "answers": {}},
                               {"agency": "A", "submitted_at": "2026-01-01", "answers": [] }]}"#,
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.row, err.field.as_deref()),
            ("invalid_body", Some(2), Some("answers"))
        );
        let err =
            parse_json_rows(br#"{"responses": [{"agency": "A", "answers": {}}]}"#).unwrap_err();
        assert_eq!(
            (err.row, err.field.as_deref()),
            (Some(1), Some("submitted_at"))
        );
    }
}
