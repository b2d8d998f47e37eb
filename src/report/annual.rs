//! The annual ranking (`GET /api/v1/reports/annual/{year}`), its freezing and its
//! verification.
//!
//! - A live ranking is read from the yearly roll-up.
//! - Freezing stores the ranking as a **canonical document** ([`Canonical`]): the year, the
//!   method, its parameters (minimum of responses, band thresholds, time zone), the cut-off
//!   and each row with the units it counted. Its text is JSON with object keys sorted by
//!   their UTF-8 bytes, no white space, numbers as the shortest text that reads back as the
//!   same double, strings with only `"` `\` and control characters escaped
//!   ([`canonical_text`]); the digest is SHA-256 of that text, in lowercase hex. Anyone can
//!   fetch the text (`…/canonical`) and check the digest with `sha256sum`.
//! - The cut-off: the freeze takes the chain-head lock that every writer of responses and
//!   exclusions takes first, so it sees a still picture. It covers the responses the chain
//!   held at that instant (ids up to `last_response`, all received before `cutoff`) and the
//!   exclusions made before it.
//! - Verification recomputes the frozen rows from the raw responses, answers and exclusions
//!   it covers (never from the roll-ups) with the frozen parameters and units, and compares
//!   digests.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{agency, annual_report, year_setting};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::tallies;
use crate::collect::rebuild::answer_rows;
use crate::collect::store::lock_head;
use crate::db::{Db, is_unique_violation};
use crate::domain::{Period, Role, Year};
use crate::error::{Error, Result};
use crate::govern::{Principal, audit};
use crate::org::{Tree, agency_by_code};
use crate::score::{self, Band, Bands, Candidate, METHOD, Tally};

/// One row of a ranking, as frozen and as served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Row {
    /// 1, 2, 3, …; `null` with too few responses.
    pub rank: Option<u32>,
    pub agency: String,
    pub name: String,
    pub responses: u64,
    pub excluded: u64,
    pub satisfied: u64,
    pub satisfaction_pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub index: Option<f64>,
    pub band: Band,
    /// The codes of the units counted: the agency and its descendants.
    pub units: Vec<String>,
}

/// The frozen content whose digest is published. See the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Canonical {
    pub year: i32,
    pub method: u32,
    pub parent: Option<String>,
    pub timezone: String,
    pub min_responses: u64,
    pub bands: Bands,
    /// The freeze instant, RFC 3339 in UTC with microseconds.
    pub cutoff: String,
    /// The id of the last response covered.
    pub last_response: i64,
    pub rows: Vec<Row>,
}

/// How many agencies fall in a band, and the change against the previous year's frozen
/// report of the same parent ("37 agencies outstanding, up from 32").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BandCount {
    pub count: u64,
    /// `null` when the previous year has no frozen report.
    pub previous: Option<u64>,
    pub change: Option<i64>,
}

/// The annual ranking (API.md, "Reports").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AnnualReport {
    pub year: i32,
    pub method: u32,
    pub parent: Option<String>,
    pub min_responses: u64,
    pub bands: Bands,
    pub frozen: bool,
    /// Set once frozen.
    pub frozen_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the canonical document; `null` until frozen.
    pub digest: Option<String>,
    /// Responses of the year received after the freeze (not excluded); `null` until
    /// frozen. They never change a frozen report.
    pub late_responses: Option<u64>,
    pub rows: Vec<Row>,
    /// Per band: `outstanding`, `good`, `completed`, `not_completed`, `insufficient_data`.
    pub band_counts: BTreeMap<String, BandCount>,
}

/// The result of checking a frozen report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    /// The digest stored at the freeze.
    pub digest: String,
    /// The digest of the report recomputed from the stored responses.
    pub recomputed: String,
}

/// The band thresholds and the minimum sample of a year.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct YearSettings {
    pub year: i32,
    pub bands: Bands,
    pub min_responses: u64,
}

