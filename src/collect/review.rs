//! Held ratings and the people who decide on them (API.md, "Trust in the figures"): the
//! review list, release (held → counted) and exclusion (counted or held → excluded), one
//! by one or many at once, all or nothing, audited. Each decision moves the response's
//! answers between the roll-ups' counts in the same transaction ([`shift_counts`]), so the
//! figures never read raw responses.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::{answer, desk, exclusion, hold, response};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::exclusions::{ExcludeRequest, parse_reason};
use super::integrity::Reason;
use crate::app::Context;
use crate::domain::{AgencyCode, Period, Role};
use crate::error::{Error, Result};
use crate::govern::audit;
use crate::rollup::{self, Count, Status};

/// The most ids one bulk decision takes, and the most held ratings one review list shows.
pub const MAX_IDS: usize = 10_000;

/// A held rating as the review shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HeldRating {
    pub id: i64,
    pub agency: String,
    pub desk: Option<String>,
    pub channel: String,
    pub submitted_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, i16>,
    pub comment: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
    /// The link it came through (for grouping on the review page; not served).
    #[serde(skip)]
    pub link: Option<i64>,
}

/// `GET /api/v1/review`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ReviewList {
    /// Oldest first; at most [`MAX_IDS`].
    pub held: Vec<HeldRating>,
}

/// A response after a decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Decided {
    pub id: i64,
    pub status: Status,
}

/// The body of the bulk decisions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    /// 1 to 10,000 distinct response ids.
    pub ids: Vec<i64>,
    /// Why (required to exclude; kept in the audit log).
    pub reason: Option<String>,
}

/// The answer to a bulk decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BulkDecided {
    pub status: Status,
    pub ids: Vec<i64>,
}

/// What to do with held (or, to exclude, any) ratings.
#[derive(Debug, Clone)]
pub enum Decision {
    Release,
    Exclude(String),
}

impl Decision {
    fn status(&self) -> Status {
        match self {
            Decision::Release => Status::Counted,
            Decision::Exclude(_) => Status::Excluded,
        }
    }
}

