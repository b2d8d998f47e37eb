//! Extractors whose rejections are [`Error`]s, so that bad input gets the documented
//! error shape: a bad query 422, malformed JSON (or invalid UTF-8) 400, a body of the wrong shape 422 naming
//! the field, too large 413, not JSON 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

pub use crate::domain::json::parse_json;
use crate::domain::{Period, Year};
use crate::report::annual::this_year;

use super::error::Error;

/// Like `axum::Json`, with our errors.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json(&req) {
            return Err(Error::new(
                super::error::Kind::UnsupportedMediaType,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Like `axum::extract::Query`, with our errors: 422 `invalid_query` naming what is wrong.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| Error::unprocessable("invalid_query", e.body_text()))
    }
}

/// The body, or 413 past the route's limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::payload_too_large()
        } else if timed_out(&rejection) {
            Error::new(
                super::error::Kind::Timeout,
                "request_timeout",
                "the request body stopped arriving",
            )
        } else {
            Error::bad_request("unreadable_body", "the request body could not be read")
        }
    })
}

/// Whether reading a body failed because it stalled (the router's body timeout).
fn timed_out(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The request's media type, lower case and without parameters (`""` when absent).
pub fn media_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_json(req: &Request) -> bool {
    let mime = media_type(req);
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// A year of figures, from the path or the query: 422 `invalid_year` (field `year`) unless
/// it is from 2000 to this year.
pub fn parse_year(raw: &str, tz: chrono_tz::Tz) -> Result<Year, Error> {
    Year::parse(raw, this_year(tz)).map_err(|e| Error::invalid("year", e))
}

/// A year whose settings may be made ahead: up to next year.
pub fn year_up_to_next(raw: &str, tz: chrono_tz::Tz) -> Result<Year, Error> {
    Year::parse(raw, this_year(tz) + 1).map_err(|e| Error::invalid("year", e))
}

/// The year asked for, or this year when the query names none.
pub fn year_or_this(raw: Option<&str>, tz: chrono_tz::Tz) -> Result<Year, Error> {
    match raw {
        Some(raw) => parse_year(raw, tz),
        None => Ok(Year::stored(this_year(tz))),
    }
}

/// The `from` and `to` query parameters: 422 naming the bad one.
pub fn parse_period(from: Option<&str>, to: Option<&str>) -> Result<Period, Error> {
    Period::parse(from, to).map_err(|(field, e)| Error::invalid(field, e))
}