/// A change to a year's settings; absent fields keep their value.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearSettingsInput {
    pub outstanding: Option<f64>,
    pub good: Option<f64>,
    pub completed: Option<f64>,
    /// `null` returns to the deployment's default (`HAILONG_MIN_RESPONSES`).
    #[serde(default, with = "serde_with_null")]
    pub min_responses: Option<Option<u64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
        Option::<u64>::deserialize(d).map(Some)
    }
}

/// This year in the deployment's time zone: the latest year figures exist for.
pub fn this_year(tz: Tz) -> i32 {
    crate::now().with_timezone(&tz).year()
}

/// The scope key of a report: the parent's code, or empty for the top level.
fn scope_key(parent: Option<&str>) -> &str {
    parent.unwrap_or("")
}

/// What a ranking is about: the year, the parent and the agencies to rank (checked
/// against the caller's role and scope when loaded).
pub struct Subject {
    pub year: i32,
    pub parent: Option<agency::Model>,
    pub tree: Tree,
    pub agencies: HashMap<i64, agency::Model>,
    /// The agencies ranked: the parent's children, or the top-level agencies.
    pub ranked: Vec<i64>,
}

impl Subject {
    pub async fn load(
        conn: &impl ConnectionTrait,
        by: &Principal,
        year: Year,
        parent: Option<&str>,
    ) -> Result<Self> {
        by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
        let parent = match parent.filter(|p| !p.is_empty()) {
            Some(code) => Some(
                agency_by_code(conn, code)
                    .await
                    .map_err(|e| e.with_field("parent"))?,
            ),
            None => None,
        };
        let all = agency::Entity::find().all(conn).await?;
        let tree = Tree::from_edges(all.iter().map(|a| (a.id, a.parent_id)));
        match &parent {
            Some(p) => by.require_scope(&tree, p.id)?,
            // The top level spans the province: administrators only.
            None => by.require_role(&[Role::Admin])?,
        }
        Ok(Self::of(year.get(), parent, tree, all))
    }

    /// The ranking of `parent`'s children (the top level when `None`), unchecked: for
    /// callers that check access to what they show of it themselves.
    fn of(year: i32, parent: Option<agency::Model>, tree: Tree, all: Vec<agency::Model>) -> Self {
        let ranked: Vec<i64> = match &parent {
            Some(p) => tree.children(p.id).to_vec(),
            None => all
                .iter()
                .filter(|a| a.parent_id.is_none())
                .map(|a| a.id)
                .collect(),
        };
        Self {
            year,
            parent,
            tree,
            agencies: all.into_iter().map(|a| (a.id, a)).collect(),
            ranked,
        }
    }

    fn parent_code(&self) -> Option<String> {
        self.parent.as_ref().map(|p| p.code.clone())
    }

    fn scope(&self) -> &str {
        scope_key(self.parent.as_ref().map(|p| p.code.as_str()))
    }

    fn code(&self, id: i64) -> String {
        self.agencies
            .get(&id)
            .map(|a| a.code.clone())
            .unwrap_or_default()
    }

    /// Every unit counted, by ranked agency code.
    fn units(&self) -> BTreeMap<String, Vec<String>> {
        self.ranked
            .iter()
            .map(|&id| {
                let mut codes: Vec<String> = self
                    .tree
                    .subtree(id)
                    .iter()
                    .map(|&u| self.code(u))
                    .collect();
                codes.sort();
                (self.code(id), codes)
            })
            .collect()
    }

    fn names(&self) -> BTreeMap<String, String> {
        self.ranked
            .iter()
            .filter_map(|id| self.agencies.get(id))
            .map(|a| (a.code.clone(), a.name.clone()))
            .collect()
    }

    fn ids_of(&self, codes: impl IntoIterator<Item = String>) -> Vec<i64> {
        let by_code: HashMap<&str, i64> = self
            .agencies
            .values()
            .map(|a| (a.code.as_str(), a.id))
            .collect();
        codes
            .into_iter()
            .filter_map(|c| by_code.get(c.as_str()).copied())
            .collect()
    }

