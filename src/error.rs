//! The one error type of every capability: what went wrong (a [`Kind`], a stable
//! snake_case `code`, a message for people, the field or row at fault) and, for failures
//! that are ours, the cause behind it (`source()`).
//!
//! Nothing here knows HTTP: the web layer alone turns a [`Kind`] into a status code
//! (`web::error`), and logs a failure that is ours once, with its cause chain. The command
//! line prints the message and the causes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::Invalid;

/// What kind of failure, for the caller: its own mistake or ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The request itself is malformed.
    BadRequest,
    /// No credentials, or unknown ones.
    Unauthorized,
    /// The caller's role or agency scope does not cover this.
    Forbidden,
    NotFound,
    /// The method is not answered at this address.
    MethodNotAllowed,
    /// The client took too long to send its request.
    Timeout,
    /// The thing exists but its state refuses this (a used link, a frozen year).
    Conflict,
    /// The thing existed and is gone for good (an expired link).
    Gone,
    TooLarge,
    UnsupportedMediaType,
    /// Well-formed but invalid input.
    Unprocessable,
    /// Too many requests from this client; try again later.
    TooMany,
    /// A failure of ours: a bug, or a database that answered with an error.
    Internal,
    /// The service cannot do this just now (database unreachable, storage failing, busy).
    Unavailable,
}

impl Kind {
    /// Whether the failure is ours rather than the caller's.
    pub fn is_ours(self) -> bool {
        matches!(self, Self::Internal | Self::Unavailable)
    }
}

/// A cause kept for the log and the command line, never shown to a citizen.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// A failure of a use case. `Display` is the message for people; `source()` is the cause.
#[derive(Clone)]
pub struct Error {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub row: Option<u64>,
    /// How long to wait before trying again (too many requests, unavailable).
    pub retry_after: Option<Duration>,
    cause: Option<Cause>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
            row: None,
            retry_after: None,
            cause: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait.max(Duration::from_secs(1)));
        self
    }

    /// Keeps `cause` behind this error, for the log and the command line.
    pub fn caused_by(mut self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// The cause behind this error, if one was kept.
    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }

    /// Whole seconds to wait, as `Retry-After` says it.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| d.as_secs().max(1))
    }

    /// Too many ratings from one client; try again after `wait`.
    pub fn rate_limited(wait: Duration) -> Self {
        Self::new(
            Kind::TooMany,
            "rate_limited",
            "too many ratings from this client for this link; try again later",
        )
        .with_retry_after(wait)
    }

    /// A state-changing request without the session's CSRF token.
    pub fn csrf_failed() -> Self {
        Self::new(
            Kind::Forbidden,
            "csrf_failed",
            "this request lacks a valid CSRF token; reload the page and try again",
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            Kind::Unauthorized,
            "unauthorized",
            "missing or invalid credentials",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            Kind::Forbidden,
            "forbidden",
            "your role or agency scope does not cover this",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unprocessable, code, message)
    }

    /// A field that failed validation.
    pub fn invalid(field: &str, invalid: Invalid) -> Self {
        Self::unprocessable(invalid.code, invalid.message).with_field(field)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            Kind::TooLarge,
            "payload_too_large",
            "the request body is too large",
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            Kind::UnsupportedMediaType,
            "unsupported_media_type",
            message,
        )
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, code, message)
    }

    /// A failure that is ours, not the caller's. The caller sees a generic message; the
    /// cause is kept for the log (once, by whoever answers) and the command line.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(
            Kind::Internal,
            "internal",
            "something went wrong on our side; please try again",
        )
        .caused_by(cause)
    }

    /// The message followed by every cause, `a: b: c`, for logs and the command line.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.cause.as_deref().map(|c| c as _);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("field", &self.field)
            .field("row", &self.row)
            .field("cause", &self.cause.as_ref().map(|c| c.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|c| c as _)
    }
}

/// Two errors are the same answer when everything but the cause is the same.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.code == other.code
            && self.message == other.message
            && self.field == other.field
            && self.row == other.row
            && self.retry_after == other.retry_after
    }
}

impl Eq for Error {}

impl From<sea_orm::DbErr> for Error {
    /// A fault of the database that may pass is `Unavailable` (try again shortly);
    /// anything else is ours. Either way the database's error is kept as the cause.
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&e) {
            Self::unavailable(
                "database_unavailable",
                "the service cannot reach its database just now; please try again shortly",
            )
            .with_retry_after(Duration::from_secs(5))
            .caused_by(e)
        } else {
            Self::internal(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_kept_and_chained() {
        let io = std::io::Error::other("disk full");
        let e = Error::internal(io);
        assert_eq!(e.kind, Kind::Internal);
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            e.chain(),
            "something went wrong on our side; please try again: disk full"
        );
        assert_eq!(e.to_string(), e.message, "Display never shows the cause");
    }

    #[test]
    fn retry_after_is_at_least_a_second() {
        let e = Error::rate_limited(Duration::from_millis(10));
        assert_eq!(e.retry_after_secs(), Some(1));
        assert_eq!(e.kind, Kind::TooMany);
    }

    #[test]
    fn equality_ignores_the_cause() {
        assert_eq!(Error::internal("a"), Error::internal("b"));
        assert_ne!(Error::forbidden(), Error::unauthorized());
    }
}
