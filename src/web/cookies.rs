//! Reading and setting first-party cookies. Values are URL-safe base64 tokens of a known
//! length; anything else is treated as absent.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

use super::error::{Error, Result};

/// The value of cookie `name` when it is a token of `len` URL-safe characters.
pub fn read(headers: &HeaderMap, name: &str, len: usize) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|v| {
            v.len() == len
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
}

/// A `Set-Cookie` value: first party, not readable by scripts, `SameSite=Lax`, `Secure`
/// when the public URL is https; `max_age` 0 removes the cookie.
pub fn set(name: &str, value: &str, max_age: u64, secure: bool) -> Result<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .map_err(Error::internal)
}
