//! Web users and their passwords, hashed with argon2id.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use entity::user;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use crate::db::{Db, unless_duplicate};
use crate::domain::{Invalid, Role};
use crate::error::{Error, Result};

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

/// Runs password hashing on a few threads of its own (one per core), never on the runtime's
/// blocking pool: each argon2id hash takes 19 MiB, and the allocator keeps that much per
/// thread that ever hashed, so hundreds of blocking threads would keep hundreds of MiB.
pub async fn on_hashing_threads<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: std::sync::LazyLock<std::sync::mpsc::Sender<Job>> =
        std::sync::LazyLock::new(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            for i in 0..threads {
                let rx = rx.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("hailong-hash-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    });
            }
            tx
        });
    let (reply, answer) = tokio::sync::oneshot::channel();
    QUEUE
        .send(Box::new(move || {
            let _ = reply.send(job());
        }))
        .map_err(|_| Error::internal("the hashing threads have stopped"))?;
    answer
        .await
        .map_err(|_| Error::internal("a hashing job was dropped"))
}

/// [`hash_password`] on the hashing threads.
pub async fn hash_password_bounded(password: &str) -> Result<String> {
    let password = password.to_string();
    on_hashing_threads(move || hash_password(&password)).await?
}

/// The argon2id PHC string of `password`, with a random salt (argon2's default
/// parameters: 19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(Error::internal)?;
    let params = Params::default();
    let hash = argon2id(password.as_bytes(), &salt, &params).map_err(Error::internal)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        B64.encode(salt),
        B64.encode(hash)
    ))
}

/// Whether `password` matches the stored PHC string (argon2id, version 19).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Some((params, salt, expected)) = parse_phc(phc) else {
        return false;
    };
    argon2id(password.as_bytes(), &salt, &params)
        .is_ok_and(|hash| super::secrets::constant_time_eq_bytes(&hash, &expected))
}

/// `$argon2id$v=19$m=M,t=T,p=P$SALT$HASH` (unpadded standard base64).
fn parse_phc(phc: &str) -> Option<(Params, Vec<u8>, Vec<u8>)> {
    let mut parts = phc.split('$');
    let (Some(""), Some("argon2id"), Some("v=19"), Some(costs), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let cost = |key: &str| {
        costs
            .split(',')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse::<u32>().ok())
    };
    let (m, t, p) = (cost("m")?, cost("t")?, cost("p")?);
    let hash = B64.decode(hash).ok()?;
    // Bounded, so that a stored hash cannot make one check take gigabytes.
    if m > 256 * 1024 || t > 16 || p > 8 || hash.len() < 16 || hash.len() > 64 {
        return None;
    }
    let params = Params::new(m, t, p, Some(hash.len())).ok()?;
    Some((params, B64.decode(salt).ok()?, hash))
}

/// One argon2id hash, in a memory buffer kept by the calling thread. argon2 0.6's own
/// allocation (`hash_password_into`, and so `verify_password`) never returned its 19 MiB
/// here: measured, resident memory grew by 19 MiB with every sign-in.
fn argon2id(password: &[u8], salt: &[u8], params: &Params) -> Result<Vec<u8>, argon2::Error> {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    BLOCKS.with_borrow_mut(|blocks| {
        blocks.resize(params.block_count(), Block::default());
        argon.hash_password_into_with_memory(password, salt, &mut out, blocks.as_mut_slice())
    })?;
    Ok(out)
}

pub async fn add(
    db: &Db,
    by: &Principal,
    username: &str,
    password: &str,
    role: Role,
    agency: Option<&str>,
) -> Result<user::Model> {
    let username = parse_username(username).map_err(|e| Error::invalid("username", e))?;
    check_password(password).map_err(|e| Error::invalid("password", e))?;
    let password_hash = hash_password_bounded(password).await?;
    let txn = db.begin_write().await?;
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
    .map_err(|e| unless_duplicate(e, || duplicate_user(&username)))?;
    audit::commit(
        txn,
        &by.actor,
        "user.add",
        &format!("user:{username}"),
        json!({"role": role, "agency": agency}),
    )
    .await?;
    Ok(stored)
}

fn duplicate_user(username: &str) -> Error {
    Error::conflict("user_exists", format!("the user {username} already exists"))
        .with_field("username")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hashes_made_by_the_argon2_crate() {
        use argon2::password_hash::PasswordHasher;
        let phc = Argon2::default()
            .hash_password(b"m\xe1\xba\xadt kh\xe1\xba\xa9u c\xc5\xa9")
            .unwrap()
            .to_string();
        assert!(verify_password("mật khẩu cũ", &phc), "{phc}");
        assert!(!verify_password("mat khau cu", &phc));
    }

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let phc = hash_password("mật khẩu dài").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("mật khẩu dài", &phc));
        assert!(!verify_password("mat khau dai", &phc));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password(
            "x",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
        ));
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
