//! The roll-ups: answer counts kept beside the responses, in the same transaction as each
//! stored response and each exclusion, so that reports never read raw responses.
//!
//! | table | key | for |
//! |---|---|---|
//! | `rollup_daily` | agency × local day × desk × questionnaire × question × value | partial months, detail |
//! | `rollup_monthly` | month × agency × question × value | whole months |
//! | `rollup_yearly` | year × agency × question × value | whole years, the annual ranking |
//!
//! `n` counts included answers, `excluded` those of excluded responses. Days, months and
//! years are local to the deployment's time zone.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr, Value};

/// One roll-up row's place, without the question and the value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    Daily {
        agency: i64,
        day: NaiveDate,
        /// 0 when the response has no desk.
        desk: i64,
        questionnaire: i64,
    },
    Monthly {
        month: NaiveDate,
        agency: i64,
    },
    Yearly {
        year: i32,
        agency: i64,
    },
}

impl Place {
    pub fn table(&self) -> &'static str {
        match self {
            Place::Daily { .. } => "rollup_daily",
            Place::Monthly { .. } => "rollup_monthly",
            Place::Yearly { .. } => "rollup_yearly",
        }
    }

    /// The key columns before `question_key` and `value`, with their values.
    fn columns(&self) -> Vec<(&'static str, Value)> {
        match *self {
            Place::Daily {
                agency,
                day,
                desk,
                questionnaire,
            } => vec![
                ("agency_id", agency.into()),
                ("day", day.into()),
                ("desk_id", desk.into()),
                ("questionnaire_id", questionnaire.into()),
            ],
            Place::Monthly { month, agency } => {
                vec![("month", month.into()), ("agency_id", agency.into())]
            }
            Place::Yearly { year, agency } => {
                vec![("year", year.into()), ("agency_id", agency.into())]
            }
        }
    }
}

/// The local day and the first day of the month of an instant.
pub fn local_day(tz: Tz, at: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let day = at.with_timezone(&tz).date_naive();
    let month = day.with_day(1).unwrap_or(day);
    (day, month)
}

/// Every roll-up row that an answer of this response adds to.
pub fn places(
    tz: Tz,
    agency: i64,
    desk: Option<i64>,
    questionnaire: i64,
    submitted_at: DateTime<Utc>,
) -> [Place; 3] {
    let (day, month) = local_day(tz, submitted_at);
    [
        Place::Daily {
            agency,
            day,
            desk: desk.unwrap_or(0),
            questionnaire,
        },
        Place::Monthly { month, agency },
        Place::Yearly {
            year: day.year(),
            agency,
        },
    ]
}

/// The two counts of a roll-up row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Included answers.
    pub n: i64,
    /// Answers of excluded responses.
    pub excluded: i64,
}

/// Counts to add: (place, question, value) → answers.
pub type Additions = HashMap<(Place, String, i16), Count>;

/// Adds `counts` with multi-row upserts (`n = n + excluded.n`, and the same for
/// `excluded`), one statement per table and chunk, in `conn`'s transaction.
pub async fn add(conn: &impl ConnectionTrait, counts: Additions) -> Result<(), DbErr> {
    let mut by_table: HashMap<&'static str, Vec<(Place, String, i16, Count)>> = HashMap::new();
    for ((place, question, value), n) in counts {
        by_table
            .entry(place.table())
            .or_default()
            .push((place, question, value, n));
    }
    for (table, rows) in by_table {
        // SQLite allows 32,766 bound values per statement; rows have at most 8.
        for chunk in rows.chunks(3000) {
            let Some((first, ..)) = chunk.first() else {
                continue;
            };
            let key: Vec<&str> = first
                .columns()
                .iter()
                .map(|(c, _)| *c)
                .chain(["question_key", "value"])
                .collect();
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(table))
                .columns(key.iter().chain(&["n", "excluded"]).map(|c| Alias::new(*c)))
                .on_conflict(
                    OnConflict::columns(key.iter().map(|c| Alias::new(*c)))
                        .value(
                            Alias::new("n"),
                            Expr::cust(format!("{table}.n + excluded.n")),
                        )
                        .value(
                            Alias::new("excluded"),
                            Expr::cust(format!("{table}.excluded + excluded.excluded")),
                        )
                        .to_owned(),
                );
            for (place, question, value, n) in chunk {
                let mut values: Vec<SimpleExpr> = place
                    .columns()
                    .into_iter()
                    .map(|(_, v)| SimpleExpr::from(v))
                    .collect();
                values.extend([
                    question.clone().into(),
                    (*value).into(),
                    n.n.into(),
                    n.excluded.into(),
                ]);
                insert
                    .values(values)
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
            }
            conn.execute(&insert).await?;
        }
    }
    Ok(())
}

/// Moves one answer from `n` to `excluded` in every roll-up it is counted in.
pub async fn exclude(
    conn: &impl ConnectionTrait,
    places: &[Place],
    question: &str,
    value: i16,
) -> Result<(), DbErr> {
    let col = |name: &str| Expr::col(Alias::new(name));
    for place in places {
        let mut update = Query::update();
        update
            .table(Alias::new(place.table()))
            .value(Alias::new("n"), col("n").sub(1))
            .value(Alias::new("excluded"), col("excluded").add(1))
            .and_where(col("question_key").eq(question))
            .and_where(col("value").eq(value));
        for (column, v) in place.columns() {
            update.and_where(col(column).eq(v));
        }
        conn.execute(&update).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn late_evening_belongs_to_the_local_day_month_and_year() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        // 23:30 on 31 December in Hanoi is 16:30 UTC.
        let at = Utc.with_ymd_and_hms(2025, 12, 31, 16, 30, 0).unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            places(tz, 7, None, 1, at),
            [
                Place::Daily {
                    agency: 7,
                    day: d(2025, 12, 31),
                    desk: 0,
                    questionnaire: 1
                },
                Place::Monthly {
                    month: d(2025, 12, 1),
                    agency: 7
                },
                Place::Yearly {
                    year: 2025,
                    agency: 7
                },
            ]
        );
        let after = Utc.with_ymd_and_hms(2025, 12, 31, 17, 0, 0).unwrap();
        assert_eq!(local_day(tz, after).0, d(2026, 1, 1));
        assert_eq!(
            places(tz, 7, Some(3), 1, after)[2],
            Place::Yearly {
                year: 2026,
                agency: 7
            }
        );
    }
}
