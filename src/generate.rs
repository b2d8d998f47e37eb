//! Generated ratings for the demo and the benches: a year of plausible answers, stored
//! through the same [`store_batch`] as live ratings (hash chain, roll-ups), in
//! chronological order and in large transactions.
//!
//! Each agency gets a quality (the chance of a satisfied answer; one in twelve is a poor
//! performer) and a volume. Days follow the seasons of a one-stop desk: quiet around Tết
//! (February), busy in spring and before the year's end, little on weekends; hours run
//! from 7:30 to 17:00 local time.

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use chrono_tz::Tz;
use entity::desk;
use sea_orm::{DbErr, EntityTrait, QueryOrder};

use crate::collect::answers::Answers;
use crate::collect::questionnaire::{self, ONE_STOP_5};
use crate::collect::store::{Channel, Submission, store_batch};
use crate::db::Db;
use crate::domain::period::local_to_utc;
use crate::score::ELEMENTS;

/// Ratings per transaction.
const BATCH: usize = 5000;

/// Relative volume per month, January first.
const SEASON: [f64; 12] = [
    0.9, 0.55, 1.1, 1.15, 1.1, 1.0, 0.95, 1.0, 1.05, 1.0, 1.05, 1.2,
];

/// A small, fast, reproducible random source (SplitMix64): demo data need no more.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One place ratings are given: an agency and its first desk.
#[derive(Debug, Clone)]
struct Source {
    agency: i64,
    desk: Option<i64>,
    quality: f64,
    /// The first day it exists (a unit made by a merger).
    valid_from: Option<NaiveDate>,
    /// The units it was made from, with their desks: who is rated before it begins.
    predecessors: Vec<(i64, Option<i64>)>,
}

impl Source {
    /// The agency and desk a rating picked for this source on `day` is recorded under:
    /// before a merger, one of the units it was made from; after a unit ended, what
    /// carries it (as the intake does with a printed card); `None` to skip.
    fn on(
        &self,
        day: NaiveDate,
        successions: &crate::org::Successions,
        rng: &mut Rng,
    ) -> Option<(i64, Option<i64>)> {
        if self.valid_from.is_some_and(|f| day < f) {
            if self.predecessors.is_empty() {
                return None;
            }
            let i = rng.below(self.predecessors.len() as u64) as usize;
            return self.predecessors.get(i).copied();
        }
        let carrier = successions.carrier(self.agency, day)?;
        Some((
            carrier,
            if carrier == self.agency {
                self.desk
            } else {
                None
            },
        ))
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub year: i32,
    pub count: u64,
    pub seed: u64,
    /// The last day to rate (today, for the current year).
    pub until: Option<NaiveDate>,
    /// Whether some ratings (about 4 %) carry a comment, and low ratings open their cases
    /// (as through a QR code), for the demo's inbox.
    pub comments: bool,
}

/// Comments citizens leave: (with a low rating, otherwise).
const COMMENTS: (&[&str], &[&str]) = (
    &[
        "Phải chờ quá lâu, quầy chỉ có một người tiếp nhận.",
        "Cán bộ hướng dẫn chưa rõ, tôi phải đi lại nhiều lần.",
        "Hồ sơ trả chậm so với giấy hẹn.",
        "Thái độ tiếp dân chưa niềm nở.",
        "Không có chỗ ngồi chờ, phòng nóng.",
    ],
    &[
        "Cán bộ nhiệt tình, hướng dẫn dễ hiểu.",
        "Thủ tục nhanh gọn, đúng hẹn.",
        "Nên có thêm máy lấy số thứ tự.",
        "Rất hài lòng, cảm ơn bộ phận một cửa.",
        "Cần niêm yết phí, lệ phí rõ hơn.",
    ],
);

/// An answer on the five-level scale: satisfied (4 or 5) with chance `quality`.
fn answer(rng: &mut Rng, quality: f64) -> i16 {
    if rng.unit() < quality {
        if rng.unit() < 0.55 { 5 } else { 4 }
    } else {
        [1, 2, 2, 3, 3, 3][rng.below(6) as usize]
    }
}

fn day_weight(day: NaiveDate) -> f64 {
    let season = SEASON[day.month0() as usize];
    match day.weekday() {
        Weekday::Sat => season * 0.2,
        Weekday::Sun => 0.0,
        _ => season,
    }
}

/// Stores `spec.count` generated ratings over every agency but the roots; `progress`
/// hears the number stored so far. Returns the number stored.
pub async fn ratings(
    db: &Db,
    tz: Tz,
    spec: &Spec,
    mut progress: impl FnMut(u64),
) -> Result<u64, DbErr> {
    let mut rng = Rng::new(spec.seed);
    let questionnaire = questionnaire::latest(&db.read, ONE_STOP_5)
        .await
        .map_err(|e| DbErr::Custom(e.message))?
        .ok_or_else(|| DbErr::Custom("the built-in questionnaire is missing".into()))?;
    let desks = desk::Entity::find()
        .order_by_asc(desk::Column::Id)
        .all(&db.read)
        .await?;
    let history = crate::org::History::load(&db.read)
        .await
        .map_err(|e| DbErr::Custom(e.message))?;
    let successions = history.successions();
    let desk_of = |id: i64| desks.iter().find(|d| d.agency_id == id).map(|d| d.id);
    let mut sources: Vec<Source> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    for a in history.agencies.iter().filter(|a| a.parent_id.is_some()) {
        let poor = rng.below(12) == 0;
        let quality = if poor {
            0.35 + 0.2 * rng.unit()
        } else {
            0.7 + 0.28 * rng.unit()
        };
        sources.push(Source {
            agency: a.id,
            desk: desk_of(a.id),
            quality,
            valid_from: a.valid_from,
            predecessors: history
                .agencies
                .iter()
                .filter(|p| p.successor_id == Some(a.id))
                .map(|p| (p.id, desk_of(p.id)))
                .collect(),
        });
        weights.push(0.3 + rng.unit());
    }
    if sources.is_empty() || spec.count == 0 {
        return Ok(0);
    }
    let total_weight: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total_weight;
        cumulative.push(acc);
    }

