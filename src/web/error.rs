//! The HTTP face of [`crate::error::Error`]: its status code and its JSON shape,
//! `{"error": {"code": "…", "message": "…", "field": "…", "row": N}}`.
//!
//! A failure that is ours keeps its cause in the response's extensions;
//! [`log_failures`] logs it once, inside the request's span, with the whole cause chain.
//! The client only ever gets the generic message.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::error::{Error, Kind, Result};

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case word.
    pub code: String,
    pub message: String,
    /// The input at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The 1-based data row at fault, for imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
}

/// The answers every signed-in endpoint may give before it looks at the request: 401 (no
/// credential, or one that is unknown, expired or revoked) and 403 (a role or an agency
/// scope that does not allow it). Named in each path's `responses(...)`.
pub struct Denied;

impl utoipa::IntoResponses for Denied {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        [
            ("401".to_string(), error("no credential, or a bad one")),
            (
                "403".to_string(),
                error("the role or agency scope does not allow it"),
            ),
        ]
        .into()
    }
}

/// The status code of each kind of failure.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The kind of failure a status code stands for (for answers made from a bare status).
pub fn kind_of(status: StatusCode) -> Kind {
    match status.as_u16() {
        401 => Kind::Unauthorized,
        403 => Kind::Forbidden,
        404 => Kind::NotFound,
        405 => Kind::MethodNotAllowed,
        408 => Kind::Timeout,
        409 => Kind::Conflict,
        410 => Kind::Gone,
        413 => Kind::TooLarge,
        415 => Kind::UnsupportedMediaType,
        422 => Kind::Unprocessable,
        429 => Kind::TooMany,
        503 => Kind::Unavailable,
        s if s >= 500 => Kind::Internal,
        _ => Kind::BadRequest,
    }
}

/// The JSON body of `e`.
pub fn body(e: &Error) -> ErrorBody {
    ErrorBody {
        error: ErrorDetail {
            code: e.code.to_string(),
            message: e.message.clone(),
            field: e.field.clone(),
            row: e.row,
        },
    }
}

/// A failure of ours, riding on its response until [`log_failures`] logs it.
#[derive(Clone)]
struct Failure(Error);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut res = (status_of(self.kind), axum::Json(body(&self))).into_response();
        if let Some(secs) = self.retry_after_secs() {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        keep_for_log(&mut res, &self);
        res
    }
}

/// Logs every failure of ours once, with its cause chain, in the request's span.
pub async fn log_failures(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if let Some(Failure(e)) = res.extensions_mut().remove::<Failure>() {
        match e.kind {
            Kind::Internal => tracing::error!(code = e.code, error = %e.chain(), "internal error"),
            _ if e.cause().is_some() => {
                tracing::error!(code = e.code, error = %e.chain(), "service unavailable")
            }
            _ => tracing::warn!(code = e.code, "service unavailable"),
        }
    }
    res
}

/// Lets [`log_failures`] log `e` from `res` when it is a failure of ours: for answers that
/// are not made from the error itself (the pages show their own HTML for it).
pub fn keep_for_log(res: &mut Response, e: &Error) {
    if e.kind.is_ours() {
        res.extensions_mut().insert(Failure(e.clone()));
    }
}
