//! `POST /api/v1/responses`: a rating through a link's token, as JSON.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::client::Who;
use super::error::{Denied, Error, ErrorBody, Result};
use super::extract::{ApiJson, ApiQuery, media_type, read_body};
use crate::collect::answers::{self, Raw};
use crate::collect::exclusions::{self, ExcludeRequest, ExclusionDto};
use crate::collect::import::{self, JsonImport};
use crate::collect::intake::{Extras, Refused};
use crate::collect::links::{self, Unusable};
use crate::collect::listing::{self, ListQuery, ResponseList};
use crate::collect::store::Channel;
use crate::domain::Role;
use crate::domain::UniqueMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/responses", post(submit).get(list))
        .route(
            "/api/v1/responses/import",
            post(import_responses).layer(DefaultBodyLimit::max(import::BODY_LIMIT)),
        )
        .route("/api/v1/responses/{id}/exclude", post(exclude))
}

/// The body of `POST /api/v1/responses`. Unknown fields and keys given twice are refused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResponse {
    pub token: String,
    /// Question key → answer (1–5; 1, 4 or 5 for `kiosk-3`).
    #[schema(value_type = Object)]
    pub answers: UniqueMap,
    #[serde(default)]
    pub comment: Option<String>,
    /// Someone helped the citizen rate.
    #[serde(default)]
    pub assisted: bool,
    /// "Please answer me": opens a case for the agency to answer (only with a comment).
    #[serde(default)]
    pub want_reply: bool,
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
        (status = 422, description = "invalid answers", body = ErrorBody),
        (status = 429, description = "too many ratings from this client for this link (see Retry-After)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    who: Who,
    ApiJson(body): ApiJson<NewResponse>,
) -> Result<(StatusCode, Json<StoredResponse>)> {
    let link = links::usable(&state.db.read, &body.token)
        .await?
        .map_err(unusable)?;
    let q = state
        .questionnaires
        .get(&state.db.read, link.questionnaire_id)
        .await?;
    let raw: Vec<(String, Raw)> = body
        .answers
        .0
        .iter()
        .map(|(k, v)| (k.clone(), Raw::from_json(v)))
        .collect();
    let checked = answers::check(&q, &raw, body.comment.as_deref())
        .map_err(|problems| problems[0].api_error())?;
    if body.want_reply && checked.comment.is_none() {
        return Err(Error::unprocessable(
            "comment_required",
            "want_reply asks the agency to answer a comment: send one",
        )
        .with_field("want_reply"));
    }
    let channel = if link.kiosk {
        Channel::Kiosk
    } else {
        Channel::Api
    };
    let extras = Extras {
        assisted: body.assisted,
        stamp: None,
        want_reply: body.want_reply,
    };
    let stored = match state
        .intake
        .rate(&who, &link, channel, checked, extras)
        .await?
    {
        Ok(stored) => stored,
        Err(Refused::Used) => return Err(unusable(Unusable::Used)),
        Err(Refused::Limited(wait)) => return Err(Error::rate_limited(wait)),
    };
    Ok((
        StatusCode::CREATED,
        Json(StoredResponse {
            id: stored.id,
            submitted_at: stored.submitted_at,
        }),
    ))
}

/// The API's answer to a token that cannot take a rating.
pub fn unusable(why: Unusable) -> Error {
    match why {
        Unusable::Unknown => super::links::link_not_found(),
        Unusable::Expired => Error::new(
            super::error::Kind::Gone,
            "link_expired",
            "this rating link has expired",
        ),
        Unusable::Used => Error::conflict("link_used", "this single-use link was already used"),
        Unusable::Revoked => Error::new(
            super::error::Kind::Gone,
            "link_revoked",
            "this rating link was withdrawn",
        ),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub imported: usize,
}

/// Imports paper forms and history, as JSON (`{"responses": [...]}`) or as CSV
/// (`Content-Type: text/csv`, header
/// `agency,desk,submitted_at,channel,overall,access,procedure,staff,result,feedback,comment`
/// with an optional `questionnaire` column). At most 10,000 rows and 16 MiB; all or
/// nothing: the first bad row is named in `row` (1-based, data rows only).
#[utoipa::path(post, path = "/api/v1/responses/import", tag = "responses", security(("bearer" = [])),
    request_body(content(
        (JsonImport = "application/json"),
        (String = "text/csv"))),
    responses(
        (status = 201, body = Imported),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "role, or a row's agency outside the caller's scope", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "a bad row (see `row` and `field`), a bad CSV header, too many rows", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn import_responses(
    caller: Caller,
    req: Request,
) -> Result<(StatusCode, Json<Imported>)> {
    caller.by.require_role(&[Role::Admin, Role::Integrator])?;
    let csv = match media_type(&req).as_str() {
        "application/json" => false,
        "text/csv" => true,
        _ => {
            return Err(Error::new(
                super::error::Kind::UnsupportedMediaType,
                "unsupported_media_type",
                "send application/json or text/csv",
            ));
        }
    };
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string());
    let mime = media_type(&req);
    let bytes = read_body(req, &caller.state).await?;
    let idempotency = key
        .map(|key| import::Idempotency::parse(&key, &mime, &bytes))
        .transpose()?;
    let rows = if csv {
        import::parse_csv_rows(&bytes)?
    } else {
        import::parse_json_rows(&bytes)?
    };
    let imported = import::import(&caller.context(), rows, idempotency).await?;
    Ok((StatusCode::CREATED, Json(Imported { imported })))
}

/// Excludes a response from the figures (administrators). It stays stored and is counted
/// as `excluded`; excluding it again changes nothing.
#[utoipa::path(post, path = "/api/v1/responses/{id}/exclude", tag = "responses", security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = ExcludeRequest,
    responses(
        (status = 200, body = ExclusionDto),
        (status = 400, body = ErrorBody), Denied,
        (status = 404, description = "no such response", body = ErrorBody),
        (status = 422, description = "missing or overlong reason", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn exclude(
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<ExcludeRequest>, Error>,
) -> Result<Json<ExclusionDto>> {
    caller.by.require_role(&[Role::Admin])?;
    let id: i64 = id
        .parse()
        .map_err(|_| Error::not_found("response_not_found", "there is no response with this id"))?;
    let ApiJson(input) = body?;
    Ok(Json(
        exclusions::exclude(&caller.context(), id, input).await?,
    ))
}

/// The stored responses of an agency's subtree over a period, oldest first, streamed as
/// JSON (each with its `status`, `reasons` and `assisted`) or CSV (the import header plus
/// `id,excluded`).
#[utoipa::path(get, path = "/api/v1/responses", tag = "responses", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = ResponseList, content_type = "application/json"),
        Denied,
        (status = 404, description = "unknown agency", body = ErrorBody),
        (status = 422, description = "bad date, period or format", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn list(caller: Caller, ApiQuery(query): ApiQuery<ListQuery>) -> Result<Response> {
    let permit = caller.state.export_permit().await?;
    let (format, stream) = listing::open(&caller.context(), query, permit).await?;
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match format {
        listing::Format::Csv => {
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"responses.csv\""),
            );
        }
        listing::Format::Xlsx => {
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"responses.xlsx\""),
            );
        }
        listing::Format::Json => {}
    }
    Ok(res)
}