    let first = NaiveDate::from_ymd_opt(spec.year, 1, 1)
        .ok_or_else(|| DbErr::Custom("year out of range".into()))?;
    let last = NaiveDate::from_ymd_opt(spec.year, 12, 31).unwrap_or(first);
    let last = spec.until.map_or(last, |u| u.min(last));
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let day_weights: Vec<f64> = days.iter().map(|d| day_weight(*d)).collect();
    let all_days: f64 = day_weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);

    let mut stored = 0u64;
    let mut batch: Vec<Submission> = Vec::with_capacity(BATCH);
    let mut owed = 0.0;
    for (day, w) in days.iter().zip(&day_weights) {
        owed += spec.count as f64 * w / all_days;
        let today = (owed.round() as u64).min(spec.count - stored - batch.len() as u64);
        owed -= today as f64;
        let mut times: Vec<i64> = (0..today)
            .map(|_| rng.below(9 * 3600 + 1800) as i64)
            .collect();
        times.sort_unstable();
        for seconds in times {
            let pick = rng.unit();
            let i = cumulative
                .partition_point(|c| *c < pick)
                .min(sources.len() - 1);
            let source = &sources[i];
            let Some((agency_id, desk_id)) = source.on(*day, &successions, &mut rng) else {
                continue;
            };
            // A little drift over the year, so that trends have something to show.
            let quality =
                (source.quality + 0.04 * (f64::from(day.month0()) / 11.0 - 0.5)).clamp(0.0, 1.0);
            let mut values = vec![(crate::score::OVERALL.to_string(), answer(&mut rng, quality))];
            for element in ELEMENTS {
                if rng.unit() < 0.35 {
                    let q = (quality + 0.1 * (rng.unit() - 0.5)).clamp(0.0, 1.0);
                    values.push((element.to_string(), answer(&mut rng, q)));
                }
            }
            let comment = (spec.comments && rng.unit() < 0.04).then(|| {
                let overall = values.first().map_or(3, |(_, v)| *v);
                let list = if overall <= 2 { COMMENTS.0 } else { COMMENTS.1 };
                list[rng.below(list.len() as u64) as usize].to_string()
            });
            let local = day.and_hms_opt(7, 30, 0).unwrap_or_default() + TimeDelta::seconds(seconds);
            batch.push(Submission {
                link: None,
                agency_id,
                desk_id,
                service_id: None,
                questionnaire_id: questionnaire.id,
                channel: Channel::Qr,
                submitted_at: local_to_utc(tz, local),
                answers: Answers { values, comment },
                assisted: false,
                client_hash: None,
                device_hash: None,
                form_age: None,
                want_reply: false,
            });
            if batch.len() == BATCH {
                stored += flush(db, tz, &mut batch, spec.comments).await?;
                progress(stored);
            }
        }
    }
    stored += flush(db, tz, &mut batch, spec.comments).await?;
    progress(stored);
    Ok(stored)
}

async fn flush(db: &Db, tz: Tz, batch: &mut Vec<Submission>, cases: bool) -> Result<u64, DbErr> {
    if batch.is_empty() {
        return Ok(0);
    }
    let txn = db.begin_write().await?;
    let results = store_batch(&txn, tz, batch, None).await?;
    if cases {
        let days = crate::config::DEFAULT_FOLLOW_UP_DAYS;
        crate::collect::store::follow_up(&txn, tz, days, batch, results).await?;
    }
    txn.commit().await?;
    let n = batch.len() as u64;
    batch.clear();
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_source_is_reproducible_and_uniform_enough() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mean: f64 = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert!((0..1000).all(|_| a.below(6) < 6));
    }

    #[test]
    fn sundays_are_closed_and_tet_is_quiet() {
        let sunday = NaiveDate::from_ymd_opt(2025, 3, 2).unwrap();
        assert_eq!(day_weight(sunday), 0.0);
        let feb = NaiveDate::from_ymd_opt(2025, 2, 4).unwrap();
        let apr = NaiveDate::from_ymd_opt(2025, 4, 8).unwrap();
        assert!(day_weight(feb) < day_weight(apr));
    }
}
