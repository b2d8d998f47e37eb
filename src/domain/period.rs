//! Periods of whole days, inclusive at both ends, in the deployment's time zone.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
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

#[cfg(test)]
mod tests {
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
