//! The scoring method, version 1 (PRODUCT.md, "The scoring method"). This module is the
//! only place where figures are computed: the API, the pages, the charts, the exports and
//! the annual report all call it. It is pure: counts in, figures out.
//!
//! - **Satisfied** is an answer of 4 or 5. Three-level answers are stored as 1, 4 and 5,
//!   so one rule serves both scales.
//! - `satisfaction_pct` = satisfied ÷ answers × 100; `ci95` is the Wilson score interval at
//!   z = 1.959964, in percent; `mean` is the mean answer.
//! - `index` is the mean of the element shares that have answers, or the overall share when
//!   no element was answered.
//! - Ranking: by `satisfaction_pct` descending, then the interval's lower bound, then the
//!   count, then the agency code; fewer than `min_responses` answers: no rank, no band.

pub mod shown;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The method version written into every report.
pub const METHOD: u32 = 1;
/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959964;
/// The question every response answers.
pub const OVERALL: &str = "overall";
/// The elements of satisfaction (SIPAS), in the order reports show them.
pub const ELEMENTS: [&str; 5] = ["access", "procedure", "staff", "result", "feedback"];
/// The default minimum of answers for a rank.
pub const DEFAULT_MIN_RESPONSES: u64 = 30;

/// How many answers of each level (1..=5) one question got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts(pub [u64; 5]);

impl Counts {
    /// Adds `n` answers of `value`; values outside 1..=5 are ignored (none are stored).
    pub fn add(&mut self, value: i16, n: u64) {
        if let Some(slot) = usize::try_from(value - 1)
            .ok()
            .and_then(|i| self.0.get_mut(i))
        {
            *slot += n;
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn n(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn satisfied(&self) -> u64 {
        self.0[3] + self.0[4]
    }

    /// The sum of all answers' values.
    pub fn total(&self) -> u64 {
        self.0.iter().zip(1u64..).map(|(n, v)| n * v).sum()
    }
}

/// The counts behind a report: per question, the included answers; and the excluded
/// responses (counted on the overall question).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub questions: BTreeMap<String, Counts>,
    /// Excluded responses (not in the figures).
    pub excluded: u64,
    /// Held responses (not in the figures until released).
    pub held: u64,
    /// Counted responses that someone helped to rate.
    pub assisted: u64,
}

impl Tally {
    pub fn add(&mut self, question: &str, value: i16, n: u64) {
        self.questions
            .entry(question.to_string())
            .or_default()
            .add(value, n);
    }

    pub fn merge(&mut self, other: &Tally) {
        for (q, c) in &other.questions {
            self.questions.entry(q.clone()).or_default().merge(c);
        }
        self.excluded += other.excluded;
        self.held += other.held;
        self.assisted += other.assisted;
    }

    pub fn overall(&self) -> Counts {
        self.questions.get(OVERALL).copied().unwrap_or_default()
    }
}

/// The figures of one question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Figures {
    pub n: u64,
    pub satisfied: u64,
    /// `null` without answers.
    pub satisfaction_pct: Option<f64>,
    /// `[lo, hi]` in percent; `null` without answers.
    pub ci95: Option<[f64; 2]>,
    /// `null` without answers.
    pub mean: Option<f64>,
}

/// The Wilson score interval at 95% for `successes` of `n`, in percent, within [0, 100].
pub fn wilson(successes: u64, n: u64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = successes.min(n) as f64 / n_f;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denominator;
    let lo = ((centre - half) * 100.0).clamp(0.0, 100.0);
    let hi = ((centre + half) * 100.0).clamp(0.0, 100.0);
    // The share lies inside; rounding must not push a bound past it.
    let pct = p * 100.0;
    Some([lo.min(pct), hi.max(pct)])
}

/// The figures of one question's counts.
pub fn figures(c: &Counts) -> Figures {
    let n = c.n();
    let satisfied = c.satisfied();
    if n == 0 {
        return Figures {
            n,
            satisfied,
            satisfaction_pct: None,
            ci95: None,
            mean: None,
        };
    }
    Figures {
        n,
        satisfied,
        satisfaction_pct: Some(satisfied as f64 * 100.0 / n as f64),
        ci95: wilson(satisfied, n),
        mean: Some(c.total() as f64 / n as f64),
    }
}

/// The index: the mean of the element shares that have answers, else the overall share.
pub fn index(overall: &Figures, elements: &BTreeMap<String, Figures>) -> Option<f64> {
    let shares: Vec<f64> = elements
        .values()
        .filter_map(|f| f.satisfaction_pct)
        .collect();
    if shares.is_empty() {
        overall.satisfaction_pct
    } else {
        Some(shares.iter().sum::<f64>() / shares.len() as f64)
    }
}

/// Everything a report says about one set of responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub responses: u64,
    pub excluded: u64,
    /// Held out of the figures until a person decides.
    pub held: u64,
    /// Counted responses that someone helped to rate.
    pub assisted: u64,
    pub overall: Figures,
    pub index: Option<f64>,
    /// Answers per level of the overall question, "1".."5".
    pub distribution: BTreeMap<String, u64>,
    /// Every element of [`ELEMENTS`], and any other scale question that has answers.
    pub elements: BTreeMap<String, Figures>,
}

