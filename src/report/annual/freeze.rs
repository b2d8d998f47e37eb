//! Freezing a year's ranking, and verifying a frozen one against the raw responses.
//!
//! - The cut-off: the freeze takes the chain-head lock that every writer of responses and
//!   exclusions takes first, so it sees a still picture. It covers the responses the chain
//!   held at that instant (ids up to `last_response`, all received before `cutoff`) and the
//!   exclusions made before it.
//! - Verification recomputes the frozen rows from the raw responses, answers and exclusions
//!   it covers (never from the roll-ups) with the frozen parameters and units, and compares
//!   digests.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{agency, annual_report};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::document::{self, Canonical, digest_of, frozen_rows, instant_text};
use super::settings::{YearSettings, settings};
use super::{
    AnnualReport, Subject, Verification, frozen, live_tallies, previous_rows, rows, served,
    this_year,
};
use crate::app::Context;
use crate::collect::raw::{answer_rows, count_all};
use crate::collect::store::lock_head;
use crate::db::is_unique_violation;
use crate::domain::{AgencyCode, Period, Role, Year};
use crate::error::{Error, Result};
use crate::govern::audit;
use crate::score::{self, METHOD, Tally};

/// What an administrator reads before freezing ("check, then confirm"): the live ranking
/// as it would be frozen, the paper forms typed in for the year so far, and why it cannot
/// be frozen now, if it cannot.
#[derive(Debug, Clone)]
pub struct FreezeCheck {
    pub report: AnnualReport,
    /// Paper forms of the year in the ranking's units, and when the last was typed in.
    pub paper_forms: u64,
    pub last_paper_form: Option<DateTime<Utc>>,
    /// Why freezing would be refused now (frozen already, year not ended, ratings held).
    pub blocked: Option<Error>,
}