/// The held ratings of `agency`'s subtree (by default the caller's own; every agency for
/// administrators) made within `period`, oldest first. Administrators; managers and
/// viewers within their scope.
pub async fn held(
    cx: &Context<'_>,
    agency: Option<&AgencyCode>,
    period: Period,
) -> Result<ReviewList> {
    cx.by.require_role(&Role::READ_RESPONSES)?;
    let scope = cx.subtree_or_own(agency).await?;
    let (start, end) = period.instants(cx.config.timezone);
    let conn = &cx.db.read;
    let ids_of = |column, table, unreleased: bool| {
        let mut q = Query::select();
        q.column(column).from(table);
        if unreleased {
            q.and_where(Expr::col(hold::Column::ReleasedAt).is_null());
        }
        q
    };
    let mut q = response::Entity::find()
        .filter(response::Column::Id.in_subquery(ids_of(
            hold::Column::ResponseId.into_iden(),
            hold::Entity.into_iden(),
            true,
        )))
        .filter(response::Column::Id.not_in_subquery(ids_of(
            exclusion::Column::ResponseId.into_iden(),
            exclusion::Entity.into_iden(),
            false,
        )))
        .order_by_asc(response::Column::Id)
        .limit(MAX_IDS as u64);
    if let Some(ids) = scope {
        q = q.filter(response::Column::AgencyId.is_in(ids));
    }
    if let Some(start) = start {
        q = q.filter(response::Column::SubmittedAt.gte(start));
    }
    if let Some(end) = end {
        q = q.filter(response::Column::SubmittedAt.lt(end));
    }
    let rows = q.all(conn).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let holds = holds_of(conn, &ids).await?;
    let mut answers = answers_of(conn, &ids).await?;
    let agencies = cx.agencies().await?;
    let desk_ids: HashSet<i64> = rows.iter().filter_map(|r| r.desk_id).collect();
    let desks: HashMap<i64, String> = desk::Entity::find()
        .filter(desk::Column::Id.is_in(desk_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|d| (d.id, d.code))
        .collect();
    let held = rows
        .into_iter()
        .map(|r| HeldRating {
            id: r.id,
            agency: agencies
                .get(r.agency_id)
                .map(|a| a.code.clone())
                .unwrap_or_default(),
            desk: r.desk_id.and_then(|d| desks.get(&d).cloned()),
            channel: r.channel,
            submitted_at: r.submitted_at,
            answers: answers
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            comment: r.comment,
            link: r.link_id,
            reasons: holds
                .get(&r.id)
                .map(|h| Reason::split(&h.reasons))
                .unwrap_or_default(),
        })
        .collect();
    Ok(ReviewList { held })
}

/// Releases one held rating into the figures (administrators): 404 for an unknown id, 409
/// `not_held` for one that is not held.
pub async fn release(cx: &Context<'_>, id: i64) -> Result<Decided> {
    decide(cx, Decision::Release, &[id], false).await?;
    Ok(Decided {
        id,
        status: Status::Counted,
    })
}

/// Releases or excludes many ratings at once (administrators), all or nothing: 422 for an
/// empty list, more than [`MAX_IDS`], duplicates or unknown ids; 409 `not_held` when one to
/// release is not held.
pub async fn decide_many(cx: &Context<'_>, release: bool, bulk: Bulk) -> Result<BulkDecided> {
    cx.by.require_role(&[Role::Admin])?;
    let decision = if release {
        Decision::Release
    } else {
        let reason = bulk.reason.as_deref().unwrap_or("");
        Decision::Exclude(parse_reason(reason).map_err(|e| Error::invalid("reason", e))?)
    };
    let ids = bulk.ids;
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(Error::unprocessable(
            "invalid_ids",
            format!("give 1 to {MAX_IDS} response ids"),
        )
        .with_field("ids"));
    }
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    if distinct.len() != ids.len() {
        return Err(
            Error::unprocessable("invalid_ids", "each id may be given once").with_field("ids"),
        );
    }
    let status = decision.status();
    decide(cx, decision, &ids, true).await?;
    Ok(BulkDecided { status, ids })
}

/// Excludes one rating, counted or held (see [`super::exclusions::exclude`]).
pub async fn exclude_one(cx: &Context<'_>, id: i64, input: &ExcludeRequest) -> Result<()> {
    let reason = parse_reason(&input.reason).map_err(|e| Error::invalid("reason", e))?;
    decide(cx, Decision::Exclude(reason), &[id], false).await
}

