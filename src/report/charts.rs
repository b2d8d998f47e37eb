//! The figures behind each chart, through the reports and the roll-ups (and so through
//! [`crate::score`]), checked against the caller's role and scope. Drawing them is
//! [`crate::chart`]'s job, which does no I/O.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::agency::period;
use super::annual::{self, AnnualReport, Subject};
use super::export::element_label;
use super::{monthly_tallies, months_kept, sum_of, tallies_kept};
use crate::app::Context;
use crate::chart::{Caveats, Chart, MonthFigure, RankBar};
use crate::domain::{AgencyCode, Period, Role, Year};
use crate::error::Result;
use crate::govern::Principal;
use crate::score::{self, ELEMENTS, OVERALL, Tally};

fn reader_roles(by: &Principal) -> Result<()> {
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])
}

/// The annual ranking as bars (frozen figures once the year is frozen).
pub async fn ranking(cx: &Context<'_>, year: Year, parent: Option<&AgencyCode>) -> Result<Chart> {
    let report = annual::ranking(cx, year, parent).await?;
    let whose = annual::whose(cx, &report).await?;
    Ok(ranking_chart(&report, &whose))
}

/// The bars of a ranking, titled with whose children it ranks and whether it is frozen.
pub fn ranking_chart(report: &AnnualReport, whose: &str) -> Chart {
    let frozen = if report.frozen { ", đã chốt" } else { "" };
    Chart::Ranking {
        title: format!(
            "Xếp hạng mức độ hài lòng năm {}: {whose}{frozen}",
            report.year
        ),
        bars: report.rows.iter().map(RankBar::from).collect(),
        bands: report.bands,
    }
}

impl From<&annual::Row> for RankBar {
    fn from(r: &annual::Row) -> Self {
        Self {
            label: r.name.clone(),
            rank: r.rank,
            responses: r.responses,
            pct: r.satisfaction_pct,
            ci95: r.ci95,
            band: r.band,
        }
    }
}

/// Month by month sums of `ids`' tallies.
fn months_of(by_agency: &HashMap<i64, [Tally; 12]>, ids: &[i64]) -> [Tally; 12] {
    let mut out: [Tally; 12] = Default::default();
    for id in ids {
        if let Some(months) = by_agency.get(id) {
            for (sum, t) in out.iter_mut().zip(months) {
                sum.merge(t);
            }
        }
    }
    out
}

/// The overall share per month.
fn monthly_shares(months: &[Tally; 12]) -> Vec<Option<f64>> {
    months
        .iter()
        .map(|t| score::figures(&t.overall()).satisfaction_pct)
        .collect()
}

/// The overall answers, share and interval per month.
fn monthly_figures(months: &[Tally; 12]) -> Vec<MonthFigure> {
    months
        .iter()
        .map(|t| {
            let f = score::figures(&t.overall());
            MonthFigure {
                n: f.n,
                pct: f.satisfaction_pct,
                ci95: f.ci95,
            }
        })
        .collect()
}

/// The year's minimum sample, and the month of `year` still running (by the deployment's
/// calendar).
async fn caveats(cx: &Context<'_>, year: i32) -> Result<Caveats> {
    let settings = annual::settings::settings(&cx.db.read, year, cx.config.min_responses).await?;
    let today = cx.today();
    Ok(Caveats {
        min_n: settings.min_responses,
        running: (today.year() == year).then_some(today.month0() as usize),
    })
}

/// The overall answers of `ids` together, per month, summed by the database.
async fn overall_by_month(cx: &Context<'_>, year: i32, ids: &[i64]) -> Result<[Tally; 12]> {
    months_kept(cx.db, cx.today(), year, ids, Some(OVERALL)).await
}

/// The monthly share of `code`'s subtree with its interval, against its parent's, on the
/// tree of the year's last day (restated: a successor's line includes its predecessors'),
/// with each merger or closure it restates marked at its day.
pub async fn trend(cx: &Context<'_>, code: &AgencyCode, year: Year) -> Result<Chart> {
    let Context { by, .. } = *cx;
    reader_roles(by)?;
    let (_, last) = year.days();
    let (root, agencies) = cx.restated(code, Some(last)).await?;
    let tree = &agencies.tree;
    let year = year.get();
    let own = overall_by_month(cx, year, &tree.subtree(root.id)).await?;
    let months = monthly_figures(&own);
    let parent = match root.parent_id {
        Some(p) => {
            let name = agencies.get(p).map(|a| a.name.clone()).unwrap_or_default();
            let line = overall_by_month(cx, year, &tree.subtree(p)).await?;
            Some((name, monthly_shares(&line)))
        }
        None => None,
    };
    let marks = reorganisation_marks(&agencies, root.id, year);
    Ok(Chart::Trend {
        title: format!("Tỷ lệ hài lòng theo tháng năm {year}: {}", root.name),
        agency: root.name,
        months,
        parent,
        marks,
        caveats: caveats(cx, year).await?,
    })
}

