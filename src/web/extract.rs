//! Extractors whose rejections are [`ApiError`]s, so that bad input gets the documented
//! error shape: malformed JSON (or invalid UTF-8) 400, a body of the wrong shape 422 naming
//! the field, too large 413, not JSON 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Like `axum::Json`, with our errors.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The body, or 413 past the route's limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large()
        } else if timed_out(&rejection) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body stopped arriving",
            )
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
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

/// Parses JSON, telling syntax (400) apart from shape (422, with the field's path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        if err.inner().is_data() {
            shape_error(err)
        } else {
            ApiError::bad_request("malformed_json", "the body is not valid JSON")
        }
    })?;
    de.end()
        .map_err(|_| ApiError::bad_request("malformed_json", "the body is not valid JSON"))?;
    Ok(value)
}

/// Reads an already parsed JSON value as `T`: 422 with the field's path when it does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(shape_error)
}

fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let field = missing_field(&inner.to_string())
        .map(|name| join_path(&path, name))
        .unwrap_or(path);
    let error = ApiError::unprocessable("invalid_body", describe(&inner));
    if field.is_empty() || field == "." {
        error
    } else {
        error.with_field(field)
    }
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

/// serde reports a missing field at its parent's path; name the field itself.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// serde's message without its " at line 1 column 7" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        code: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn classifies_errors() {
        let syntax = parse_json::<Body>(b"{\"code\":").unwrap_err();
        assert_eq!(
            (syntax.status.as_u16(), syntax.code),
            (400, "malformed_json")
        );

        let utf8 = parse_json::<Body>(b"{\"code\":\"\xff\"}").unwrap_err();
        assert_eq!(utf8.status.as_u16(), 400);

        let missing = parse_json::<Body>(b"{}").unwrap_err();
        assert_eq!(
            (missing.status.as_u16(), missing.field.as_deref()),
            (422, Some("code"))
        );

        let wrong = parse_json::<Body>(b"{\"code\":\"a\",\"inner\":{\"n\":\"x\"}}").unwrap_err();
        assert_eq!(wrong.field.as_deref(), Some("inner.n"));
        assert!(!wrong.message.contains("line"), "{}", wrong.message);

        let trailing = parse_json::<Body>(b"{\"code\":\"a\"} x").unwrap_err();
        assert_eq!(trailing.status.as_u16(), 400);

        use crate::domain::UniqueMap;
        let twice = parse_json::<UniqueMap>(b"{\"a\":1,\"a\":2}").unwrap_err();
        assert_eq!(twice.status.as_u16(), 422, "{}", twice.message);
        assert_eq!(
            parse_json::<UniqueMap>(b"{\"a\":1,\"b\":2}")
                .unwrap()
                .0
                .len(),
            2
        );
    }
}