/// Applies `decision` to `ids` in one transaction, in chain order (the chain head locked,
/// so that a freeze sees all of it or none).
async fn decide(cx: &Context<'_>, decision: Decision, ids: &[i64], bulk: bool) -> Result<()> {
    let Context { db, by, config, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let txn = db.begin_write().await?;
    super::store::lock_head(&txn).await?;
    let found: HashMap<i64, response::Model> =
        rows_in::<response::Entity>(&txn, response::Column::Id, ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(id)) {
        return Err(if bulk {
            Error::unprocessable("unknown_ids", format!("there is no response {missing}"))
                .with_field("ids")
        } else {
            Error::not_found("response_not_found", "there is no response with this id")
        });
    }
    let statuses = statuses_of(&txn, ids).await?;
    let now = crate::now();
    let mut moving = Vec::new();
    for id in ids {
        let from = statuses.get(id).copied().unwrap_or(Status::Counted);
        match (&decision, from) {
            (Decision::Release, Status::Held) => moving.push((*id, from)),
            (Decision::Release, _) => {
                return Err(Error::conflict(
                    "not_held",
                    format!("response {id} is not held"),
                ));
            }
            // Excluding an excluded response changes nothing.
            (Decision::Exclude(_), Status::Excluded) => {}
            (Decision::Exclude(_), from) => moving.push((*id, from)),
        }
    }
    let moved: Vec<(&response::Model, Status)> = moving
        .iter()
        .filter_map(|(id, from)| found.get(id).map(|r| (r, *from)))
        .collect();
    shift_counts(&txn, config.timezone, &moved, decision.status()).await?;
    let moved_ids: Vec<i64> = moving.iter().map(|(id, _)| *id).collect();
    let (action, details) = match &decision {
        Decision::Release => {
            for chunk in moved_ids.chunks(500) {
                hold::Entity::update_many()
                    .col_expr(hold::Column::ReleasedAt, Expr::value(now))
                    .col_expr(hold::Column::ReleasedBy, Expr::value(by.actor.clone()))
                    .filter(hold::Column::ResponseId.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await?;
            }
            ("response.release", json!({"ids": moved_ids}))
        }
        Decision::Exclude(reason) => {
            let rows: Vec<exclusion::ActiveModel> = moved_ids
                .iter()
                .map(|id| exclusion::ActiveModel {
                    response_id: sea_orm::Set(*id),
                    reason: sea_orm::Set(reason.clone()),
                    excluded_by: sea_orm::Set(by.actor.clone()),
                    excluded_at: sea_orm::Set(now),
                    ..Default::default()
                })
                .collect();
            for chunk in rows.chunks(2000) {
                exclusion::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(&txn)
                    .await?;
            }
            // Their cases close and leave the follow-up figures.
            crate::follow::cases::close_excluded(&txn, &moved_ids).await?;
            (
                "response.exclude",
                json!({"ids": moved_ids, "reason": reason}),
            )
        }
    };
    if !moved_ids.is_empty() {
        let target = match moved_ids.as_slice() {
            [one] => format!("response:{one}"),
            many => format!("responses:{}", many.len()),
        };
        audit::record(&txn, &by.actor, action, &target, details).await?;
    }
    db.commit(txn).await?;
    Ok(())
}

/// Where each of `ids` stands; responses missing from the map are counted.
pub async fn statuses_of(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Status>, DbErr> {
    let mut out = HashMap::new();
    for (id, h) in holds_of(conn, ids).await? {
        if h.released_at.is_none() {
            out.insert(id, Status::Held);
        }
    }
    for x in rows_in::<exclusion::Entity>(conn, exclusion::Column::ResponseId, ids).await? {
        out.insert(x.response_id, Status::Excluded);
    }
    Ok(out)
}

/// The rows of `E` whose `column` is one of `ids`, read 500 ids at a time.
async fn rows_in<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    column: E::Column,
    ids: &[i64],
) -> Result<Vec<E::Model>, DbErr> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            E::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// The holds of `ids`, released or not.
pub async fn holds_of(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, hold::Model>, DbErr> {
    let rows = rows_in::<hold::Entity>(conn, hold::Column::ResponseId, ids).await?;
    Ok(rows.into_iter().map(|h| (h.response_id, h)).collect())
}

async fn answers_of(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<(String, i16)>>, DbErr> {
    let mut out: HashMap<i64, Vec<(String, i16)>> = HashMap::new();
    for a in rows_in::<answer::Entity>(conn, answer::Column::ResponseId, ids).await? {
        out.entry(a.response_id)
            .or_default()
            .push((a.question_key, a.value));
    }
    Ok(out)
}

/// Moves each response's answers (and its assisted tick) from the count of its status to
/// that of `to`, in one multi-row upsert per roll-up table.
pub async fn shift_counts(
    txn: &DatabaseTransaction,
    tz: Tz,
    moved: &[(&response::Model, Status)],
    to: Status,
) -> Result<(), DbErr> {
    let ids: Vec<i64> = moved.iter().map(|(r, _)| r.id).collect();
    let answers = answers_of(txn, &ids).await?;
    let mut counts = rollup::Additions::new();
    for (r, from) in moved {
        let values = answers.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
        rollup::Counted {
            agency: r.agency_id,
            desk: r.desk_id,
            questionnaire: r.questionnaire_id,
            submitted_at: r.submitted_at,
            assisted: r.assisted,
            answers: values,
        }
        .add_to(&mut counts, tz, Count::moved(*from, to));
    }
    rollup::add(txn, counts).await
}
