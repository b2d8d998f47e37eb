//! Excluding a response (spam, test data): the response stays stored and in the hash
//! chain; an exclusion row beside it takes it out of the figures. The roll-ups move its
//! counts from `n` to `excluded` in the same transaction.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::{answer, exclusion, response};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::Context;
use crate::db::is_unique_violation;
use crate::domain::{Invalid, Role};
use crate::error::{Error, Result};
use crate::govern::audit;
use crate::rollup;

/// Reasons are short notes for the next administrator.
pub const MAX_REASON: usize = 500;

/// The body of `POST /api/v1/responses/{id}/exclude`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcludeRequest {
    /// Why, e.g. "test data from the training session" (1–500 characters).
    pub reason: String,
}

/// An exclusion as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ExclusionDto {
    /// The response's id.
    pub id: i64,
    pub excluded: bool,
    pub reason: String,
    pub excluded_by: String,
    pub excluded_at: DateTime<Utc>,
}

fn to_dto(e: exclusion::Model) -> ExclusionDto {
    ExclusionDto {
        id: e.response_id,
        excluded: true,
        reason: e.reason,
        excluded_by: e.excluded_by,
        excluded_at: e.excluded_at,
    }
}

fn parse_reason(raw: &str) -> Result<String, Invalid> {
    match crate::domain::text::clean(raw, MAX_REASON) {
        Err(e) if e.code == "invalid_text" => Err(e),
        Ok(Some(reason)) if !reason.contains(['\n', '\r']) => Ok(reason),
        _ => Err(Invalid::new(
            "invalid_reason",
            format!("give a reason of 1 to {MAX_REASON} characters on one line"),
        )),
    }
}

/// Excludes response `id` (administrators only). Excluding an excluded response changes
/// nothing and answers with the first exclusion.
pub async fn exclude(cx: &Context<'_>, id: i64, input: ExcludeRequest) -> Result<ExclusionDto> {
    let Context { db, by, config, .. } = *cx;
    let tz = config.timezone;
    by.require_role(&[Role::Admin])?;
    let reason = parse_reason(&input.reason).map_err(|e| Error::invalid("reason", e))?;
    let txn = db.begin_write().await?;
    // Exclusions happen in chain order too, so that a freeze sees all or none of them.
    super::store::lock_head(&txn).await?;
    let stored = response::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| {
            Error::not_found("response_not_found", "there is no response with this id")
        })?;
    if let Some(existing) = find(&txn, id).await? {
        return Ok(to_dto(existing));
    }
    let inserted = exclusion::ActiveModel {
        response_id: Set(id),
        reason: Set(reason.clone()),
        excluded_by: Set(by.actor.clone()),
        excluded_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let inserted = match inserted {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => {
            // Another administrator excluded it a moment ago.
            txn.rollback().await?;
            let existing = find(&db.write, id)
                .await?
                .ok_or_else(|| Error::internal(e))?;
            return Ok(to_dto(existing));
        }
        Err(e) => return Err(e.into()),
    };
    move_counts(&txn, tz, &stored).await?;
    audit::record(
        &txn,
        &by.actor,
        "response.exclude",
        &format!("response:{id}"),
        json!({"reason": reason}),
    )
    .await?;
    db.commit(txn).await?;
    Ok(to_dto(inserted))
}

async fn find(
    conn: &impl sea_orm::ConnectionTrait,
    id: i64,
) -> Result<Option<exclusion::Model>, sea_orm::DbErr> {
    exclusion::Entity::find()
        .filter(exclusion::Column::ResponseId.eq(id))
        .one(conn)
        .await
}

/// Moves the response's answers from `n` to `excluded` in both roll-ups.
async fn move_counts(
    txn: &DatabaseTransaction,
    tz: Tz,
    r: &response::Model,
) -> Result<(), sea_orm::DbErr> {
    let answers = answer::Entity::find()
        .filter(answer::Column::ResponseId.eq(r.id))
        .all(txn)
        .await?;
    let places = rollup::places(
        tz,
        r.agency_id,
        r.desk_id,
        r.questionnaire_id,
        r.submitted_at,
    );
    for a in answers {
        rollup::exclude(txn, &places, &a.question_key, a.value).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short_single_lines() {
        assert_eq!(parse_reason("  thử nghiệm  ").unwrap(), "thử nghiệm");
        for bad in ["", "   ", "a\nb", &"x".repeat(MAX_REASON + 1)] {
            assert_eq!(parse_reason(bad).unwrap_err().code, "invalid_reason");
        }
        assert!(parse_reason(&"ậ".repeat(MAX_REASON)).is_ok());
    }
}
