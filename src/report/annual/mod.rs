//! The annual ranking (`GET /api/v1/reports/annual/{year}`): live from the yearly
//! roll-up until the year is frozen, then the frozen document.
//!
//! - [`document`]: the frozen document (its own versioned types, its canonical text and
//!   digest);
//! - [`freeze`](mod@freeze): freezing and verification against the raw responses;
//! - [`settings`](mod@settings): a year's band thresholds and minimum sample.

pub mod document;
pub mod freeze;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{agency, annual_report};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::tallies;
use crate::app::Context;
use crate::db::Db;
use crate::domain::{AgencyCode, Role, Year};
use crate::error::Result;
use crate::org::{Agencies, agency_by_code};
use crate::rollup::read::tallies_kept;
use crate::score::{self, Band, Bands, Candidate, METHOD, OVERALL, Tally};
pub use document::{Canonical, FrozenRow};
pub use freeze::{
    FreezeCheck, RECOUNT_PARTS, freeze, freeze_check, frozen_report, raw_tallies, raw_tallies_in,
    verify_stored,
};
pub use settings::{YearSettings, YearSettingsInput, get_settings, put_settings, settings};

/// One row of a ranking, as served (the frozen document keeps its own, [`FrozenRow`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Row {
    /// 1, 2, 3, …; `null` with too few responses.
    pub rank: Option<u32>,
    pub agency: String,
    pub name: String,
    pub responses: u64,
    pub excluded: u64,
    /// Held out of the figures until an administrator decides.
    pub held: u64,
    pub satisfied: u64,
    pub satisfaction_pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub index: Option<f64>,
    pub band: Band,
    /// The codes of the units counted: the agency and its descendants.
    pub units: Vec<String>,
    /// Decision 766's figures of the units over the year (read live, also for a frozen
    /// ranking, and no part of its digest).
    #[serde(flatten, default)]
    pub loop_figures: crate::follow::figures::LoopFigures,
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

/// This year in the deployment's time zone: the latest year figures exist for.
pub fn this_year(tz: Tz) -> i32 {
    crate::now().with_timezone(&tz).year()
}

/// A ranking's `parent` as a caller asked for it: none when empty; one that cannot be a
/// code names no agency (404 `agency_not_found`, field `parent`).
pub fn parent_code(raw: Option<&str>) -> Result<Option<AgencyCode>> {
    raw.filter(|p| !p.is_empty())
        .map(|p| crate::org::code_of(p).map_err(|e| e.with_field("parent")))
        .transpose()
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
    /// Every agency and their tree.
    pub agencies: Arc<Agencies>,
    /// The agencies ranked: the parent's children, or the top-level agencies.
    pub ranked: Vec<i64>,
}

impl Subject {
    pub async fn load(cx: &Context<'_>, year: Year, parent: Option<&AgencyCode>) -> Result<Self> {
        let by = cx.by;
        by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
        let today = cx.agencies().await?;
        let parent = match parent {
            Some(code) => Some(
                today
                    .by_code(code.as_str())
                    .map_err(|e| e.with_field("parent"))?
                    .clone(),
            ),
            None => None,
        };
        match &parent {
            Some(p) => by.require_scope(&today.tree, p.id)?,
            // The top level spans the province: administrators only.
            None => by.require_role(&[Role::Admin])?,
        }
        let agencies = cx
            .agencies_on(Self::as_of(year.get(), parent.as_ref()))
            .await?;
        let parent = parent.and_then(|p| agencies.get(p.id).cloned());
        Ok(Self::of(year.get(), parent, agencies))
    }

    /// The day whose tree a ranking of `year` ranks: 31 December, or the last day of a
    /// parent that ended during the year (API.md, "Reorganisation").
    pub fn as_of(year: i32, parent: Option<&agency::Model>) -> NaiveDate {
        let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        match parent {
            Some(p) => crate::org::history::clamp(p, last),
            None => last,
        }
    }