pub fn summarize(t: &Tally) -> Summary {
    let overall_counts = t.overall();
    let overall = figures(&overall_counts);
    let mut elements: BTreeMap<String, Figures> = ELEMENTS
        .iter()
        .map(|k| ((*k).to_string(), figures(&Counts::default())))
        .collect();
    for (key, counts) in &t.questions {
        if key != OVERALL {
            elements.insert(key.clone(), figures(counts));
        }
    }
    Summary {
        responses: overall.n,
        excluded: t.excluded,
        held: t.held,
        assisted: t.assisted,
        index: index(&overall, &elements),
        distribution: (1..=5)
            .map(|v| (v.to_string(), overall_counts.0[v - 1]))
            .collect(),
        elements,
        overall,
    }
}

/// The four annual bands on `satisfaction_pct`, plus too little data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Outstanding,
    Good,
    Completed,
    NotCompleted,
    InsufficientData,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::Outstanding,
        Band::Good,
        Band::Completed,
        Band::NotCompleted,
        Band::InsufficientData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Outstanding => "outstanding",
            Band::Good => "good",
            Band::Completed => "completed",
            Band::NotCompleted => "not_completed",
            Band::InsufficientData => "insufficient_data",
        }
    }

    /// The Vietnamese name (Decree 335/2025/NĐ-CP).
    pub fn name_vi(self) -> &'static str {
        match self {
            Band::Outstanding => "Hoàn thành xuất sắc",
            Band::Good => "Hoàn thành tốt",
            Band::Completed => "Hoàn thành",
            Band::NotCompleted => "Không hoàn thành",
            Band::InsufficientData => "Chưa đủ dữ liệu",
        }
    }
}

/// Lower bounds in percent, configurable per year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bands {
    pub outstanding: f64,
    pub good: f64,
    pub completed: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Self {
            outstanding: 90.0,
            good: 70.0,
            completed: 50.0,
        }
    }
}

impl Bands {
    pub fn band(&self, pct: f64) -> Band {
        if pct >= self.outstanding {
            Band::Outstanding
        } else if pct >= self.good {
            Band::Good
        } else if pct >= self.completed {
            Band::Completed
        } else {
            Band::NotCompleted
        }
    }

    /// Thresholds must fall from outstanding to completed, within [0, 100].
    pub fn is_valid(&self) -> bool {
        (0.0..=100.0).contains(&self.completed)
            && self.completed <= self.good
            && self.good <= self.outstanding
            && self.outstanding <= 100.0
    }
}

/// One agency to rank.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub code: String,
    pub summary: Summary,
}

/// One row of a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub rank: Option<u32>,
    pub band: Band,
    pub candidate: Candidate,
}

/// Ranks `candidates`: ranked rows first (1, 2, 3, … without shared places), then the
/// agencies with fewer than `min_responses` answers, by code.
pub fn rank(mut candidates: Vec<Candidate>, min_responses: u64, bands: &Bands) -> Vec<Ranked> {
    let enough = |c: &Candidate| c.summary.responses >= min_responses.max(1);
    candidates.sort_by(|a, b| {
        let key = |c: &Candidate| {
            (
                c.summary.overall.satisfaction_pct.unwrap_or(0.0),
                c.summary.overall.ci95.map_or(0.0, |ci| ci[0]),
                c.summary.responses,
            )
        };
        match (enough(a), enough(b)) {
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => a.code.cmp(&b.code),
            (true, true) => {
                let (pa, la, na) = key(a);
                let (pb, lb, nb) = key(b);
                pb.total_cmp(&pa)
                    .then(lb.total_cmp(&la))
                    .then(nb.cmp(&na))
                    .then(a.code.cmp(&b.code))
            }
        }
    });
    let mut next = 0;
    candidates
        .into_iter()
        .map(|candidate| {
            if enough(&candidate) {
                next += 1;
                let pct = candidate.summary.overall.satisfaction_pct.unwrap_or(0.0);
                Ranked {
                    rank: Some(next),
                    band: bands.band(pct),
                    candidate,
                }
            } else {
                Ranked {
                    rank: None,
                    band: Band::InsufficientData,
                    candidate,
                }
            }
        })
        .collect()
}

/// How many rows fall in each band (every band listed, zero included).
pub fn band_counts(bands: impl IntoIterator<Item = Band>) -> BTreeMap<&'static str, u64> {
    let mut out: BTreeMap<&'static str, u64> = Band::ALL.iter().map(|b| (b.as_str(), 0)).collect();
    for band in bands {
        *out.entry(band.as_str()).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests;
