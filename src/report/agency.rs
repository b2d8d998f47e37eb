//! `GET /api/v1/reports/agencies/{code}`: an agency over its whole subtree, and each of its
//! direct children over theirs.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use entity::agency;
use serde::{Deserialize, Serialize};

use super::{MAX_YEARS, sum_of, tallies_kept};
use crate::app::Context;
use crate::domain::{AgencyCode, Invalid, Period, Role};
use crate::error::{Error, Result};
use crate::follow::{self, figures::LoopFigures};
use crate::score::{self, Figures, METHOD, Summary};

/// One child's line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ChildFigures {
    pub agency: String,
    pub name: String,
    pub responses: u64,
    pub satisfaction_pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub index: Option<f64>,
}

/// The figures of an agency and its subtree over a period (API.md, "Reports").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgencyReport {
    pub agency: String,
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub method: u32,
    pub responses: u64,
    pub excluded: u64,
    /// Held out of the figures until an administrator decides (API.md, "Trust in the
    /// figures").
    pub held: u64,
    /// Counted responses that someone helped to rate.
    pub assisted: u64,
    pub satisfied: u64,
    pub satisfaction_pct: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub mean: Option<f64>,
    pub index: Option<f64>,
    /// Overall answers per level, "1".."5".
    pub distribution: BTreeMap<String, u64>,
    pub elements: BTreeMap<String, Figures>,
    pub children: Vec<ChildFigures>,
    /// The day whose tree the figures are read on (API.md, "Reorganisation").
    pub as_of: NaiveDate,
    /// The agencies that had ended by `as_of` whose ratings these figures include.
    pub restated_from: Vec<String>,
    /// Decision 766's figures: the follow-up of the cases opened in the period and the
    /// dossiers resolved in it (API.md, "Closing the loop").
    #[serde(flatten)]
    pub loop_figures: LoopFigures,
}

/// The period a report covers: `given` with its open ends filled (1 January of this year,
/// today), `from` ≤ `to`, at most [`MAX_YEARS`] years.
pub fn period(given: Period, today: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let start_of_year = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let from = given.from.unwrap_or(start_of_year);
    let to = given.to.unwrap_or(today);
    if from > to {
        return Err(Error::invalid(
            "to",
            Invalid::new("invalid_period", "`to` comes before `from`"),
        ));
    }
    // 29 February plus ten years is 28 February: `checked_add_months` clamps.
    let limit = from
        .checked_add_months(Months::new(12 * MAX_YEARS.unsigned_abs()))
        .unwrap_or(NaiveDate::MAX);
    if to >= limit {
        return Err(Error::invalid(
            "to",
            Invalid::new(
                "period_too_long",
                format!("a report covers at most {MAX_YEARS} years"),
            ),
        ));
    }
    Ok((from, to))
}

/// The report of agency `code`. Roles: administrators; managers, viewers and integrators
/// within their scope.
pub async fn report(
    cx: &Context<'_>,
    code: &AgencyCode,
    given: Period,
    as_of: Option<NaiveDate>,
) -> Result<AgencyReport> {
    Ok(report_and_tally(cx, code, given, as_of).await?.0)
}

/// [`report`], with the tally of the whole subtree it was computed from (for a page that
/// also draws it).
pub async fn report_and_tally(
    cx: &Context<'_>,
    code: &AgencyCode,
    given: Period,
    as_of: Option<NaiveDate>,
) -> Result<(AgencyReport, crate::score::Tally)> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    let (from, to) = period(given, cx.today())?;
    let (root, agencies) = cx.restated(code, as_of).await?;
    let tree = &agencies.tree;
    let subtree = tree.subtree(root.id);
    let tallies = tallies_kept(db, cx.today(), (from, to), &subtree, None).await?;
    let total = sum_of(&tallies, &subtree);
    let summary = score::summarize(&total);
    let mut children: Vec<ChildFigures> = tree
        .children(root.id)
        .iter()
        .map(|&child| {
            let s = score::summarize(&sum_of(&tallies, &tree.subtree(child)));
            let (code, name) = agencies
                .get(child)
                .map(|a| (a.code.clone(), a.name.clone()))
                .unwrap_or_default();
            ChildFigures {
                agency: code,
                name,
                responses: s.responses,
                satisfaction_pct: s.overall.satisfaction_pct,
                ci95: s.overall.ci95,
                mean: s.overall.mean,
                index: s.index,
            }
        })
        .collect();
    children.sort_by(|a, b| a.agency.cmp(&b.agency));
    let restated_from = agencies.restated_from(root.id);
    let loop_figures = loop_figures(cx, &subtree, (from, to), &summary).await?;
    let mut report = build(
        root,
        (from, to),
        summary,
        children,
        (agencies.day, restated_from),
    );
    report.loop_figures = loop_figures;
    Ok((report, total))
}

