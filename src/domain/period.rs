//! Periods of whole days, inclusive at both ends, in the deployment's time zone.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Invalid;

/// `from..=to`, both days included. Either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(raw: &str) -> Result<NaiveDate, Invalid> {
    let invalid = || Invalid::new("invalid_date", "dates are written YYYY-MM-DD");
    let raw = raw.trim();
    // chrono also takes unpadded fields (2026-1-5); the contract is strict.
    if raw.len() != 10 || !raw.is_ascii() || &raw[4..5] != "-" || &raw[7..8] != "-" {
        return Err(invalid());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| invalid())
}

/// The first instant of `day` in `tz`.
pub fn start_of(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, day.and_time(NaiveTime::MIN))
}

/// A local wall-clock time as an instant; in a gap (none in Vietnam) the earliest reading.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&local),
    }
}

impl Period {
    /// From the optional `from` and `to` query parameters.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, (&'static str, Invalid)> {
        let from = from
            .filter(|s| !s.is_empty())
            .map(parse_date)
            .transpose()
            .map_err(|e| ("from", e))?;
        let to = to
            .filter(|s| !s.is_empty())
            .map(parse_date)
            .transpose()
            .map_err(|e| ("to", e))?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err((
                "to",
                Invalid::new("invalid_period", "`to` comes before `from`"),
            ));
        }
        Ok(Self { from, to })
    }

    /// The half-open instants `[start, end)` the period covers in `tz`.
    pub fn instants(&self, tz: Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start = self.from.map(|d| start_of(tz, d));
        let end = self
            .to
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .map(|d| start_of(tz, d));
        (start, end)
    }
}

/// A period as people pick it on a dashboard (this month, last month, the quarter, the
/// year to date, or two dates), and the period it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    YearToDate,
    ThisMonth,
    LastMonth,
    Quarter,
    Custom(NaiveDate, NaiveDate),
}

/// `day`'s month and day in the month that starts on `first`, or that month's last day
/// (31 March is 28 or 29 February a month before).
fn same_day_in(first: NaiveDate, day_of: u32) -> NaiveDate {
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    first
        .with_day(day_of)
        .filter(|d| *d <= last)
        .unwrap_or(last)
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn months_before(first: NaiveDate, n: u32) -> NaiveDate {
    first
        .checked_sub_months(chrono::Months::new(n))
        .unwrap_or(first)
}

impl Span {
    /// The days of the span (`first..=last`) as of `today` in `year`, and the days it is
    /// compared with: the same stretch just before (the month, quarter or year before, up to
    /// the same day; for two dates, as many days ending the day before). A past year shows
    /// whole, against the year before it, whatever the span.
    pub fn days(
        self,
        year: i32,
        today: NaiveDate,
    ) -> ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)) {
        let jan = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(today);
        let dec = |y: i32| NaiveDate::from_ymd_opt(y, 12, 31).unwrap_or(today);
        if year < today.year() && !matches!(self, Span::Custom(..)) {
            return ((jan(year), dec(year)), (jan(year - 1), dec(year - 1)));
        }
        match self {
            Span::YearToDate => {
                let first = jan(today.year());
                let before = NaiveDate::from_ymd_opt(today.year() - 1, today.month(), 1)
                    .map(|m| same_day_in(m, today.day()))
                    .unwrap_or(today);
                ((first, today), (jan(today.year() - 1), before))
            }
            Span::ThisMonth => {
                let first = month_start(today);
                let start = months_before(first, 1);
                ((first, today), (start, same_day_in(start, today.day())))
            }
            Span::LastMonth => {
                let first = months_before(month_start(today), 1);
                let last = month_start(today).pred_opt().unwrap_or(first);
                let before = months_before(first, 1);
                ((first, last), (before, first.pred_opt().unwrap_or(before)))
            }
            Span::Quarter => {
                let q0 = (today.month0() / 3) * 3 + 1;
                let first = NaiveDate::from_ymd_opt(today.year(), q0, 1).unwrap_or(today);
                // As far into the quarter before: the same month of it, the same day.
                let end = same_day_in(months_before(month_start(today), 3), today.day());
                ((first, today), (months_before(first, 3), end))
            }
            Span::Custom(a, b) => {
                let (a, b) = (a.min(b), a.max(b));
                let days = b.signed_duration_since(a);
                let end = a.pred_opt().unwrap_or(a);
                ((a, b), (end - days, end))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn spans_and_the_stretch_they_are_compared_with() {
        let today = ymd(2026, 3, 31);
        let days = |s: Span| s.days(2026, today);
        assert_eq!(
            days(Span::YearToDate),
            (
                (ymd(2026, 1, 1), today),
                (ymd(2025, 1, 1), ymd(2025, 3, 31))
            )
        );
        assert_eq!(
            days(Span::ThisMonth),
            (
                (ymd(2026, 3, 1), today),
                (ymd(2026, 2, 1), ymd(2026, 2, 28))
            )
        );
        assert_eq!(
            days(Span::LastMonth),
            (
                (ymd(2026, 2, 1), ymd(2026, 2, 28)),
                (ymd(2026, 1, 1), ymd(2026, 1, 31))
            )
        );
        assert_eq!(
            days(Span::Quarter),
            (
                (ymd(2026, 1, 1), today),
                (ymd(2025, 10, 1), ymd(2025, 12, 31))
            )
        );
        assert_eq!(
            Span::Quarter.days(2026, ymd(2026, 5, 10)),
            (
                (ymd(2026, 4, 1), ymd(2026, 5, 10)),
                (ymd(2026, 1, 1), ymd(2026, 2, 10))
            )
        );
        assert_eq!(
            days(Span::Custom(ymd(2026, 3, 10), ymd(2026, 3, 1))),
            (
                (ymd(2026, 3, 1), ymd(2026, 3, 10)),
                (ymd(2026, 2, 19), ymd(2026, 2, 28))
            ),
            "ten days against the ten before, in either order"
        );
        assert_eq!(
            Span::ThisMonth.days(2025, today),
            (
                (ymd(2025, 1, 1), ymd(2025, 12, 31)),
                (ymd(2024, 1, 1), ymd(2024, 12, 31))
            ),
            "a past year shows whole"
        );
        // 29 February against the 28th a year before.
        assert_eq!(
            Span::YearToDate.days(2028, ymd(2028, 2, 29)).1.1,
            ymd(2027, 2, 28)
        );
    }

    use super::*;

    #[test]
    fn a_period_covers_whole_local_days() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        let p = Period::parse(Some("2026-01-01"), Some("2026-01-31")).unwrap();
        let (start, end) = p.instants(tz);
        // Midnight in Hanoi is 17:00 UTC the day before.
        assert_eq!(start.unwrap().to_rfc3339(), "2025-12-31T17:00:00+00:00");
        assert_eq!(end.unwrap().to_rfc3339(), "2026-01-31T17:00:00+00:00");
    }

    #[test]
    fn bad_periods_name_their_field() {
        assert_eq!(
            Period::parse(Some("2026-13-01"), None).unwrap_err().0,
            "from"
        );
        assert_eq!(Period::parse(Some("2026-1-5"), None).unwrap_err().0, "from");
        assert_eq!(Period::parse(None, Some("yesterday")).unwrap_err().0, "to");
        let (field, e) = Period::parse(Some("2026-02-01"), Some("2026-01-01")).unwrap_err();
        assert_eq!((field, e.code), ("to", "invalid_period"));
        assert_eq!(
            Period::parse(Some(""), None).unwrap(),
            Period {
                from: None,
                to: None
            }
        );
    }
}
