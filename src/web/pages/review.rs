//! The review page (`/admin/review`, administrators): held ratings grouped by link and by
//! burst, each group released or excluded as a whole with a reason.

use chrono::{DateTime, Utc};

use super::*;
use crate::collect::integrity::{Reason, Rules};
use crate::collect::review::{self, Bulk, HeldRating};

/// A held rating as a line of the page.
struct HeldLine {
    when: String,
    answers: String,
    comment: String,
    reasons: String,
}

/// Held ratings of one link that came close together.
struct Group {
    place: String,
    from: String,
    to: String,
    ids: String,
    count: usize,
    reasons: String,
    lines: Vec<HeldLine>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    groups: Vec<Group>,
    total: usize,
    window_minutes: u32,
}

fn reason_vi(r: Reason) -> &'static str {
    match r {
        Reason::Burst => "dồn dập (nhiều phiếu trong thời gian ngắn)",
        Reason::Fast => "gửi quá nhanh sau khi mở phiếu",
        Reason::Repeat => "cùng một thiết bị gửi nhiều lần trong ngày",
    }
}

fn reasons_vi(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| reason_vi(*r))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Splits the held ratings (oldest first) into groups: per link, a new group after a gap
/// longer than `gap`.
fn group(held: Vec<HeldRating>, gap: chrono::TimeDelta) -> Vec<Vec<HeldRating>> {
    let mut by_link: Vec<(Option<i64>, Vec<Vec<HeldRating>>)> = Vec::new();
    for h in held {
        let slot = match by_link.iter().position(|(l, _)| *l == h.link) {
            Some(i) => i,
            None => {
                by_link.push((h.link, Vec::new()));
                by_link.len() - 1
            }
        };
        let bursts = &mut by_link[slot].1;
        let starts_new = bursts
            .last()
            .and_then(|b| b.last())
            .is_none_or(|last: &HeldRating| h.submitted_at - last.submitted_at > gap);
        if starts_new {
            bursts.push(vec![h]);
        } else if let Some(b) = bursts.last_mut() {
            b.push(h);
        }
    }
    by_link.into_iter().flat_map(|(_, b)| b).collect()
}

async fn view(state: &AppState, staff: &Staff) -> Result<ReviewPage, Error> {
    let by = &staff.signed_in.principal;
    by.require_role(&[Role::Admin])?;
    let cx = state.context(by);
    let rules = Rules::load(&state.db.read).await?;
    let held = review::held(
        &cx,
        None,
        Period {
            from: None,
            to: None,
        },
    )
    .await?
    .held;
    let total = held.len();
    let tz = state.config.timezone;
    let time = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string();
    let window = rules.burst_window_s.max(60);
    let gap = chrono::TimeDelta::seconds(i64::from(window));
    let groups = group(held, gap)
        .into_iter()
        .map(|g| {
            let mut reasons: Vec<Reason> = g.iter().flat_map(|h| h.reasons.clone()).collect();
            reasons.sort();
            reasons.dedup();
            let first = &g[0];
            let place = match &first.desk {
                Some(d) => format!("{} · quầy {d}", first.agency),
                None => first.agency.clone(),
            };
            Group {
                place,
                from: time(first.submitted_at),
                to: time(g[g.len() - 1].submitted_at),
                ids: g
                    .iter()
                    .map(|h| h.id.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                count: g.len(),
                reasons: reasons_vi(&reasons),
                lines: g
                    .iter()
                    .map(|h| HeldLine {
                        when: time(h.submitted_at),
                        answers: h
                            .answers
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        comment: h.comment.clone().unwrap_or_default(),
                        reasons: reasons_vi(&h.reasons),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(ReviewPage {
        chrome: Chrome::of(&staff.signed_in),
        groups,
        total,
        window_minutes: window / 60,
    })
}

pub(super) async fn review_page(State(state): State<AppState>, staff: Staff) -> Response {
    shown(view(&state, &staff).await)
}

/// Releases or excludes a group: `ids` (comma-separated), `action` (`release` or
/// `exclude`), `reason` (required to exclude).
pub(super) async fn decide(form: StaffForm) -> Response {
    let decided = async {
        let ids = form
            .field("ids")
            .split(',')
            .map(|id| id.trim().parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                Error::unprocessable("invalid_ids", "the list of ratings could not be read")
            })?;
        let release = match form.field("action").as_str() {
            "release" => true,
            "exclude" => false,
            _ => {
                return Err(Error::unprocessable(
                    "invalid_action",
                    "choose to release or to exclude",
                ));
            }
        };
        let bulk = Bulk {
            ids,
            reason: form.optional("reason"),
        };
        review::decide_many(&form.context(), release, bulk).await
    };
    see_other(decided.await.map(|_| "/admin/review".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn held(id: i64, link: i64, minute: i64) -> HeldRating {
        HeldRating {
            id,
            agency: "A".into(),
            desk: None,
            channel: "qr".into(),
            submitted_at: Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
                + chrono::TimeDelta::minutes(minute),
            answers: Default::default(),
            comment: None,
            reasons: vec![Reason::Burst],
            link: Some(link),
        }
    }

    #[test]
    fn bursts_are_split_by_link_and_by_gaps() {
        let groups = group(
            vec![held(1, 7, 0), held(2, 8, 1), held(3, 7, 2), held(4, 7, 30)],
            chrono::TimeDelta::minutes(10),
        );
        let ids: Vec<Vec<i64>> = groups
            .iter()
            .map(|g| g.iter().map(|h| h.id).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3], vec![4], vec![2]]);
    }
}
