//! Web users and their passwords, hashed with argon2id.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use entity::user;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde_json::json;

use crate::db::{Db, is_unique_violation};
use crate::domain::{Invalid, Role};
use crate::web::error::{ApiError, ApiResult};

use super::{Principal, audit, resolve_scope};

pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 1024;

/// A username: 1–64 characters of `a-z A-Z 0-9 . _ - @`.
pub fn parse_username(raw: &str) -> Result<String, Invalid> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(Invalid::new(
            "invalid_username",
            "a username has 1 to 64 characters: letters, digits, '.', '_', '-', '@'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(Invalid::new(
            "weak_password",
            format!("a password has at least {MIN_PASSWORD_CHARS} characters"),
        ))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(Invalid::new("invalid_password", "the password is too long"))
    } else {
        Ok(())
    }
}

/// The argon2id PHC string of `password`, with a random salt.
pub fn hash_password(password: &str) -> ApiResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub async fn add(
    db: &Db,
    by: &Principal,
    username: &str,
    password: &str,
    role: Role,
    agency: Option<&str>,
) -> ApiResult<user::Model> {
    let username = parse_username(username).map_err(|e| ApiError::invalid("username", e))?;
    check_password(password).map_err(|e| ApiError::invalid("password", e))?;
    let password_hash = hash_password(password)?;
    let txn = db.write.begin().await?;
    let agency_id = resolve_scope(&txn, role, agency).await?;
    let taken = user::Entity::find()
        .filter(user::Column::Username.eq(&username))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(duplicate_user(&username));
    }
    let stored = user::ActiveModel {
        username: Set(username.clone()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_string()),
        agency_id: Set(agency_id),
        active: Set(true),
        failed_logins: Set(0),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            duplicate_user(&username)
        } else {
            e.into()
        }
    })?;
    audit::record(
        &txn,
        &by.actor,
        "user.add",
        &format!("user:{username}"),
        json!({"role": role, "agency": agency}),
    )
    .await?;
    txn.commit().await?;
    Ok(stored)
}

fn duplicate_user(username: &str) -> ApiError {
    ApiError::conflict("user_exists", format!("the user {username} already exists"))
        .with_field("username")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let phc = hash_password("mật khẩu dài").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("mật khẩu dài", &phc));
        assert!(!verify_password("mat khau dai", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(parse_username("lan.nguyen@khanhhoa").is_ok());
        assert!(parse_username("").is_err());
        assert!(parse_username("có dấu").is_err());
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
    }
}
