//! Charts: figures from the scoring method (through the reports and the roll-ups), drawn
//! by [`render`] off the async runtime and cached.
//!
//! The cache is keyed by the chart's content (every label and figure drawn) and the
//! format, so a chart is drawn once per parameters and data version and a new rating or
//! exclusion can never be answered with a stale picture.

pub mod render;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Datelike;
use chrono_tz::Tz;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::govern::Principal;
use crate::org::agency_in_scope;
use crate::report::agency::period;
use crate::report::annual::{self, Subject};
use crate::report::export::element_label;
use crate::report::{monthly_tallies, sum_of, tallies};
use crate::score::{self, ELEMENTS, OVERALL, Tally};
pub use render::{Chart, Image, RankBar};

/// The query of every chart.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ChartQuery {
    /// The year (default: this year), for the ranking, trend and heat map.
    pub year: Option<String>,
    /// The agency whose children are shown (ranking, heat map).
    pub parent: Option<String>,
    /// First day, for the distribution (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day, for the distribution (default: today).
    pub to: Option<String>,
}

fn year_or_this(q: &ChartQuery, tz: Tz) -> String {
    q.year
        .clone()
        .unwrap_or_else(|| crate::now().with_timezone(&tz).year().to_string())
}

fn reader_roles(by: &Principal) -> Result<()> {
    by.require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])
}

/// The annual ranking as bars (frozen figures once the year is frozen).
pub async fn ranking(
    db: &Db,
    by: &Principal,
    tz: Tz,
    min_responses: u64,
    q: &ChartQuery,
) -> Result<Chart> {
    let year = year_or_this(q, tz);
    let report = annual::ranking(db, by, tz, min_responses, &year, q.parent.as_deref()).await?;
    let whose = match &report.parent {
        Some(code) => crate::org::agency_by_code(&db.read, code).await?.name,
        None => "cấp tỉnh".to_string(),
    };
    let frozen = if report.frozen { ", đã chốt" } else { "" };
    Ok(Chart::Ranking {
        title: format!(
            "Xếp hạng mức độ hài lòng năm {}: {whose}{frozen}",
            report.year
        ),
        bars: report.rows.iter().map(RankBar::from).collect(),
        bands: report.bands,
    })
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

/// The overall answers of `ids` together, per month, summed by the database.
async fn overall_by_month(db: &Db, year: i32, ids: &[i64]) -> Result<[Tally; 12]> {
    Ok(monthly_tallies(&db.read, year, ids, Some(OVERALL), false)
        .await?
        .remove(&0)
        .unwrap_or_default())
}

/// The monthly share of `code`'s subtree with its interval, against its parent's.
pub async fn trend(db: &Db, by: &Principal, tz: Tz, code: &str, q: &ChartQuery) -> Result<Chart> {
    reader_roles(by)?;
    let (root, tree) = agency_in_scope(&db.read, by, code).await?;
    let today = crate::now().with_timezone(&tz).date_naive();
    let year = annual::parse_year(&year_or_this(q, tz), today)?;
    let own = overall_by_month(db, year, &tree.subtree(root.id)).await?;
    let months = own
        .iter()
        .map(|t| {
            let f = score::figures(&t.overall());
            f.satisfaction_pct.zip(f.ci95)
        })
        .collect();
    let parent = match root.parent_id {
        Some(p) => {
            let name = crate::org::agency_name(&db.read, p).await?;
            let line = overall_by_month(db, year, &tree.subtree(p)).await?;
            Some((name, monthly_shares(&line)))
        }
        None => None,
    };
    Ok(Chart::Trend {
        title: format!("Tỷ lệ hài lòng theo tháng năm {year}: {}", root.name),
        agency: root.name,
        months,
        parent,
    })
}

/// Answers 1–5 per question over a period.
pub async fn distribution(
    db: &Db,
    by: &Principal,
    tz: Tz,
    code: &str,
    q: &ChartQuery,
) -> Result<Chart> {
    reader_roles(by)?;
    let (root, tree) = agency_in_scope(&db.read, by, code).await?;
    let today = crate::now().with_timezone(&tz).date_naive();
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), today)?;
    let subtree = tree.subtree(root.id);
    let total = sum_of(
        &tallies(&db.read, from, to, Some(&subtree)).await?,
        &subtree,
    );
    let rows = std::iter::once((OVERALL, "Nhìn chung"))
        .chain(ELEMENTS.iter().map(|k| (*k, element_label(k))))
        .map(|(key, label)| {
            let counts = total.questions.get(key).copied().unwrap_or_default();
            (label.to_string(), counts.0)
        })
        .collect();
    Ok(Chart::Distribution {
        title: format!(
            "Phân bố câu trả lời: {} ({} – {})",
            root.name,
            from.format("%d/%m/%Y"),
            to.format("%d/%m/%Y")
        ),
        rows,
    })
}

