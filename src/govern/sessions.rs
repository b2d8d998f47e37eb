//! Web sessions: signing in with a username and an argon2id-hashed password, the session
//! behind the `hl_s` cookie, and its CSRF token.
//!
//! - The cookie holds 256 random bits; the `sessions` table keeps only their SHA-256, so a
//!   copy of the database does not sign anyone in.
//! - Each session has its own CSRF token, sent back by every state-changing form (and in
//!   `X-CSRF-Token` by API calls made with the cookie).
//! - Failed attempts are counted per username; from the third within
//!   [`FAILURE_WINDOW`], every attempt for that username waits before it is checked (1 s,
//!   doubling, at most [`MAX_DELAY`]). An unknown username costs the same hashing time as
//!   a known one.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use entity::{session, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use super::secrets::{random_token, sha256_hex};
use super::{Principal, users};
use crate::db::Db;
use crate::domain::Role;
use crate::web::error::{ApiError, ApiResult};

/// The session cookie's name; its value is 43 URL-safe characters.
pub const COOKIE: &str = "hl_s";
pub const TOKEN_LEN: usize = 43;
/// How long a session lasts.
pub const LIFETIME: TimeDelta = TimeDelta::hours(12);
/// Failures older than this are forgotten.
pub const FAILURE_WINDOW: TimeDelta = TimeDelta::minutes(15);
pub const MAX_DELAY: Duration = Duration::from_secs(8);

/// A hash to verify against when the username is unknown, so that both take as long.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    users::hash_password("not a password of anyone").unwrap_or_default()
});

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: user::Model,
    pub csrf: String,
    pub principal: Principal,
}

/// A new session: the cookie's value and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

/// How long an attempt for a user with these failures waits.
pub fn delay(failed: i32, last_failed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    let recent = last_failed_at.is_some_and(|t| now - t < FAILURE_WINDOW);
    if !recent || failed < 3 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failed - 3).unwrap_or(0).min(8);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

/// Checks a username and password; a session when they match, `None` otherwise.
pub async fn sign_in(db: &Db, username: &str, password: &str) -> ApiResult<Option<NewSession>> {
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&db.read)
        .await?;
    let Some(found) = found.filter(|u| u.active) else {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || users::verify_password(&password, &DECOY))
            .await
            .map_err(ApiError::internal)?;
        return Ok(None);
    };
    let now = crate::now();
    let wait = delay(found.failed_logins, found.last_failed_at, now);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let (given, stored) = (password.to_string(), found.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || users::verify_password(&given, &stored))
        .await
        .map_err(ApiError::internal)?;
    let recent = found
        .last_failed_at
        .is_some_and(|t| now - t < FAILURE_WINDOW);
    let mut model = found.clone().into_active_model();
    if !matches {
        let failed = if recent { found.failed_logins } else { 0 };
        model.failed_logins = Set(failed.saturating_add(1));
        model.last_failed_at = Set(Some(now));
        model.update(&db.write).await?;
        return Ok(None);
    }
    if found.failed_logins != 0 {
        model.failed_logins = Set(0);
        model.last_failed_at = Set(None);
        model.update(&db.write).await?;
    }
    let token = random_token(32).map_err(ApiError::internal)?;
    let csrf = random_token(32).map_err(ApiError::internal)?;
    session::ActiveModel {
        id: Set(sha256_hex(token.as_bytes())),
        user_id: Set(found.id),
        csrf_token: Set(csrf.clone()),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME),
    }
    .insert(&db.write)
    .await?;
    Ok(Some(NewSession { token, csrf }))
}

/// The signed-in user of a session cookie, if the session is live and the user active.
pub async fn find(db: &Db, token: &str) -> ApiResult<Option<SignedIn>> {
    let Some(s) = session::Entity::find_by_id(sha256_hex(token.as_bytes()))
        .one(&db.read)
        .await?
        .filter(|s| s.expires_at > crate::now())
    else {
        return Ok(None);
    };
    let Some(u) = user::Entity::find_by_id(s.user_id)
        .one(&db.read)
        .await?
        .filter(|u| u.active)
    else {
        return Ok(None);
    };
    let role: Role = u
        .role
        .parse()
        .map_err(|_| ApiError::internal(format!("user {} has a bad role", u.id)))?;
    Ok(Some(SignedIn {
        principal: Principal {
            actor: format!("user:{}", u.username),
            role,
            agency_id: u.agency_id,
        },
        csrf: s.csrf_token,
        user: u,
    }))
}

/// Ends the session of `token` (and, in passing, every expired one).
pub async fn sign_out(db: &Db, token: &str) -> ApiResult<()> {
    session::Entity::delete_by_id(sha256_hex(token.as_bytes()))
        .exec(&db.write)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lt(crate::now()))
        .exec(&db.write)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_wait_longer_and_are_forgotten() {
        let now = crate::now();
        let recent = Some(now - TimeDelta::minutes(1));
        assert_eq!(delay(2, recent, now), Duration::ZERO);
        assert_eq!(delay(3, recent, now), Duration::from_secs(1));
        assert_eq!(delay(4, recent, now), Duration::from_secs(2));
        assert_eq!(delay(50, recent, now), MAX_DELAY);
        assert_eq!(
            delay(9, Some(now - TimeDelta::hours(1)), now),
            Duration::ZERO
        );
        assert_eq!(delay(9, None, now), Duration::ZERO);
    }

    #[test]
    fn the_decoy_is_a_valid_hash() {
        assert!(DECOY.starts_with("$argon2id$"));
        assert!(!users::verify_password("anything", &DECOY));
    }
}
