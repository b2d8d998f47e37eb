//! The roll-ups, and their one owner: answer counts kept beside the responses, in the same
//! transaction as each stored response and each exclusion, so that reports never read raw
//! responses. Writing ([`add`]), excluding ([`exclude`], a change of counts), reading
//! ([`read`]) and recounting ([`rebuild`]) all live here and name the tables and columns
//! through the entities.
//!
//! | table | key | for |
//! |---|---|---|
//! | `rollup_daily` | agency × local day × desk × questionnaire × question × value | partial months, detail |
//! | `rollup_monthly` | month × agency × question × value | whole months |
//! | `rollup_yearly` | year × agency × question × value | whole years, the annual ranking |
//!
//! `n` counts the answers of counted responses, `held` those of held ones (kept out of the
//! figures until a person decides), `excluded` those of excluded ones; assisted responses
//! also count one answer [`ASSISTED`]. Days, months and years are local to the deployment's
//! time zone.

pub mod kept;
pub mod read;
pub mod rebuild;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{rollup_daily as daily, rollup_monthly as monthly, rollup_yearly as yearly};
use sea_orm::sea_query::{DynIden, Expr, IntoIden, OnConflict, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DbErr, EntityName, EntityTrait, IdenStatic, Value};

/// The three roll-up tables, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Daily,
    Monthly,
    Yearly,
}

/// A column that every roll-up table has, under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Agency,
    Question,
    Value,
    /// Included answers.
    N,
    /// Answers of excluded responses.
    Excluded,
    /// Answers of held responses.
    Held,
}

impl Col {
    /// The column's name (the same in every table; a unit test holds them to it).
    pub fn name(self) -> &'static str {
        Grain::Daily.column(self).1
    }
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Daily, Grain::Monthly, Grain::Yearly];

    /// The table's name.
    pub fn table(self) -> &'static str {
        match self {
            Grain::Daily => daily::Entity.table_name(),
            Grain::Monthly => monthly::Entity.table_name(),
            Grain::Yearly => yearly::Entity.table_name(),
        }
    }

    fn iden(self) -> DynIden {
        match self {
            Grain::Daily => daily::Entity.into_iden(),
            Grain::Monthly => monthly::Entity.into_iden(),
            Grain::Yearly => yearly::Entity.into_iden(),
        }
    }

    /// The column of the period: the day, the month's first day, or the year.
    fn period(self) -> DynIden {
        match self {
            Grain::Daily => daily::Column::Day.into_iden(),
            Grain::Monthly => monthly::Column::Month.into_iden(),
            Grain::Yearly => yearly::Column::Year.into_iden(),
        }
    }

    fn col(self, c: Col) -> DynIden {
        self.column(c).0
    }

    fn column(self, c: Col) -> (DynIden, &'static str) {
        macro_rules! of {
            ($table:ident) => {{
                let column = match c {
                    Col::Agency => $table::Column::AgencyId,
                    Col::Question => $table::Column::QuestionKey,
                    Col::Value => $table::Column::Value,
                    Col::N => $table::Column::N,
                    Col::Excluded => $table::Column::Excluded,
                    Col::Held => $table::Column::Held,
                };
                (column.into_iden(), column.as_str())
            }};
        }
        match self {
            Grain::Daily => of!(daily),
            Grain::Monthly => of!(monthly),
            Grain::Yearly => of!(yearly),
        }
    }
}

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
    pub fn grain(&self) -> Grain {
        match self {
            Place::Daily { .. } => Grain::Daily,
            Place::Monthly { .. } => Grain::Monthly,
            Place::Yearly { .. } => Grain::Yearly,
        }
    }

    pub fn table(&self) -> &'static str {
        self.grain().table()
    }

    /// The key columns before `question_key` and `value`, with their values.
    fn key(&self) -> Vec<(DynIden, Value)> {
        match *self {
            Place::Daily {
                agency,
                day,
                desk,
                questionnaire,
            } => vec![
                (daily::Column::AgencyId.into_iden(), agency.into()),
                (daily::Column::Day.into_iden(), day.into()),
                (daily::Column::DeskId.into_iden(), desk.into()),
                (
                    daily::Column::QuestionnaireId.into_iden(),
                    questionnaire.into(),
                ),
            ],
            Place::Monthly { month, agency } => vec![
                (monthly::Column::Month.into_iden(), month.into()),
                (monthly::Column::AgencyId.into_iden(), agency.into()),
            ],
            Place::Yearly { year, agency } => vec![
                (yearly::Column::Year.into_iden(), year.into()),
                (yearly::Column::AgencyId.into_iden(), agency.into()),
            ],
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

/// The three counts of a roll-up row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Counted answers.
    pub n: i64,
    /// Answers of excluded responses.
    pub excluded: i64,
    /// Answers of held responses.
    pub held: i64,
}

impl Count {
    /// One answer in the column of a response of `status`.
    pub fn one(status: Status) -> Self {
        let mut c = Self::default();
        match status {
            Status::Counted => c.n = 1,
            Status::Held => c.held = 1,
            Status::Excluded => c.excluded = 1,
        }
        c
    }

    /// One answer moved from the count of `from` to that of `to` (an exclusion, a
    /// release).
    pub fn moved(from: Status, to: Status) -> Self {
        let mut c = Self::one(to);
        c.add(Self::one(from).negated());
        c
    }

    fn negated(self) -> Self {
        Self {
            n: -self.n,
            excluded: -self.excluded,
            held: -self.held,
        }
    }

    pub fn add(&mut self, other: Count) {
        self.n += other.n;
        self.excluded += other.excluded;
        self.held += other.held;
    }
}

/// Where a stored response stands (API.md, "Trust in the figures"): in the figures, held
/// out of them until a person decides, or excluded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Counted,
    Held,
    Excluded,
}

