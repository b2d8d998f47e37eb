//! A calendar year that a report may cover.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::Invalid;

/// Four digits, from [`Year::FIRST`] to a latest year the caller names (this year for
/// figures, next year for settings made ahead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Year(i32);

impl Year {
    /// The first year the product knows.
    pub const FIRST: i32 = 2000;

    /// `invalid_year` unless `raw` is four digits from [`Year::FIRST`] to `latest`.
    pub fn parse(raw: &str, latest: i32) -> Result<Self, Invalid> {
        let invalid = || {
            Invalid::new(
                "invalid_year",
                format!("the year must be from {} to {latest}", Self::FIRST),
            )
        };
        let year: i32 = raw.parse().map_err(|_| invalid())?;
        if raw.len() != 4 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if !(Self::FIRST..=latest).contains(&year) {
            return Err(invalid());
        }
        Ok(Self(year))
    }

    /// The year of `day`.
    pub fn of(day: NaiveDate) -> Self {
        Self(day.year())
    }

    /// A year known to be valid (read back from the database).
    pub fn stored(year: i32) -> Self {
        Self(year)
    }

    pub fn get(self) -> i32 {
        self.0
    }

    /// 1 January and 31 December.
    pub fn days(self) -> (NaiveDate, NaiveDate) {
        let first = NaiveDate::from_ymd_opt(self.0, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(self.0, 12, 31).unwrap_or(NaiveDate::MAX);
        (first, last)
    }

    pub fn previous(self) -> Self {
        Self(self.0 - 1)
    }
}

impl fmt::Display for Year {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_run_from_2000_to_the_latest() {
        assert_eq!(Year::parse("2025", 2026).unwrap().get(), 2025);
        assert_eq!(Year::parse("2026", 2026).unwrap().get(), 2026);
        assert_eq!(Year::parse("2000", 2026).unwrap().get(), 2000);
        for bad in ["2027", "1999", "20x5", "", "+2025", "02025", "-1", "+202"] {
            assert_eq!(
                Year::parse(bad, 2026).unwrap_err().code,
                "invalid_year",
                "{bad}"
            );
        }
        let y = Year::parse("2024", 2026).unwrap();
        assert_eq!(y.days().1, NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
        assert_eq!(y.to_string(), "2024");
    }
}