    /// 1 January to 31 December of the year.
    fn days(&self) -> (NaiveDate, NaiveDate) {
        let first = NaiveDate::from_ymd_opt(self.year, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(self.year, 12, 31).unwrap_or(NaiveDate::MAX);
        (first, last)
    }
}

/// The settings of `year`: its stored thresholds and minimum, or the defaults.
pub async fn settings(
    conn: &impl ConnectionTrait,
    year: i32,
    default_min: u64,
) -> Result<YearSettings> {
    let stored = year_setting::Entity::find_by_id(year).one(conn).await?;
    Ok(match stored {
        Some(s) => YearSettings {
            year,
            bands: Bands {
                outstanding: s.outstanding,
                good: s.good,
                completed: s.completed,
            },
            min_responses: s
                .min_responses
                .and_then(|m| u64::try_from(m).ok())
                .unwrap_or(default_min),
        },
        None => YearSettings {
            year,
            bands: Bands::default(),
            min_responses: default_min,
        },
    })
}

/// The rows of a ranking from each unit's tally, with `names` and `units` by ranked code.
pub fn rows(
    units: &BTreeMap<String, Vec<String>>,
    names: &BTreeMap<String, String>,
    tallies: &HashMap<String, Tally>,
    settings: &YearSettings,
) -> Vec<Row> {
    let candidates = units
        .iter()
        .map(|(code, members)| {
            let mut total = Tally::default();
            for m in members {
                if let Some(t) = tallies.get(m) {
                    total.merge(t);
                }
            }
            Candidate {
                code: code.clone(),
                summary: score::summarize(&total),
            }
        })
        .collect();
    score::rank(candidates, settings.min_responses, &settings.bands)
        .into_iter()
        .map(|r| {
            let s = &r.candidate.summary;
            Row {
                rank: r.rank,
                name: names.get(&r.candidate.code).cloned().unwrap_or_default(),
                units: units.get(&r.candidate.code).cloned().unwrap_or_default(),
                responses: s.responses,
                excluded: s.excluded,
                satisfied: s.overall.satisfied,
                satisfaction_pct: s.overall.satisfaction_pct,
                ci95: s.overall.ci95,
                mean: s.overall.mean,
                index: s.index,
                band: r.band,
                agency: r.candidate.code,
            }
        })
        .collect()
}

fn counts_of(rows: &[Row]) -> BTreeMap<&'static str, u64> {
    score::band_counts(rows.iter().map(|r| r.band))
}

/// The band counts of `rows` beside those of the previous year's frozen report.
pub fn band_counts(rows: &[Row], previous: Option<&[Row]>) -> BTreeMap<String, BandCount> {
    let before = previous.map(counts_of);
    counts_of(rows)
        .into_iter()
        .map(|(band, count)| {
            let previous = before.as_ref().map(|b| b.get(band).copied().unwrap_or(0));
            let change = previous.map(|p| count as i64 - p as i64);
            (
                band.to_string(),
                BandCount {
                    count,
                    previous,
                    change,
                },
            )
        })
        .collect()
}

/// JSON with sorted keys and no white space: the canonical text of a document.
pub fn canonical_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The canonical text of `doc` and its SHA-256 in hex.
pub fn digest_of(doc: &Canonical) -> Result<(String, String)> {
    let value = serde_json::to_value(doc).map_err(Error::internal)?;
    let text = canonical_text(&value);
    Ok((hex::encode(Sha256::digest(text.as_bytes())), text))
}

fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

async fn frozen(
    conn: &impl ConnectionTrait,
    year: i32,
    scope: &str,
) -> Result<Option<annual_report::Model>> {
    Ok(annual_report::Entity::find()
        .filter(annual_report::Column::Year.eq(year))
        .filter(annual_report::Column::Scope.eq(scope))
        .one(conn)
        .await?)
}

fn parse_body(stored: &annual_report::Model) -> Result<Canonical> {
    serde_json::from_str(&stored.body).map_err(Error::internal)
}

