//! Working days: Monday to Friday, less the year's days off, plus its make-up working days.
//! A year that nobody has set holds Vietnam's public holidays (Labour Code 2019, Art. 112):
//! 1 January; Tết (the last day of the lunar year and the first four of the new one); the
//! Hùng Kings' day (10th of the 3rd lunar month); 30 April; 1 May; 2 September and the day
//! before it. A holiday on a Saturday or a Sunday gives the next working day off. The lunar
//! dates come from [`crate::domain::lunar`]. The government fixes each year's exact days
//! (and often swaps a bridge day for a Saturday): an administrator sets them with
//! `PUT /api/v1/calendar/{year}`.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use entity::calendar_year;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use crate::app::Context;
use crate::domain::{Invalid, Role, Year, lunar, period::parse_date};
use crate::error::{Error, Result};
use crate::govern::audit;

/// A year's calendar as the API shows and takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct YearCalendar {
    pub year: i32,
    /// Weekdays off (public holidays, days given in lieu).
    pub days_off: Vec<NaiveDate>,
    /// Saturdays or Sundays worked to make up for a day off.
    pub working_days: Vec<NaiveDate>,
}

/// The body of `PUT /api/v1/calendar/{year}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInput {
    #[serde(default)]
    pub year: Option<i32>,
    pub days_off: Vec<String>,
    #[serde(default)]
    pub working_days: Vec<String>,
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn day(year: i32, month: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, d)
}

/// Vietnam's public holidays of `year` by default, with a day in lieu for each that falls
/// on a weekend.
pub fn default_days_off(year: i32) -> Vec<NaiveDate> {
    let mut holidays: Vec<NaiveDate> = Vec::new();
    holidays.extend(day(year, 1, 1));
    if let Some(tet) = lunar::tet(year) {
        holidays.extend(tet.checked_sub_days(Days::new(1)));
        holidays.extend((0..4).filter_map(|i| tet.checked_add_days(Days::new(i))));
    }
    holidays.extend(lunar::hung_kings(year));
    holidays.extend(
        [
            day(year, 4, 30),
            day(year, 5, 1),
            day(year, 9, 1),
            day(year, 9, 2),
        ]
        .into_iter()
        .flatten(),
    );
    let holidays: BTreeSet<NaiveDate> = holidays.into_iter().filter(|d| d.year() == year).collect();
    let mut off: BTreeSet<NaiveDate> = holidays
        .iter()
        .copied()
        .filter(|d| !is_weekend(*d))
        .collect();
    for h in holidays.iter().filter(|d| is_weekend(**d)) {
        let mut next = h.succ_opt();
        while let Some(n) = next {
            if !is_weekend(n) && !holidays.contains(&n) && !off.contains(&n) {
                off.insert(n);
                break;
            }
            next = n.succ_opt();
        }
    }
    off.into_iter().filter(|d| d.year() == year).collect()
}

/// The working days of the years loaded.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    days_off: BTreeSet<NaiveDate>,
    working: BTreeSet<NaiveDate>,
}

impl Calendar {
    fn add(&mut self, year: &YearCalendar) {
        self.days_off.extend(year.days_off.iter().copied());
        self.working.extend(year.working_days.iter().copied());
    }

    pub fn is_working(&self, d: NaiveDate) -> bool {
        self.working.contains(&d) || (!is_weekend(d) && !self.days_off.contains(&d))
    }

    /// The `n`th working day after `from` (`from` itself not counted).
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut d = from;
        let mut left = n;
        // Bounded: a year has at least 200 working days.
        for _ in 0..(n as usize * 3 + 60) {
            if left == 0 {
                break;
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
            if self.is_working(d) {
                left -= 1;
            }
        }
        d
    }

    /// The calendars of `first..=last` (set, or the default).
    pub async fn load(conn: &impl ConnectionTrait, first: i32, last: i32) -> Result<Self> {
        let mut out = Self::default();
        for year in first..=last {
            out.add(&year_calendar(conn, year).await?);
        }
        Ok(out)
    }
}

/// The calendar of `year`: as set, else the default.
async fn year_calendar(conn: &impl ConnectionTrait, year: i32) -> Result<YearCalendar> {
    let stored = calendar_year::Entity::find()
        .filter(calendar_year::Column::Year.eq(year))
        .one(conn)
        .await?;
    Ok(match stored {
        Some(s) => YearCalendar {
            year,
            days_off: serde_json::from_str(&s.days_off).map_err(Error::internal)?,
            working_days: serde_json::from_str(&s.working_days).map_err(Error::internal)?,
        },
        None => YearCalendar {
            year,
            days_off: default_days_off(year),
            working_days: Vec::new(),
        },
    })
}