/// Where in `year` the agencies that `root`'s subtree restates ended: "Sáp nhập" for a
/// merger, "Giải thể" for a closure, at the first day without them (in months, 0.5 the
/// first of January).
fn reorganisation_marks(
    agencies: &crate::org::Agencies,
    root: i64,
    year: i32,
) -> Vec<(f64, String)> {
    let mut marks: Vec<(NaiveDate, &str)> = agencies
        .tree
        .subtree(root)
        .into_iter()
        .filter_map(|id| agencies.get(id))
        .filter(|a| crate::org::ended_before(a, agencies.day))
        .filter_map(|a| {
            let day = crate::org::history::end_effective(a)?;
            let kind = if a.successor_id.is_some() {
                "Sáp nhập"
            } else {
                "Giải thể"
            };
            (day.year() == year).then_some((day, kind))
        })
        .collect();
    marks.sort();
    marks.dedup();
    marks
        .into_iter()
        .map(|(day, kind)| {
            let days = f64::from(crate::rollup::read::last_of_month(day).day());
            let x = f64::from(day.month()) - 0.5 + f64::from(day.day() - 1) / days;
            (x, format!("{kind} {}", day.format("%d/%m/%Y")))
        })
        .collect()
}

/// Answers 1–5 per question over a period.
pub async fn distribution(cx: &Context<'_>, code: &AgencyCode, given: Period) -> Result<Chart> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    reader_roles(by)?;
    let (root, agencies) = cx.in_scope(code).await?;
    let tree = &agencies.tree;
    let today = crate::now().with_timezone(&tz).date_naive();
    let (from, to) = period(given, today)?;
    let subtree = tree.subtree(root.id);
    let total = sum_of(
        &tallies_kept(db, today, (from, to), &subtree, None).await?,
        &subtree,
    );
    Ok(distribution_of(&root.name, (from, to), &total))
}

/// The chart of answers 1–5 per question of `total`, the tally of `whose` over a period.
pub fn distribution_of(whose: &str, (from, to): (NaiveDate, NaiveDate), total: &Tally) -> Chart {
    let rows = std::iter::once(OVERALL)
        .chain(ELEMENTS.iter().copied())
        .map(|key| (key, element_label(key)))
        .map(|(key, label)| {
            let counts = total.questions.get(key).copied().unwrap_or_default();
            (label.to_string(), counts.0)
        })
        .collect();
    Chart::Distribution {
        title: format!(
            "Phân bố câu trả lời: {whose} ({} – {})",
            from.format("%d/%m/%Y"),
            to.format("%d/%m/%Y")
        ),
        rows,
    }
}

/// The share of each ranked agency per month.
pub async fn heatmap(cx: &Context<'_>, year: Year, parent: Option<&AgencyCode>) -> Result<Chart> {
    let db = cx.db;
    let subject = Subject::load(cx, year, parent).await?;
    let subtrees: Vec<(i64, Vec<i64>)> = subject
        .ranked
        .iter()
        .map(|&id| (id, subject.agencies.tree.subtree(id)))
        .collect();
    let ids: Vec<i64> = subtrees
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    // Only the overall answers, per agency: twelve rows per agency and answer value.
    let by_agency = monthly_tallies(&db.read, subject.year, &ids, Some(OVERALL), true).await?;
    let mut rows: Vec<(String, String, Vec<MonthFigure>)> = subtrees
        .iter()
        .filter_map(|(id, subtree)| {
            let a = subject.agencies.get(*id)?;
            let values = monthly_figures(&months_of(&by_agency, subtree));
            Some((a.code.clone(), a.name.clone(), values))
        })
        .collect();
    // In Vietnamese alphabetical order of the names, as in the tables.
    rows.sort_by_cached_key(|r| (crate::domain::text::vi_sort_key(&r.1), r.0.clone()));
    let whose = subject
        .parent
        .as_ref()
        .map_or(annual::TOP_LEVEL.to_string(), |p| p.name.clone());
    Ok(Chart::Heatmap {
        title: format!("Tỷ lệ hài lòng theo tháng năm {}: {whose}", subject.year),
        rows: rows.into_iter().map(|(_, name, v)| (name, v)).collect(),
        caveats: caveats(cx, subject.year).await?,
    })
}
