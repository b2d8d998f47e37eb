//! Who is calling, from the request: a bearer API key, or the session cookie (with the
//! session's CSRF token on every state-changing call).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::cookies;
use super::error::{Error, Result};
use crate::govern::secrets::constant_time_eq;
use crate::govern::{Principal, principal, sessions};

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|k| !k.is_empty());
        match bearer {
            Some(key) => principal::by_key(&state.db, key)
                .await?
                .ok_or_else(Error::unauthorized),
            None => from_session(parts, state).await,
        }
    }
}

/// The authenticated caller of an API request with the app's state: what a handler needs
/// to call a use case ([`Caller::context`]).
pub struct Caller {
    pub state: AppState,
    pub by: Principal,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let by = Principal::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            by,
        })
    }
}

impl Caller {
    /// The context of a use case called by this caller.
    pub fn context(&self) -> crate::app::Context<'_> {
        self.state.context(&self.by)
    }
}

/// The caller signed in with the session cookie. A state-changing call made this way must
/// carry the session's CSRF token in `X-CSRF-Token` (403 `csrf_failed` otherwise).
async fn from_session(parts: &Parts, state: &AppState) -> Result<Principal> {
    let token = cookies::read(&parts.headers, sessions::COOKIE, sessions::TOKEN_LEN)
        .ok_or_else(Error::unauthorized)?;
    let signed_in = sessions::find(&state.db, &token)
        .await?
        .ok_or_else(Error::unauthorized)?;
    if !parts.method.is_safe() {
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !constant_time_eq(sent, &signed_in.csrf) {
            return Err(Error::csrf_failed());
        }
    }
    Ok(signed_in.principal)
}