impl Status {
    /// The roll-up column that counts the answers of a response of this status.
    pub fn col(self) -> Col {
        match self {
            Status::Counted => Col::N,
            Status::Held => Col::Held,
            Status::Excluded => Col::Excluded,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Counted => "counted",
            Status::Held => "held",
            Status::Excluded => "excluded",
        }
    }
}

/// The key under which the roll-ups count assisted responses, as if it were a question
/// answered with 1: it moves with the response's other answers when the response is
/// released or excluded. No question key starts with `_`.
pub const ASSISTED: &str = "_assisted";

/// Counts to add: (place, question, value) → answers.
pub type Additions = HashMap<(Place, String, i16), Count>;

/// Adds `counts` (negative ones move answers between counts) with multi-row upserts (`n = n + excluded.n`, and the same for
/// `excluded` and `held`), one statement per table and chunk, in `conn`'s transaction.
pub async fn add(conn: &impl ConnectionTrait, counts: Additions) -> Result<(), DbErr> {
    // A write to a day before today (UTC) may change a closed period: the tallies kept of
    // those are stale from this transaction on (`kept`).
    let today = crate::now().date_naive();
    let late = counts
        .keys()
        .any(|(place, ..)| matches!(place, Place::Daily { day, .. } if *day < today));
    if late {
        kept::renew(conn).await?;
    }
    let mut by_grain: HashMap<Grain, Vec<(Place, String, i16, Count)>> = HashMap::new();
    for ((place, question, value), n) in counts {
        by_grain
            .entry(place.grain())
            .or_default()
            .push((place, question, value, n));
    }
    for (grain, rows) in by_grain {
        let table = grain.table();
        // `excluded` in the update is the row that conflicted (both databases), and `n` and
        // `excluded` also name the count columns.
        let sum = |c: Col| Expr::cust(format!("{table}.{0} + excluded.{0}", c.name()));
        // SQLite allows 32,766 bound values per statement; rows have at most 9.
        for chunk in rows.chunks(3000) {
            let Some((first, ..)) = chunk.first() else {
                continue;
            };
            let key: Vec<DynIden> = first
                .key()
                .into_iter()
                .map(|(c, _)| c)
                .chain([grain.col(Col::Question), grain.col(Col::Value)])
                .collect();
            let mut insert = Query::insert();
            insert
                .into_table(grain.iden())
                .columns(key.iter().cloned().chain([
                    grain.col(Col::N),
                    grain.col(Col::Excluded),
                    grain.col(Col::Held),
                ]))
                .on_conflict(
                    OnConflict::columns(key)
                        .value(grain.col(Col::N), sum(Col::N))
                        .value(grain.col(Col::Excluded), sum(Col::Excluded))
                        .value(grain.col(Col::Held), sum(Col::Held))
                        .to_owned(),
                );
            for (place, question, value, n) in chunk {
                let mut values: Vec<SimpleExpr> = place
                    .key()
                    .into_iter()
                    .map(|(_, v)| SimpleExpr::from(v))
                    .collect();
                values.extend([
                    question.clone().into(),
                    (*value).into(),
                    n.n.into(),
                    n.excluded.into(),
                    n.held.into(),
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

/// What a response adds to the roll-ups: where and when it was made, whether it was
/// assisted, and its answers.
pub struct Counted<'a> {
    pub agency: i64,
    pub desk: Option<i64>,
    pub questionnaire: i64,
    pub submitted_at: DateTime<Utc>,
    pub assisted: bool,
    pub answers: &'a [(String, i16)],
}

impl Counted<'_> {
    /// Adds `count` to every roll-up row that each answer of the response counts in (and
    /// to [`ASSISTED`] when it was assisted).
    pub fn add_to(&self, out: &mut Additions, tz: Tz, count: Count) {
        let places = places(
            tz,
            self.agency,
            self.desk,
            self.questionnaire,
            self.submitted_at,
        );
        let assisted = self.assisted.then(|| (ASSISTED.to_string(), 1));
        for (key, value) in self.answers.iter().chain(assisted.as_ref()) {
            for place in &places {
                out.entry((place.clone(), key.clone(), *value))
                    .or_default()
                    .add(count);
            }
        }
    }
}

/// Every stored roll-up row.
pub async fn stored(conn: &impl ConnectionTrait) -> Result<Additions, DbErr> {
    let mut out = Additions::new();
    let mut put = |place, question, value, n, excluded, held| {
        out.insert((place, question, value), Count { n, excluded, held });
    };
    for r in daily::Entity::find().all(conn).await? {
        let place = Place::Daily {
            agency: r.agency_id,
            day: r.day,
            desk: r.desk_id,
            questionnaire: r.questionnaire_id,
        };
        put(place, r.question_key, r.value, r.n, r.excluded, r.held);
    }
    for r in monthly::Entity::find().all(conn).await? {
        let place = Place::Monthly {
            month: r.month,
            agency: r.agency_id,
        };
        put(place, r.question_key, r.value, r.n, r.excluded, r.held);
    }
    for r in yearly::Entity::find().all(conn).await? {
        let place = Place::Yearly {
            year: r.year,
            agency: r.agency_id,
        };
        put(place, r.question_key, r.value, r.n, r.excluded, r.held);
    }
    Ok(out)
}

/// Empties every roll-up (inside the caller's transaction): the tallies kept of closed
/// periods are stale from this transaction on.
pub async fn clear(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    kept::renew(conn).await?;
    daily::Entity::delete_many().exec(conn).await?;
    monthly::Entity::delete_many().exec(conn).await?;
    yearly::Entity::delete_many().exec(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_table_names_its_shared_columns_alike() {
        for grain in Grain::ALL {
            for c in [
                Col::Agency,
                Col::Question,
                Col::Value,
                Col::N,
                Col::Excluded,
                Col::Held,
            ] {
                assert_eq!(grain.column(c).1, c.name(), "{grain:?} {c:?}");
            }
        }
        let tables: Vec<_> = Grain::ALL.iter().map(|g| g.table()).collect();
        assert_eq!(tables, ["rollup_daily", "rollup_monthly", "rollup_yearly"]);
    }

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