/// The share of each ranked agency per month.
pub async fn heatmap(db: &Db, by: &Principal, tz: Tz, q: &ChartQuery) -> Result<Chart> {
    let year = year_or_this(q, tz);
    let subject = Subject::load(&db.read, by, tz, &year, q.parent.as_deref()).await?;
    let subtrees: Vec<(i64, Vec<i64>)> = subject
        .ranked
        .iter()
        .map(|&id| (id, subject.tree.subtree(id)))
        .collect();
    let ids: Vec<i64> = subtrees
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    // Only the overall answers, per agency: twelve rows per agency and answer value.
    let by_agency = monthly_tallies(&db.read, subject.year, &ids, Some(OVERALL), true).await?;
    let mut rows: Vec<(String, String, Vec<Option<f64>>)> = subtrees
        .iter()
        .filter_map(|(id, subtree)| {
            let a = subject.agencies.get(id)?;
            let values = monthly_shares(&months_of(&by_agency, subtree));
            Some((a.code.clone(), a.name.clone(), values))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let whose = subject
        .parent
        .as_ref()
        .map_or("cấp tỉnh".to_string(), |p| p.name.clone());
    Ok(Chart::Heatmap {
        title: format!("Tỷ lệ hài lòng theo tháng năm {}: {whose}", subject.year),
        rows: rows.into_iter().map(|(_, name, v)| (name, v)).collect(),
    })
}

/// Drawn charts by content and format, within [`Cache::MAX_BYTES`] (emptied when the
/// next picture would not fit: a chart costs milliseconds to draw again).
#[derive(Clone, Default)]
pub struct Cache(Arc<Mutex<Drawn>>);

#[derive(Default)]
struct Drawn {
    pictures: HashMap<[u8; 32], Arc<Vec<u8>>>,
    bytes: usize,
}

impl Cache {
    /// What the cache may hold: a province's worth of charts in both formats.
    pub const MAX_BYTES: usize = 32 * 1024 * 1024;

    /// The bytes held now.
    pub fn bytes(&self) -> usize {
        self.0.lock().map_or(0, |m| m.bytes)
    }

    /// The chart in `format`, drawn on a blocking thread unless cached.
    pub async fn render(&self, chart: Chart, format: Image) -> Result<Arc<Vec<u8>>> {
        let key: [u8; 32] = Sha256::digest(format!("{format:?}{chart:?}").as_bytes()).into();
        if let Some(hit) = self
            .0
            .lock()
            .ok()
            .and_then(|m| m.pictures.get(&key).cloned())
        {
            metrics::counter!("hailong_chart_cache_hits_total").increment(1);
            return Ok(hit);
        }
        let bytes = tokio::task::spawn_blocking(move || chart.render(format))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        let bytes = Arc::new(bytes);
        if let Ok(mut drawn) = self.0.lock()
            && bytes.len() <= Self::MAX_BYTES
        {
            if drawn.bytes + bytes.len() > Self::MAX_BYTES {
                drawn.pictures.clear();
                drawn.bytes = 0;
            }
            if drawn.pictures.insert(key, bytes.clone()).is_none() {
                drawn.bytes += bytes.len();
            }
        }
        Ok(bytes)
    }
}
