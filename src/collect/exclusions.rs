//! Excluding a response (spam, test data): the response stays stored and in the hash
//! chain; an exclusion row beside it takes it out of the figures. The roll-ups move its
//! counts from `n` (or `held`) to `excluded` in the same transaction
//! ([`super::review`], which decides on held ratings the same way).

use chrono::{DateTime, Utc};
use entity::exclusion;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::app::Context;
use crate::domain::{Invalid, Role};
use crate::error::{Error, Result};

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

pub(crate) fn parse_reason(raw: &str) -> Result<String, Invalid> {
    match crate::domain::text::clean(raw, MAX_REASON) {
        Err(e) if e.code == "invalid_text" => Err(e),
        Ok(Some(reason)) if !reason.contains(['\n', '\r']) => Ok(reason),
        _ => Err(Invalid::new(
            "invalid_reason",
            format!("give a reason of 1 to {MAX_REASON} characters on one line"),
        )),
    }
}

/// Excludes response `id`, counted or held (administrators only). Excluding an excluded
/// response changes nothing and answers with the first exclusion.
pub async fn exclude(cx: &Context<'_>, id: i64, input: ExcludeRequest) -> Result<ExclusionDto> {
    cx.by.require_role(&[Role::Admin])?;
    super::review::exclude_one(cx, id, &input).await?;
    let stored = exclusion::Entity::find()
        .filter(exclusion::Column::ResponseId.eq(id))
        .one(&cx.db.write)
        .await?
        .ok_or_else(|| Error::internal("an exclusion vanished"))?;
    Ok(to_dto(stored))
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
