//! Decision 766's follow-up and dossier figures for a report (API.md, "Closing the loop"),
//! over the cases opened in the period and the dossiers resolved in it.

use chrono::{DateTime, NaiveDate, Utc};
use entity::case;
use serde::{Deserialize, Serialize};

use super::cases::Status;

/// The follow-up of the cases opened in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUp {
    pub cases: u64,
    pub answered: u64,
    /// Answered by the due day.
    pub answered_on_time: u64,
    /// Answered on time ÷ cases × 100 (feedback handled on time).
    pub on_time_pct: Option<f64>,
    /// Not answered, past the due day.
    pub overdue_open: u64,
    pub reply_rated: u64,
    pub reply_dissatisfied: u64,
    /// (cases − those rated dissatisfied, answered late or still overdue) ÷ cases × 100
    /// (satisfaction with how feedback was handled); a case counts once.
    pub handling_satisfaction_pct: Option<f64>,
}

/// What the follow-up figures count, for one agency or summed over several: additive, so
/// that the database counts per agency and a report or a ranking row sums its agencies.
/// Cases closed by an exclusion are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseCounts {
    pub cases: u64,
    pub answered: u64,
    pub answered_on_time: u64,
    pub overdue_open: u64,
    pub reply_rated: u64,
    pub reply_dissatisfied: u64,
    /// Rated dissatisfied, answered late, or still overdue (each case once).
    pub unhappy: u64,
    /// Cases of ratings that were satisfied (opened by "please answer me").
    pub satisfied_with_case: u64,
}

impl CaseCounts {
    /// One case, counted by hand: the rule that `follow::cases::counts_by_agency` puts in
    /// SQL (a test holds them together).
    pub fn of(c: &case::Model, today: NaiveDate, now: DateTime<Utc>) -> Self {
        if c.closed_reason.as_deref() == Some("excluded") {
            return Self::default();
        }
        let one = |b: bool| u64::from(b);
        let late = c.replied_on.is_some_and(|d| d > c.due);
        let overdue = Status::of(c, today, now) == Status::Overdue;
        let dissatisfied = c.reply_rating.as_deref() == Some("dissatisfied");
        Self {
            cases: 1,
            answered: one(c.reply.is_some()),
            answered_on_time: one(c.replied_on.is_some_and(|d| d <= c.due)),
            overdue_open: one(overdue),
            reply_rated: one(c.reply_rating.is_some()),
            reply_dissatisfied: one(dissatisfied),
            unhappy: one(dissatisfied || late || overdue),
            satisfied_with_case: one(c.overall >= 4),
        }
    }
}

impl std::ops::Add for CaseCounts {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            cases: self.cases + o.cases,
            answered: self.answered + o.answered,
            answered_on_time: self.answered_on_time + o.answered_on_time,
            overdue_open: self.overdue_open + o.overdue_open,
            reply_rated: self.reply_rated + o.reply_rated,
            reply_dissatisfied: self.reply_dissatisfied + o.reply_dissatisfied,
            unhappy: self.unhappy + o.unhappy,
            satisfied_with_case: self.satisfied_with_case + o.satisfied_with_case,
        }
    }
}

impl std::iter::Sum for CaseCounts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

/// The follow-up figures of counted cases; `None` without any.
pub fn follow_up(n: CaseCounts) -> Option<FollowUp> {
    if n.cases == 0 {
        return None;
    }
    let pct = |k: u64| Some(100.0 * k as f64 / n.cases as f64);
    Some(FollowUp {
        cases: n.cases,
        answered: n.answered,
        answered_on_time: n.answered_on_time,
        on_time_pct: pct(n.answered_on_time),
        overdue_open: n.overdue_open,
        reply_rated: n.reply_rated,
        reply_dissatisfied: n.reply_dissatisfied,
        handling_satisfaction_pct: pct(n.cases.saturating_sub(n.unhappy)),
    })
}

/// Decision 766's figures of one report or one ranking row (API.md, "Closing the loop").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoopFigures {
    /// The cases opened in the period; `null` without any.
    pub follow_up: Option<FollowUp>,
    /// Dossiers resolved in the period (`null`: none reported).
    pub dossiers: Option<u64>,
    /// Responses ÷ dossiers.
    pub response_rate: Option<f64>,
    /// (Dossiers − ratings not satisfied or that opened a case) ÷ dossiers × 100.
    pub dossier_satisfaction_pct: Option<f64>,
}