/// The check before freezing (administrators only); reads, never writes.
pub async fn freeze_check(
    cx: &Context<'_>,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<FreezeCheck> {
    let Context { db, by, config, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let tz = config.timezone;
    let subject = Subject::load(cx, year, parent).await?;
    let report = super::ranking_of(db, tz, config.min_responses, &subject).await?;
    let held: u64 = report.rows.iter().map(|r| r.held).sum();
    let blocked = if report.frozen {
        Some(already_frozen(subject.year))
    } else if subject.year >= this_year(tz) {
        Some(year_not_ended(subject.year))
    } else if held > 0 {
        Some(review_pending(held, subject.year))
    } else {
        None
    };
    let units = subject.ids_of(subject.units().into_values().flatten());
    let (start, end) = year_instants(tz, subject.year);
    let c = |col: &str| Expr::col((Alias::new("r"), Alias::new(col)));
    let mut q = Query::select();
    q.expr_as(count_all(), Alias::new("n"))
        .expr_as(
            Expr::col(Alias::new("received_at")).max(),
            Alias::new("last"),
        )
        .from_as(Alias::new("responses"), Alias::new("r"))
        .and_where(c("agency_id").is_in(units))
        // A literal, not a parameter: it is the predicate of the partial index
        // `idx_responses_paper`, which SQLite uses only when the query states it.
        .and_where(Expr::cust("r.channel = 'paper'"));
    if let Some(start) = start {
        q.and_where(c("submitted_at").gte(start));
    }
    if let Some(end) = end {
        q.and_where(c("submitted_at").lt(end));
    }
    let (n, last): (i64, Option<DateTime<Utc>>) = match db.read.query_one(&q).await? {
        Some(row) => (row.try_get("", "n")?, row.try_get("", "last")?),
        None => (0, None),
    };
    Ok(FreezeCheck {
        report,
        paper_forms: u64::try_from(n).unwrap_or(0),
        last_paper_form: last,
        blocked,
    })
}

/// Freezes the ranking of a year that has ended (administrators only); 409
/// `review_pending` while any rating of that year in the ranking is held.
pub async fn freeze(
    cx: &Context<'_>,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<AnnualReport> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    let default_min = config.min_responses;
    by.require_role(&[Role::Admin])?;
    let subject = Subject::load(cx, year, parent).await?;
    if subject.year >= this_year(tz) {
        return Err(year_not_ended(subject.year));
    }
    let txn = db.begin_write().await?;
    let (last_response, _) = lock_head(&txn).await?;
    if frozen(&txn, subject.year, subject.scope()).await?.is_some() {
        return Err(already_frozen(subject.year));
    }
    let frozen_at = crate::now();
    let settings = settings(&txn, subject.year, default_min).await?;
    let units = subject.units();
    let tallies = live_tallies(&txn, &subject, &units).await?;
    let held: u64 = tallies.values().map(|t| t.held).sum();
    if held > 0 {
        return Err(review_pending(held, subject.year));
    }
    let doc = Canonical {
        year: subject.year,
        method: METHOD,
        parent: subject.parent_code(),
        timezone: tz.name().to_string(),
        min_responses: settings.min_responses,
        bands: settings.bands,
        cutoff: instant_text(frozen_at),
        last_response,
        rows: frozen_rows(rows(&units, &subject.names(), &tallies, &settings)),
    };
    let (digest, text) = digest_of(&doc)?;
    let params = json!({
        "min_responses": settings.min_responses,
        "bands": settings.bands,
        "timezone": doc.timezone,
        "last_response": last_response,
    });
    let inserted = annual_report::ActiveModel {
        year: Set(subject.year),
        scope: Set(subject.scope().to_string()),
        method: Set(i32::try_from(METHOD).unwrap_or(1)),
        params: Set(params.to_string()),
        cutoff: Set(frozen_at),
        frozen_at: Set(frozen_at),
        frozen_by: Set(by.actor.clone()),
        digest: Set(digest.clone()),
        body: Set(text),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let stored = match inserted {
        Ok(stored) => stored,
        Err(e) if is_unique_violation(&e) => return Err(already_frozen(subject.year)),
        Err(e) => return Err(e.into()),
    };
    audit::commit(
        txn,
        &by.actor,
        "report.freeze",
        &format!("annual:{}:{}", subject.year, subject.scope()),
        json!({"digest": digest, "last_response": last_response}),
    )
    .await?;
    let previous = previous_rows(&db.read, subject.year, subject.scope()).await?;
    Ok(served(doc, &stored, Some(0), previous.as_deref()))
}

fn year_not_ended(year: i32) -> Error {
    Error::conflict("year_not_ended", format!("{year} has not ended yet"))
}

fn review_pending(held: u64, year: i32) -> Error {
    Error::conflict(
        "review_pending",
        format!(
            "{held} ratings of {year} in this ranking are held for review; release or exclude them first"
        ),
    )
}

fn already_frozen(year: i32) -> Error {
    Error::conflict(
        "already_frozen",
        format!("the {year} report of this parent is already frozen"),
    )
}

/// The stored frozen report of `year` (404 `report_not_frozen` before the freeze).
pub async fn frozen_report(
    cx: &Context<'_>,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<annual_report::Model> {
    let db = cx.db;
    let subject = Subject::load(cx, year, parent).await?;
    frozen(&db.read, subject.year, subject.scope())
        .await?
        .ok_or_else(|| Error::not_found("report_not_frozen", "this report has not been frozen"))
}

/// Recomputes a frozen report from the raw responses it covers and compares digests. The
/// stored text must also still hash to the stored digest.
pub async fn verify_stored(
    conn: &impl ConnectionTrait,
    stored: &annual_report::Model,
) -> Result<Verification> {
    let text_digest = hex::encode(Sha256::digest(stored.body.as_bytes()));
    let Ok(doc) = document::parse(stored) else {
        return Ok(Verification {
            ok: false,
            digest: stored.digest.clone(),
            recomputed: text_digest,
        });
    };
    let tz: Tz = doc.timezone.parse().map_err(Error::internal)?;
    let all = agency::Entity::find().all(conn).await?;
    let ids: HashMap<String, i64> = all.iter().map(|a| (a.code.clone(), a.id)).collect();
    let codes: HashMap<i64, String> = all.into_iter().map(|a| (a.id, a.code)).collect();
    let units: BTreeMap<String, Vec<String>> = doc
        .rows
        .iter()
        .map(|r| (r.agency.clone(), r.units.clone()))
        .collect();
    let names: BTreeMap<String, String> = doc
        .rows
        .iter()
        .map(|r| (r.agency.clone(), r.name.clone()))
        .collect();
    let unit_ids: Vec<i64> = units
        .values()
        .flatten()
        .filter_map(|c| ids.get(c).copied())
        .collect();
    let raw = raw_tallies(
        conn,
        tz,
        doc.year,
        doc.last_response,
        stored.frozen_at,
        &unit_ids,
    )
    .await?
    .into_iter()
    .filter_map(|(id, t)| codes.get(&id).map(|c| (c.clone(), t)))
    .collect();
    let settings = YearSettings {
        year: doc.year,
        bands: doc.bands,
        min_responses: doc.min_responses,
    };
    let recomputed = Canonical {
        rows: frozen_rows(rows(&units, &names, &raw, &settings)),
        ..doc
    };
    let (recomputed, _) = digest_of(&recomputed)?;
    Ok(Verification {
        ok: recomputed == stored.digest && text_digest == stored.digest,
        digest: stored.digest.clone(),
        recomputed,
    })
}

/// The instants that bound a local year.
fn year_instants(tz: Tz, year: i32) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    Period {
        from: NaiveDate::from_ymd_opt(year, 1, 1),
        to: NaiveDate::from_ymd_opt(year, 12, 31),
    }
    .instants(tz)
}

/// How many ranges of response ids a recount reads side by side (each on its own
/// connection: SQLite reads them on separate threads, PostgreSQL in separate backends).
pub const RECOUNT_PARTS: u32 = 4;

/// Each unit's tally counted from the raw responses and answers: those of `year` (local
/// time) up to response `last_response`, an exclusion counting when made by `excluded_by`.
///
/// The year's responses are split into [`RECOUNT_PARTS`] ranges of ids, counted at the same
/// time and added up.
pub async fn raw_tallies(
    conn: &impl ConnectionTrait,
    tz: Tz,
    year: i32,
    last_response: i64,
    excluded_by: DateTime<Utc>,
    units: &[i64],
) -> Result<HashMap<i64, Tally>> {
    let within = (year, last_response, excluded_by);
    raw_tallies_in(conn, tz, within, units, RECOUNT_PARTS).await
}

/// [`raw_tallies`] in `parts` ranges (at least one): `within` is the year, the last
/// response and the time exclusions count by.
pub async fn raw_tallies_in(
    conn: &impl ConnectionTrait,
    tz: Tz,
    (year, last_response, excluded_by): (i32, i64, DateTime<Utc>),
    units: &[i64],
    parts: u32,
) -> Result<HashMap<i64, Tally>> {
    let parts = i64::from(Ord::max(parts, 1));
    let (start, end) = year_instants(tz, year);
    let c = |table: &str, col: &str| Expr::col((Alias::new(table), Alias::new(col)));
    let within = |q: &mut SelectStatement| {
        q.and_where(c("r", "id").lte(last_response));
        if let Some(start) = start {
            q.and_where(c("r", "submitted_at").gte(start));
        }
        if let Some(end) = end {
            q.and_where(c("r", "submitted_at").lt(end));
        }
    };
    // The first and last ids of the year, through the index on the time.
    let mut bounds = Query::select();
    bounds
        .expr_as(c("r", "id").min(), Alias::new("lo"))
        .expr_as(c("r", "id").max(), Alias::new("hi"))
        .from_as(Alias::new("responses"), Alias::new("r"));
    within(&mut bounds);
    let (lo, hi) = match conn.query_one(&bounds).await? {
        Some(row) => (
            row.try_get::<Option<i64>>("", "lo")?,
            row.try_get::<Option<i64>>("", "hi")?,
        ),
        None => (None, None),
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(HashMap::new());
    };
    let step = (hi - lo) / parts + 1;
    let parts = (0..parts)
        .map(|i| (lo + i * step, Ord::min(lo + (i + 1) * step - 1, hi)))
        .filter(|(first, last)| first <= last)
        .map(|(first, last)| {
            let mut q = recount_query(excluded_by, units);
            within(&mut q);
            q.and_where(c("r", "id").between(first, last));
            recount_part(conn, q)
        });
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for part in futures_util::future::try_join_all(parts).await? {
        for (agency, tally) in part {
            out.entry(agency).or_default().merge(&tally);
        }
    }
    Ok(out)
}

/// The answers of `units`' responses counted by unit, question, value and exclusion.
fn recount_query(excluded_by: DateTime<Utc>, units: &[i64]) -> SelectStatement {
    let t = |n: &str| Alias::new(n);
    let c = |table: &str, col: &str| Expr::col((Alias::new(table), Alias::new(col)));
    let mut q = answer_rows(Some(excluded_by));
    q.expr_as(c("r", "agency_id"), t("agency_id"))
        .expr_as(c("a", "question_key"), t("question_key"))
        .expr_as(c("a", "value"), t("value"))
        .expr_as(
            Expr::case(c("x", "id").is_null(), 0).finally(1),
            t("is_excluded"),
        )
        .expr_as(count_all(), t("n"))
        .and_where(c("r", "agency_id").is_in(units.iter().copied()))
        .group_by_col((t("r"), t("agency_id")))
        .group_by_col((t("a"), t("question_key")))
        .group_by_col((t("a"), t("value")))
        .group_by_col(t("is_excluded"));
    q
}

/// One part of a recount, as tallies per unit.
async fn recount_part(
    conn: &impl ConnectionTrait,
    q: SelectStatement,
) -> Result<HashMap<i64, Tally>> {
    let mut out: HashMap<i64, Tally> = HashMap::new();
    for row in conn.query_all(&q).await? {
        let agency: i64 = row.try_get("", "agency_id")?;
        let question: String = row.try_get("", "question_key")?;
        let value: i16 = row.try_get("", "value")?;
        let excluded: i32 = row.try_get("", "is_excluded")?;
        let n: i64 = row.try_get("", "n")?;
        let n = u64::try_from(n).unwrap_or(0);
        let tally = out.entry(agency).or_default();
        if excluded != 0 {
            if question == score::OVERALL {
                tally.excluded += n;
            }
        } else {
            tally.add(&question, value, n);
        }
    }
    Ok(out)
}

/// Responses of the frozen year received after the freeze, not excluded, in its units.
pub(super) async fn late_responses(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    tz: Tz,
    doc: &Canonical,
) -> Result<u64> {
    let units = subject.ids_of(doc.rows.iter().flat_map(|r| r.units.clone()));
    let (start, end) = year_instants(tz, doc.year);
    let t = |n: &str| Alias::new(n);
    let c = |table: &str, col: &str| Expr::col((Alias::new(table), Alias::new(col)));
    let mut excluded = Query::select();
    excluded
        .expr(Expr::val(1))
        .from_as(t("exclusions"), t("x"))
        .and_where(c("x", "response_id").equals((t("r"), t("id"))));
    let mut q = Query::select();
    q.expr_as(count_all(), t("n"))
        .from_as(t("responses"), t("r"))
        .and_where(c("r", "id").gt(doc.last_response))
        .and_where(c("r", "agency_id").is_in(units))
        .and_where(Expr::exists(excluded).not());
    if let Some(start) = start {
        q.and_where(c("r", "submitted_at").gte(start));
    }
    if let Some(end) = end {
        q.and_where(c("r", "submitted_at").lt(end));
    }
    let n: i64 = match conn.query_one(&q).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