/// `GET /api/v1/calendar/{year}`: every signed-in role.
pub async fn get(cx: &Context<'_>, year: Year) -> Result<YearCalendar> {
    cx.by
        .require_role(&[Role::Admin, Role::Manager, Role::Viewer, Role::Integrator])?;
    year_calendar(&cx.db.read, year.get()).await
}

/// Parses a list of dates of `year`; `field` names the list.
fn dates_of(raw: &[String], year: i32, field: &str) -> Result<Vec<NaiveDate>> {
    let mut out = BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let name = format!("{field}[{i}]");
        let d = parse_date(r).map_err(|e| Error::invalid(&name, e))?;
        if d.year() != year {
            return Err(Error::invalid(
                &name,
                Invalid::new("outside_year", format!("{d} is not in {year}")),
            ));
        }
        out.insert(d);
    }
    Ok(out.into_iter().collect())
}

/// `PUT /api/v1/calendar/{year}` (administrators): the year's days off and make-up working
/// days, replacing the default.
pub async fn put(cx: &Context<'_>, year: Year, input: CalendarInput) -> Result<YearCalendar> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let year = year.get();
    if input.year.is_some_and(|y| y != year) {
        return Err(Error::invalid(
            "year",
            Invalid::new("outside_year", "the body's year is not the address's"),
        ));
    }
    let limit = 366;
    if input.days_off.len() > limit || input.working_days.len() > limit {
        return Err(Error::invalid(
            "days_off",
            Invalid::new("too_many_days", "a year has at most 366 days"),
        ));
    }
    let days_off = dates_of(&input.days_off, year, "days_off")?;
    let working_days = dates_of(&input.working_days, year, "working_days")?;
    if let Some(both) = days_off.iter().find(|d| working_days.contains(d)) {
        return Err(Error::invalid(
            "working_days",
            Invalid::new("conflicting_day", format!("{both} is both off and worked")),
        ));
    }
    let calendar = YearCalendar {
        year,
        days_off,
        working_days,
    };
    let txn = db.begin_write().await?;
    calendar_year::Entity::delete_many()
        .filter(calendar_year::Column::Year.eq(year))
        .exec(&txn)
        .await?;
    calendar_year::ActiveModel {
        year: Set(year),
        days_off: Set(serde_json::to_string(&calendar.days_off).map_err(Error::internal)?),
        working_days: Set(serde_json::to_string(&calendar.working_days).map_err(Error::internal)?),
        updated_at: Set(crate::now()),
        updated_by: Set(by.actor.clone()),
    }
    .insert(&txn)
    .await?;
    audit::commit(
        txn,
        &by.actor,
        "calendar.set",
        &format!("calendar:{year}"),
        serde_json::json!(calendar),
    )
    .await?;
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_holds_the_public_holidays_of_2026() {
        let off = default_days_off(2026);
        for day in [
            "2026-01-01", // New Year (Thursday)
            "2026-02-16", // the last day of the year of the Snake
            "2026-02-17", // Tết
            "2026-02-18",
            "2026-02-19",
            "2026-02-20",
            "2026-04-27", // the Hùng Kings' day, 26 April, is a Sunday: Monday in lieu
            "2026-04-30",
            "2026-05-01",
            "2026-09-01",
            "2026-09-02",
        ] {
            assert!(off.contains(&d(day)), "{day} is off: {off:?}");
        }
        assert!(!off.contains(&d("2026-04-26")), "a Sunday is not listed");
        assert!(off.iter().all(|x| x.year() == 2026));
    }

    #[test]
    fn due_dates_skip_weekends_and_days_off() {
        let mut cal = Calendar::default();
        cal.add(&YearCalendar {
            year: 2026,
            days_off: default_days_off(2026),
            working_days: vec![d("2026-02-28")],
        });
        // Friday 24 April + 5 working days: Mon 27 (in lieu) and Thu 30, Fri 1 May are off.
        assert_eq!(cal.add_working_days(d("2026-04-24"), 5), d("2026-05-06"));
        // Across Tết, with a Saturday worked.
        assert_eq!(cal.add_working_days(d("2026-02-13"), 1), d("2026-02-23"));
        assert_eq!(cal.add_working_days(d("2026-02-26"), 2), d("2026-02-28"));
        assert_eq!(cal.add_working_days(d("2026-03-06"), 0), d("2026-03-06"));
    }
}