/// The rows of the previous year's frozen report of the same parent, if there is one.
async fn previous_rows(
    conn: &impl ConnectionTrait,
    year: i32,
    scope: &str,
) -> Result<Option<Vec<Row>>> {
    match frozen(conn, year - 1, scope).await? {
        Some(stored) => Ok(Some(parse_body(&stored)?.rows)),
        None => Ok(None),
    }
}

/// Each unit's tally for the year, read from the roll-ups, by unit code.
async fn live_tallies(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    units: &BTreeMap<String, Vec<String>>,
) -> Result<HashMap<String, Tally>> {
    let ids = subject.ids_of(units.values().flatten().cloned());
    let (first, last) = subject.days();
    Ok(tallies(conn, first, last, Some(&ids))
        .await?
        .into_iter()
        .map(|(id, t)| (subject.code(id), t))
        .collect())
}

/// The ranking of `year`: the frozen one when there is one, else computed now.
pub async fn ranking(
    db: &Db,
    by: &Principal,
    tz: Tz,
    default_min: u64,
    year: Year,
    parent: Option<&str>,
) -> Result<AnnualReport> {
    let subject = Subject::load(&db.read, by, year, parent).await?;
    ranking_of(db, tz, default_min, &subject).await
}

/// Where one agency stands among its siblings in a year's ranking (frozen figures once
/// the year is frozen): its rank and band, and nothing of the siblings' figures. The
/// caller's scope must cover the agency, not its parent.
pub async fn standing(
    db: &Db,
    by: &Principal,
    tz: Tz,
    default_min: u64,
    year: Year,
    code: &str,
) -> Result<Standing> {
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    let all = agency::Entity::find().all(&db.read).await?;
    let tree = Tree::from_edges(all.iter().map(|a| (a.id, a.parent_id)));
    let own = all
        .iter()
        .find(|a| a.code == code)
        .cloned()
        .ok_or_else(|| Error::not_found("agency_not_found", "there is no agency with this code"))?;
    by.require_scope(&tree, own.id)?;
    let parent = own
        .parent_id
        .and_then(|p| all.iter().find(|a| a.id == p))
        .cloned();
    let subject = Subject::of(year.get(), parent, tree, all);
    let report = ranking_of(db, tz, default_min, &subject).await?;
    let row = report.rows.iter().find(|row| row.agency == own.code);
    Ok(Standing {
        rank: row.and_then(|row| row.rank),
        of: report.rows.len(),
        band: row.map_or(Band::InsufficientData, |row| row.band),
        min_responses: report.min_responses,
    })
}

/// One agency's place in its siblings' ranking ([`standing`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// `None` when it is not ranked (too few responses).
    pub rank: Option<u32>,
    /// How many agencies the ranking holds.
    pub of: usize,
    pub band: Band,
    pub min_responses: u64,
}

/// The ranking of `subject`, whose access was checked by the caller.
async fn ranking_of(db: &Db, tz: Tz, default_min: u64, subject: &Subject) -> Result<AnnualReport> {
    let previous = previous_rows(&db.read, subject.year, subject.scope()).await?;
    if let Some(stored) = frozen(&db.read, subject.year, subject.scope()).await? {
        let doc = parse_body(&stored)?;
        let late = late_responses(&db.read, subject, tz, &doc).await?;
        return Ok(served(doc, &stored, Some(late), previous.as_deref()));
    }
    let settings = settings(&db.read, subject.year, default_min).await?;
    let units = subject.units();
    let tallies = live_tallies(&db.read, subject, &units).await?;
    let rows = rows(&units, &subject.names(), &tallies, &settings);
    Ok(AnnualReport {
        year: subject.year,
        method: METHOD,
        parent: subject.parent_code(),
        min_responses: settings.min_responses,
        bands: settings.bands,
        frozen: false,
        frozen_at: None,
        digest: None,
        late_responses: None,
        band_counts: band_counts(&rows, previous.as_deref()),
        rows,
    })
}