/// The follow-up of the cases opened in the period and the dossier figures, over `ids`.
async fn loop_figures(
    cx: &Context<'_>,
    ids: &[i64],
    (from, to): (NaiveDate, NaiveDate),
    summary: &Summary,
) -> Result<LoopFigures> {
    let conn = &cx.db.read;
    let cases = follow::cases::counts_by_agency(conn, ids, (from, to), (cx.today(), crate::now()))
        .await?
        .into_values()
        .sum();
    let dossiers = follow::dossiers::resolved(conn, ids, from, to).await?;
    Ok(follow::figures::loop_figures(
        cases,
        dossiers,
        (summary.responses, summary.overall.satisfied),
    ))
}

fn build(
    root: agency::Model,
    (from, to): (NaiveDate, NaiveDate),
    s: Summary,
    children: Vec<ChildFigures>,
    (as_of, restated_from): (NaiveDate, Vec<String>),
) -> AgencyReport {
    let mut report = AgencyReport {
        agency: root.code,
        name: root.name,
        from,
        to,
        method: METHOD,
        responses: 0,
        excluded: 0,
        held: 0,
        assisted: 0,
        satisfied: 0,
        satisfaction_pct: None,
        ci95: None,
        mean: None,
        index: None,
        distribution: BTreeMap::new(),
        elements: BTreeMap::new(),
        children,
        as_of,
        restated_from,
        loop_figures: LoopFigures::default(),
    };
    report.set_figures(s);
    report
}

impl AgencyReport {
    /// Puts `s` in place of the report's own figures (a slice of its ratings, for one).
    pub fn set_figures(&mut self, s: Summary) {
        self.responses = s.responses;
        self.excluded = s.excluded;
        self.held = s.held;
        self.assisted = s.assisted;
        self.satisfied = s.overall.satisfied;
        self.satisfaction_pct = s.overall.satisfaction_pct;
        self.ci95 = s.overall.ci95;
        self.mean = s.overall.mean;
        self.index = s.index;
        self.distribution = s.distribution;
        self.elements = s.elements;
    }

    /// The ratings the report's period holds, counted, held and excluded.
    pub fn ratings(&self) -> u64 {
        self.responses + self.held + self.excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing as the web layer does, then resolving.
    fn period_of(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<(NaiveDate, NaiveDate)> {
        let given = Period::parse(from, to).map_err(|(field, e)| Error::invalid(field, e))?;
        period(given, today)
    }

    #[test]
    fn periods_default_to_this_year_and_are_bounded() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let (from, to) = period_of(None, None, today).unwrap();
        assert_eq!((from.to_string(), to), ("2026-01-01".to_string(), today));
        let code = |f, t| period_of(Some(f), Some(t), today).unwrap_err().code;
        assert_eq!(code("2026-02-01", "2026-01-01"), "invalid_period");
        assert_eq!(code("2016-01-01", "2026-01-01"), "period_too_long");
        assert!(period_of(Some("2016-01-02"), Some("2026-01-01"), today).is_ok());
        assert_eq!(code("2026-1-1", "2026-02-01"), "invalid_date");
        // A leap day starts a period like any other day.
        assert!(period_of(Some("2024-02-29"), Some("2024-03-01"), today).is_ok());
        assert_eq!(code("2024-02-29", "2034-02-28"), "period_too_long");
        assert!(period_of(Some("2024-02-29"), Some("2034-02-27"), today).is_ok());
    }
}