/// The figures of the cases opened in a period (counted) and the dossiers resolved in it,
/// for `responses` counted ratings of which `satisfied` were satisfied.
pub fn loop_figures(
    cases: CaseCounts,
    dossiers: Option<u64>,
    (responses, satisfied): (u64, u64),
) -> LoopFigures {
    let (response_rate, dossier_satisfaction_pct) = dossier_figures(
        dossiers,
        responses,
        responses.saturating_sub(satisfied),
        cases.satisfied_with_case,
    );
    LoopFigures {
        follow_up: follow_up(cases),
        dossiers,
        response_rate,
        dossier_satisfaction_pct,
    }
}

/// The dossier figures: responses ÷ dossiers, and (dossiers − ratings not satisfied or that
/// opened a case, each counted once) ÷ dossiers × 100, both `None` without dossiers.
pub fn dossier_figures(
    dossiers: Option<u64>,
    responses: u64,
    not_satisfied: u64,
    satisfied_with_case: u64,
) -> (Option<f64>, Option<f64>) {
    match dossiers.filter(|d| *d > 0) {
        Some(d) => {
            let unhappy = (not_satisfied + satisfied_with_case).min(d);
            (
                Some(responses as f64 / d as f64),
                Some(100.0 * (d - unhappy) as f64 / d as f64),
            )
        }
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn case(
        due: &str,
        replied: Option<&str>,
        rating: Option<&str>,
        closed: Option<&str>,
    ) -> case::Model {
        let at = d("2026-03-02").and_hms_opt(3, 0, 0).unwrap().and_utc();
        case::Model {
            id: 0,
            code: String::new(),
            response_id: 0,
            agency_id: 1,
            desk_id: None,
            overall: 1,
            want_reply: false,
            opened_at: at,
            opened_on: d("2026-03-02"),
            due: d(due),
            reply: replied.map(|_| "ok".to_string()),
            replied_at: replied.map(|r| d(r).and_hms_opt(3, 0, 0).unwrap().and_utc()),
            replied_on: replied.map(d),
            replied_by: None,
            reply_rating: rating.map(String::from),
            reply_rated_at: None,
            closed_at: closed.map(|_| at),
            closed_reason: closed.map(String::from),
            overdue_sent_at: None,
        }
    }

    #[test]
    fn follow_up_matches_a_hand_count() {
        let today = d("2026-03-20");
        let now = today.and_hms_opt(3, 0, 0).unwrap().and_utc();
        let cases = [
            case(
                "2026-03-09",
                Some("2026-03-05"),
                Some("satisfied"),
                Some("rated"),
            ), // on time, happy
            case(
                "2026-03-09",
                Some("2026-03-09"),
                Some("dissatisfied"),
                Some("rated"),
            ), // on time, unhappy
            case("2026-03-09", Some("2026-03-12"), None, None), // late
            case("2026-03-09", None, None, None),               // overdue
            case("2026-03-30", None, None, None),               // open, not due
            case("2026-03-09", None, None, Some("excluded")),   // left out
        ];
        let count = |cases: &[case::Model]| -> CaseCounts {
            cases.iter().map(|c| CaseCounts::of(c, today, now)).sum()
        };
        let f = follow_up(count(&cases)).unwrap();
        assert_eq!((f.cases, f.answered, f.answered_on_time), (5, 3, 2));
        assert_eq!(
            (f.overdue_open, f.reply_rated, f.reply_dissatisfied),
            (1, 2, 1)
        );
        assert_eq!(f.on_time_pct, Some(40.0));
        // 5 − (unhappy + late + overdue) = 2: the first and the one not yet due.
        assert_eq!(f.handling_satisfaction_pct, Some(40.0));
        assert!(follow_up(count(&cases[5..])).is_none());
    }

    #[test]
    fn dossier_figures_count_silence_as_satisfied() {
        assert_eq!(dossier_figures(None, 10, 2, 1), (None, None));
        assert_eq!(dossier_figures(Some(0), 10, 2, 1), (None, None));
        assert_eq!(
            dossier_figures(Some(100), 20, 4, 1),
            (Some(0.2), Some(95.0))
        );
        assert_eq!(
            dossier_figures(Some(3), 20, 10, 0),
            (Some(20.0 / 3.0), Some(0.0))
        );
    }
}