    /// The ranking of `parent`'s children (the top level when `None`), unchecked: for
    /// callers that check access to what they show of it themselves.
    pub(super) fn of(year: i32, parent: Option<agency::Model>, agencies: Arc<Agencies>) -> Self {
        let ranked: Vec<i64> = match &parent {
            Some(p) => agencies.tree.children(p.id).to_vec(),
            None => agencies.tree.roots().to_vec(),
        };
        Self {
            year,
            parent,
            agencies,
            ranked,
        }
    }

    pub(super) fn parent_code(&self) -> Option<String> {
        self.parent.as_ref().map(|p| p.code.clone())
    }

    pub(super) fn scope(&self) -> &str {
        scope_key(self.parent.as_ref().map(|p| p.code.as_str()))
    }

    pub(super) fn code(&self, id: i64) -> String {
        self.agencies
            .get(id)
            .map(|a| a.code.clone())
            .unwrap_or_default()
    }

    /// Every unit counted, by ranked agency code.
    pub(super) fn units(&self) -> BTreeMap<String, Vec<String>> {
        self.ranked
            .iter()
            .map(|&id| {
                let mut codes: Vec<String> = self
                    .agencies
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

    pub(super) fn names(&self) -> BTreeMap<String, String> {
        self.ranked
            .iter()
            .filter_map(|&id| self.agencies.get(id))
            .map(|a| (a.code.clone(), a.name.clone()))
            .collect()
    }

    pub(super) fn ids_of(&self, codes: impl IntoIterator<Item = String>) -> Vec<i64> {
        codes
            .into_iter()
            .filter_map(|c| self.agencies.by_code(&c).ok().map(|a| a.id))
            .collect()
    }

    /// 1 January to 31 December of the year.
    pub(super) fn days(&self) -> (NaiveDate, NaiveDate) {
        let first = NaiveDate::from_ymd_opt(self.year, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(self.year, 12, 31).unwrap_or(NaiveDate::MAX);
        (first, last)
    }
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
                held: s.held,
                satisfied: s.overall.satisfied,
                satisfaction_pct: s.overall.satisfaction_pct,
                ci95: s.overall.ci95,
                mean: s.overall.mean,
                index: s.index,
                band: r.band,
                agency: r.candidate.code,
                loop_figures: Default::default(),
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

pub(super) async fn frozen(
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

/// The rows of the previous year's frozen report of the same parent, if there is one.
pub(super) async fn previous_rows(
    conn: &impl ConnectionTrait,
    year: i32,
    scope: &str,
) -> Result<Option<Vec<Row>>> {
    match frozen(conn, year - 1, scope).await? {
        Some(stored) => Ok(Some(document::served_rows(document::parse(&stored)?.rows))),
        None => Ok(None),
    }
}

/// Each unit's tally for the year, read from the roll-ups, by unit code.
pub(super) async fn live_tallies(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    units: &BTreeMap<String, Vec<String>>,
) -> Result<HashMap<String, Tally>> {
    let ids = subject.ids_of(units.values().flatten().cloned());
    let (first, last) = subject.days();
    Ok(by_code(
        subject,
        tallies(conn, first, last, Some(&ids)).await?,
    ))
}

/// Tallies by agency id as tallies by the agency's code.
fn by_code(subject: &Subject, tallies: HashMap<i64, Tally>) -> HashMap<String, Tally> {
    tallies
        .into_iter()
        .map(|(id, t)| (subject.code(id), t))
        .collect()
}

/// The ranking of `year`: the frozen one when there is one, else computed now.
pub async fn ranking(
    cx: &Context<'_>,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<AnnualReport> {
    let Context { db, config, .. } = *cx;
    let tz = config.timezone;
    let default_min = config.min_responses;
    let subject = Subject::load(cx, year, parent).await?;
    ranking_of(db, tz, default_min, &subject).await
}

/// Where one agency stands among its siblings in a year's ranking (frozen figures once
/// the year is frozen): its rank and band, and nothing of the siblings' figures. The
/// caller's scope must cover the agency, not its parent.
pub async fn standing(cx: &Context<'_>, year: Year, code: &AgencyCode) -> Result<Standing> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    let default_min = config.min_responses;
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    let (own, today) = cx.in_scope(code).await?;
    let parent = own.parent_id.and_then(|p| today.get(p));
    let agencies = cx.agencies_on(Subject::as_of(year.get(), parent)).await?;
    let parent = agencies
        .get(own.id)
        .and_then(|o| agencies.get_parent(o))
        .cloned();
    let subject = Subject::of(year.get(), parent, agencies);
    // The frozen ranking once there is one; else the order of the live one, which needs
    // only the overall answers (not the elements, the loop figures or last year's bands).
    let (rows, min_responses) = match frozen(&db.read, subject.year, subject.scope()).await? {
        Some(_) => {
            let report = ranking_of(db, tz, default_min, &subject).await?;
            (report.rows, report.min_responses)
        }
        None => {
            let settings = settings(&db.read, subject.year, default_min).await?;
            let units = subject.units();
            let ids = subject.ids_of(units.values().flatten().cloned());
            let (first, last) = subject.days();
            let overall = by_code(
                &subject,
                tallies_kept(db, cx.today(), (first, last), &ids, Some(OVERALL)).await?,
            );
            let rows = rows(&units, &subject.names(), &overall, &settings);
            (rows, settings.min_responses)
        }
    };
    let row = rows.iter().find(|row| row.agency == own.code);
    Ok(Standing {
        rank: row.and_then(|row| row.rank),
        of: rows.len(),
        band: row.map_or(Band::InsufficientData, |row| row.band),
        min_responses,
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
pub(super) async fn ranking_of(
    db: &Db,
    tz: Tz,
    default_min: u64,
    subject: &Subject,
) -> Result<AnnualReport> {
    let previous = previous_rows(&db.read, subject.year, subject.scope()).await?;
    if let Some(stored) = frozen(&db.read, subject.year, subject.scope()).await? {
        let doc = document::parse(&stored)?;
        let late = freeze::late_responses(&db.read, subject, tz, &doc).await?;
        let mut report = served(doc, &stored, Some(late), previous.as_deref());
        add_loop_figures(&db.read, subject, tz, &mut report.rows).await?;
        return Ok(report);
    }
    let settings = settings(&db.read, subject.year, default_min).await?;
    let units = subject.units();
    // Kept for a year that is over (`rollup::kept`); freezing reads the roll-ups themselves,
    // in its transaction.
    let ids = subject.ids_of(units.values().flatten().cloned());
    let today = crate::now().with_timezone(&tz).date_naive();
    let tallies = by_code(
        subject,
        tallies_kept(db, today, subject.days(), &ids, None).await?,
    );
    let mut rows = rows(&units, &subject.names(), &tallies, &settings);
    add_loop_figures(&db.read, subject, tz, &mut rows).await?;
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

/// Decision 766's figures of each row's units over the year: one read of the cases and
/// one of the dossiers for all rows.
async fn add_loop_figures(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    tz: Tz,
    rows: &mut [Row],
) -> Result<()> {
    let (first, last) = subject.days();
    let ids = subject.ids_of(rows.iter().flat_map(|r| r.units.iter().cloned()));
    let today = crate::now().with_timezone(&tz).date_naive();
    let cases =
        crate::follow::cases::counts_by_agency(conn, &ids, (first, last), (today, crate::now()))
            .await?;
    let dossiers = crate::follow::dossiers::resolved_by_agency(conn, &ids, first, last).await?;
    for row in rows.iter_mut() {
        let units = subject.ids_of(row.units.iter().cloned());
        let mine = units.iter().filter_map(|id| cases.get(id)).copied().sum();
        let resolved = units
            .iter()
            .filter_map(|id| dossiers.get(id))
            .copied()
            .reduce(|a, b| a + b);
        row.loop_figures =
            crate::follow::figures::loop_figures(mine, resolved, (row.responses, row.satisfied));
    }
    Ok(())
}

pub(super) fn served(
    doc: Canonical,
    stored: &annual_report::Model,
    late: Option<u64>,
    previous: Option<&[Row]>,
) -> AnnualReport {
    let rows = document::served_rows(doc.rows);
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
        band_counts: band_counts(&rows, previous),
        rows,
    }
}

/// What the top level of rankings is called: whose children the top-level agencies are.
pub const TOP_LEVEL: &str = "cấp tỉnh";

/// Whose children `report` ranks: its parent's name (from the agencies the context has
/// already read), or [`TOP_LEVEL`].
pub async fn whose(cx: &Context<'_>, report: &AnnualReport) -> Result<String> {
    whose_of(cx, report.parent.as_deref()).await
}

/// Whose children a ranking of `parent` ranks, by name.
pub async fn whose_of(cx: &Context<'_>, parent: Option<&str>) -> Result<String> {
    Ok(match parent {
        Some(code) => cx.agencies().await?.by_code(code)?.name.clone(),
        None => TOP_LEVEL.to_string(),
    })
}

/// A frozen ranking for the public, with the name of whose children it ranks (no
/// sign-in: only frozen reports are public). `None` until frozen.
pub async fn published(
    db: &Db,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<Option<(AnnualReport, String)>> {
    let year = year.get();
    let parent = parent.map(AgencyCode::as_str);
    let Some(stored) = frozen(&db.read, year, scope_key(parent)).await? else {
        return Ok(None);
    };
    let whose = match parent {
        Some(code) => agency_by_code(&db.read, code).await?.name,
        None => TOP_LEVEL.to_string(),
    };
    let doc = document::parse(&stored)?;
    let previous = previous_rows(&db.read, year, scope_key(parent)).await?;
    Ok(Some((
        served(doc, &stored, None, previous.as_deref()),
        whose,
    )))
}

/// The exact canonical text of a frozen ranking, for the public (its SHA-256 is the
/// published digest). `None` until frozen.
pub async fn published_text(
    db: &Db,
    year: Year,
    parent: Option<&AgencyCode>,
) -> Result<Option<String>> {
    let parent = parent.map(AgencyCode::as_str);
    Ok(frozen(&db.read, year.get(), scope_key(parent))
        .await?
        .map(|stored| stored.body))
}

/// One frozen ranking in the public index.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub year: i32,
    /// The parent's code; `None` for the top level.
    pub parent: Option<String>,
    /// Whose children it ranks.
    pub whose: String,
    pub digest: String,
    pub frozen_at: DateTime<Utc>,
}

/// Every frozen ranking, newest year first, then by parent code: the public index.
pub async fn published_list(db: &Db) -> Result<Vec<Published>> {
    use sea_orm::QueryOrder;
    let stored = annual_report::Entity::find()
        .order_by_desc(annual_report::Column::Year)
        .order_by_asc(annual_report::Column::Scope)
        .all(&db.read)
        .await?;
    let parents = stored
        .iter()
        .filter(|r| !r.scope.is_empty())
        .map(|r| r.scope.clone());
    let names: HashMap<String, String> = agency::Entity::find()
        .filter(agency::Column::Code.is_in(parents.collect::<Vec<_>>()))
        .all(&db.read)
        .await?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    Ok(stored
        .into_iter()
        .map(|r| {
            let parent = (!r.scope.is_empty()).then(|| r.scope.clone());
            let whose = match &parent {
                Some(code) => names.get(code).cloned().unwrap_or_else(|| code.clone()),
                None => TOP_LEVEL.to_string(),
            };
            Published {
                year: r.year,
                parent,
                whose,
                digest: r.digest,
                frozen_at: r.frozen_at,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_counts_compare_with_the_previous_year() {
        let row = |band| Row {
            rank: None,
            agency: String::new(),
            name: String::new(),
            responses: 0,
            excluded: 0,
            held: 0,
            satisfied: 0,
            satisfaction_pct: None,
            ci95: None,
            mean: None,
            index: None,
            band,
            units: vec![],
            loop_figures: Default::default(),
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