fn served(
    doc: Canonical,
    stored: &annual_report::Model,
    late: Option<u64>,
    previous: Option<&[Row]>,
) -> AnnualReport {
    AnnualReport {
        year: doc.year,
        method: doc.method,
        parent: doc.parent,
        min_responses: doc.min_responses,
        bands: doc.bands,
        frozen: true,
        frozen_at: Some(stored.frozen_at),
        digest: Some(stored.digest.clone()),
        late_responses: late,
        band_counts: band_counts(&doc.rows, previous),
        rows: doc.rows,
    }
}

/// A frozen ranking for the public, with the name of whose children it ranks (no
/// sign-in: only frozen reports are public). `None` until frozen.
pub async fn published(
    db: &Db,
    year: Year,
    parent: Option<&str>,
) -> Result<Option<(AnnualReport, String)>> {
    let year = year.get();
    let Some(stored) = frozen(&db.read, year, scope_key(parent)).await? else {
        return Ok(None);
    };
    let whose = match parent {
        Some(code) => agency_by_code(&db.read, code).await?.name,
        None => "cấp tỉnh".to_string(),
    };
    let doc = parse_body(&stored)?;
    let previous = previous_rows(&db.read, year, scope_key(parent)).await?;
    Ok(Some((
        served(doc, &stored, None, previous.as_deref()),
        whose,
    )))
}

