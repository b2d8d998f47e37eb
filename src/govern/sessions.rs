//! Web sessions: signing in with a username and an argon2id-hashed password, the session
//! behind the `hl_s` cookie, and its CSRF token.
//!
//! - The cookie holds 256 random bits; the `sessions` table keeps only their SHA-256, so a
//!   copy of the database does not sign anyone in.
//! - Each session has its own CSRF token, sent back by every state-changing form (and in
//!   `X-CSRF-Token` by API calls made with the cookie).
//! - Attempts are bounded per address and hashed with bounded concurrency
//!   ([`super::login`]); failures are counted per user for the administrators' view, but
//!   never delay anyone. An unknown or disabled username costs the same hashing as a known
//!   one.

use std::net::IpAddr;
use std::time::Instant;

use chrono::TimeDelta;
use entity::{session, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use super::login::{Busy, LoginGuard};
use super::secrets::{random_token, sha256_hex};
use super::{Principal, users};
use crate::db::Db;
use crate::domain::Role;
use crate::error::{Error, Result};

/// The session cookie's name; its value is 43 URL-safe characters.
pub const COOKIE: &str = "hl_s";
pub const TOKEN_LEN: usize = 43;
/// How long a session lasts.
pub const LIFETIME: TimeDelta = TimeDelta::hours(12);

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

/// What came of a sign-in attempt.
#[derive(Debug)]
pub enum Attempt {
    SignedIn(NewSession),
    /// Wrong username or password (or a disabled user).
    Refused,
    /// Not checked: the address is over its limit, or hashing is saturated.
    Busy(Busy),
}

/// Checks a username and password from `address`.
pub async fn sign_in(
    db: &Db,
    guard: &LoginGuard,
    address: IpAddr,
    username: &str,
    password: &str,
) -> Result<Attempt> {
    if let Err(busy) = guard.check(address, Instant::now()) {
        return Ok(Attempt::Busy(busy));
    }
    // The slot first: a request turned away for load never reaches the database.
    let slot = match guard.hashing_slot().await {
        Ok(slot) => slot,
        Err(busy) => return Ok(Attempt::Busy(busy)),
    };
    let found = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&db.read)
        .await?
        .filter(|u| u.active);
    let matches = {
        let _slot = slot;
        let given = password.to_string();
        let stored = found
            .as_ref()
            .map_or_else(|| DECOY.clone(), |u| u.password_hash.clone());
        let matches =
            users::on_hashing_threads(move || users::verify_password(&given, &stored)).await?;
        matches && found.is_some()
    };
    let now = crate::now();
    let Some(found) = found.filter(|_| matches) else {
        guard.failed(address, Instant::now());
        // Counted in one statement, so that concurrent failures all count.
        user::Entity::update_many()
            .col_expr(
                user::Column::FailedLogins,
                Expr::col(user::Column::FailedLogins).add(1),
            )
            .col_expr(user::Column::LastFailedAt, Expr::value(Some(now)))
            .filter(user::Column::Username.eq(username))
            .exec(&db.write)
            .await?;
        return Ok(Attempt::Refused);
    };
    if found.failed_logins != 0 {
        let mut model = found.clone().into_active_model();
        model.failed_logins = Set(0);
        model.last_failed_at = Set(None);
        model.update(&db.write).await?;
    }
    let token = random_token(32).map_err(Error::internal)?;
    let csrf = random_token(32).map_err(Error::internal)?;
    session::ActiveModel {
        id: Set(sha256_hex(token.as_bytes())),
        user_id: Set(found.id),
        csrf_token: Set(csrf.clone()),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME),
    }
    .insert(&db.write)
    .await?;
    Ok(Attempt::SignedIn(NewSession { token, csrf }))
}

/// The signed-in user of a session cookie, if the session is live and the user active.
pub async fn find(db: &Db, token: &str) -> Result<Option<SignedIn>> {
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
        .map_err(|_| Error::internal(format!("user {} has a bad role", u.id)))?;
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
pub async fn sign_out(db: &Db, token: &str) -> Result<()> {
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
    fn the_decoy_is_a_valid_hash() {
        assert!(DECOY.starts_with("$argon2id$"));
        assert!(!users::verify_password("anything", &DECOY));
    }
}
