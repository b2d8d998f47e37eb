//! The one error type at the HTTP edge, and its JSON shape:
//! `{"error": {"code": "…", "message": "…", "field": "…", "row": N}}`.
//!
//! Internal causes (database errors, bugs) are logged once, inside the request's span, and
//! never sent: the client gets 500 `internal` with a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub row: Option<u64>,
    /// Seconds, sent as `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

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

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            row: None,
            retry_after: None,
        }
    }

    /// 429: too many ratings from one client; try again after `wait`.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many ratings from this client for this link; try again later",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        e
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    /// 403: a state-changing request without the session's CSRF token.
    pub fn csrf_failed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this request lacks a valid CSRF token; reload the page and try again",
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role or agency scope does not cover this",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// A field that failed validation.
    pub fn invalid(field: &str, invalid: Invalid) -> Self {
        Self::unprocessable(invalid.code, invalid.message).with_field(field)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// A failure that is ours, not the client's: logged here, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; please try again",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
                row: self.row,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// A fault of the database that may pass is 503 with `Retry-After`; anything else is ours.
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&e) {
            tracing::error!(error = %e, "database unavailable");
            let mut err = Self::unavailable(
                "database_unavailable",
                "the service cannot reach its database just now; please try again shortly",
            );
            err.retry_after = Some(5);
            err
        } else {
            Self::internal(e)
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