/// Freezes the ranking of a year that has ended (administrators only).
pub async fn freeze(
    db: &Db,
    by: &Principal,
    tz: Tz,
    default_min: u64,
    year: Year,
    parent: Option<&str>,
) -> Result<AnnualReport> {
    by.require_role(&[Role::Admin])?;
    let subject = Subject::load(&db.read, by, year, parent).await?;
    if subject.year >= this_year(tz) {
        return Err(Error::conflict(
            "year_not_ended",
            format!("{} has not ended yet", subject.year),
        ));
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
    let doc = Canonical {
        year: subject.year,
        method: METHOD,
        parent: subject.parent_code(),
        timezone: tz.name().to_string(),
        min_responses: settings.min_responses,
        bands: settings.bands,
        cutoff: instant_text(frozen_at),
        last_response,
        rows: rows(&units, &subject.names(), &tallies, &settings),
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
    audit::record(
        &txn,
        &by.actor,
        "report.freeze",
        &format!("annual:{}:{}", subject.year, subject.scope()),
        json!({"digest": digest, "last_response": last_response}),
    )
    .await?;
    txn.commit().await?;
    let previous = previous_rows(&db.read, subject.year, subject.scope()).await?;
    Ok(served(doc, &stored, Some(0), previous.as_deref()))
}

fn already_frozen(year: i32) -> Error {
    Error::conflict(
        "already_frozen",
        format!("the {year} report of this parent is already frozen"),
    )
}

/// The stored frozen report of `year` (404 `report_not_frozen` before the freeze).
pub async fn frozen_report(
    db: &Db,
    by: &Principal,
    year: Year,
    parent: Option<&str>,
) -> Result<annual_report::Model> {
    let subject = Subject::load(&db.read, by, year, parent).await?;
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
    let Ok(doc) = serde_json::from_str::<Canonical>(&stored.body) else {
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
        rows: rows(&units, &names, &raw, &settings),
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

/// Each unit's tally counted from the raw responses and answers: those of `year` (local
/// time) up to response `last_response`, an exclusion counting when made by `excluded_by`.
pub async fn raw_tallies(
    conn: &impl ConnectionTrait,
    tz: Tz,
    year: i32,
    last_response: i64,
    excluded_by: DateTime<Utc>,
    units: &[i64],
) -> Result<HashMap<i64, Tally>> {
    let (start, end) = year_instants(tz, year);
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
        .and_where(c("r", "id").lte(last_response))
        .and_where(c("r", "agency_id").is_in(units.iter().copied()))
        .group_by_col((t("r"), t("agency_id")))
        .group_by_col((t("a"), t("question_key")))
        .group_by_col((t("a"), t("value")))
        .group_by_col(t("is_excluded"));
    if let Some(start) = start {
        q.and_where(c("r", "submitted_at").gte(start));
    }
    if let Some(end) = end {
        q.and_where(c("r", "submitted_at").lt(end));
    }
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

/// `COUNT(*)` as a 64-bit integer on both databases.
fn count_all() -> SimpleExpr {
    SimpleExpr::from(Expr::col(Asterisk).count()).cast_as(Alias::new("BIGINT"))
}

/// Responses of the frozen year received after the freeze, not excluded, in its units.
async fn late_responses(
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

/// The settings of a year, as stored or by default.
pub async fn get_settings(
    db: &Db,
    by: &Principal,
    default_min: u64,
    year: Year,
) -> Result<YearSettings> {
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    settings(&db.read, year.get(), default_min).await
}

/// Changes a year's band thresholds or minimum sample (administrators only). Reports
/// frozen before keep the settings they were frozen with.
pub async fn put_settings(
    db: &Db,
    by: &Principal,
    default_min: u64,
    year: Year,
    input: YearSettingsInput,
) -> Result<YearSettings> {
    by.require_role(&[Role::Admin])?;
    // Settings may be made ahead for next year: the caller parses the year so.
    let year = year.get();
    let txn = db.begin_write().await?;
    let current = year_setting::Entity::find_by_id(year).one(&txn).await?;
    let old = settings(&txn, year, default_min).await?;
    let bands = Bands {
        outstanding: input.outstanding.unwrap_or(old.bands.outstanding),
        good: input.good.unwrap_or(old.bands.good),
        completed: input.completed.unwrap_or(old.bands.completed),
    };
    if !bands.is_valid() {
        return Err(Error::unprocessable(
            "invalid_bands",
            "thresholds must satisfy 0 ≤ completed ≤ good ≤ outstanding ≤ 100",
        ));
    }
    let stored_min = match input.min_responses {
        Some(Some(m)) => Some(i32::try_from(m).map_err(|_| {
            Error::unprocessable("invalid_min_responses", "min_responses is too large")
                .with_field("min_responses")
        })?),
        Some(None) => None,
        None => current.as_ref().and_then(|c| c.min_responses),
    };
    let model = year_setting::ActiveModel {
        year: Set(year),
        outstanding: Set(bands.outstanding),
        good: Set(bands.good),
        completed: Set(bands.completed),
        min_responses: Set(stored_min),
        updated_at: Set(crate::now()),
    };
    if current.is_some() {
        model.update(&txn).await?;
    } else {
        model.insert(&txn).await?;
    }
    audit::record(
        &txn,
        &by.actor,
        "year_settings.update",
        &format!("year:{year}"),
        json!({"bands": bands, "min_responses": stored_min}),
    )
    .await?;
    let new = settings(&txn, year, default_min).await?;
    txn.commit().await?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_sorts_keys_and_has_no_spaces() {
        let v = json!({"b": [1, 2.5, null], "a": {"é": "x\"y", "Z": true}, "ab": 0.1});
        assert_eq!(
            canonical_text(&v),
            r#"{"a":{"Z":true,"é":"x\"y"},"ab":0.1,"b":[1,2.5,null]}"#
        );
    }

    #[test]
    fn band_counts_compare_with_the_previous_year() {
        let row = |band| Row {
            rank: None,
            agency: String::new(),
            name: String::new(),
            responses: 0,
            excluded: 0,
            satisfied: 0,
            satisfaction_pct: None,
            ci95: None,
            mean: None,
            index: None,
            band,
            units: vec![],
        };
        let now = [
            row(Band::Outstanding),
            row(Band::Outstanding),
            row(Band::Good),
        ];
        let before = [row(Band::Outstanding), row(Band::Completed)];
        let counts = band_counts(&now, Some(&before));
        assert_eq!(
            counts["outstanding"],
            BandCount {
                count: 2,
                previous: Some(1),
                change: Some(1)
            }
        );
        assert_eq!(counts["completed"].change, Some(-1));
        assert_eq!(counts["good"].change, Some(1));
        assert_eq!(band_counts(&now, None)["good"].previous, None);
        assert_eq!(counts.len(), 5);
    }
}
