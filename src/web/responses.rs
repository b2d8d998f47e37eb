//! `POST /api/v1/responses`: a rating through a link's token, as JSON.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::collect::answers::{self, Raw};
use crate::collect::links::{self, Unusable};
use crate::collect::store::{Channel, Submission};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/responses", post(submit))
}

/// The body of `POST /api/v1/responses`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewResponse {
    pub token: String,
    /// Question key → answer (1–5; 1, 4 or 5 for `kiosk-3`).
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoredResponse {
    pub id: i64,
    pub submitted_at: DateTime<Utc>,
}

/// Stores a rating. Nothing is stored when the request is rejected.
#[utoipa::path(post, path = "/api/v1/responses", tag = "responses",
    request_body = NewResponse,
    responses(
        (status = 201, body = StoredResponse),
        (status = 400, body = ErrorBody),
        (status = 404, description = "unknown token", body = ErrorBody),
        (status = 409, description = "single-use link already used", body = ErrorBody),
        (status = 410, description = "expired link", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "invalid answers", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewResponse>,
) -> ApiResult<(StatusCode, Json<StoredResponse>)> {
    let link = links::usable(&state.db.read, &body.token)
        .await?
        .map_err(unusable)?;
    let q = state
        .questionnaires
        .get(&state.db.read, link.questionnaire_id)
        .await?;
    let raw: Vec<(String, Raw)> = body
        .answers
        .iter()
        .map(|(k, v)| (k.clone(), Raw::from_json(v)))
        .collect();
    let checked = answers::check(&q, &raw, body.comment.as_deref()).map_err(|problems| {
        let first = &problems[0];
        let field = if first.field == "comment" {
            "comment".to_string()
        } else {
            format!("answers.{}", first.field)
        };
        ApiError::unprocessable(first.code, first.message(true)).with_field(field)
    })?;
    let stored = state
        .writer
        .submit(Submission::through_link(
            &link,
            if link.kiosk {
                Channel::Kiosk
            } else {
                Channel::Api
            },
            checked,
        ))
        .await?
        .map_err(|_| unusable(Unusable::Used))?;
    Ok((
        StatusCode::CREATED,
        Json(StoredResponse {
            id: stored.id,
            submitted_at: stored.submitted_at,
        }),
    ))
}

/// The API's answer to a token that cannot take a rating.
pub fn unusable(why: Unusable) -> ApiError {
    match why {
        Unusable::Unknown => super::links::link_not_found(),
        Unusable::Expired => ApiError::new(
            StatusCode::GONE,
            "link_expired",
            "this rating link has expired",
        ),
        Unusable::Used => ApiError::conflict("link_used", "this single-use link was already used"),
    }
}
