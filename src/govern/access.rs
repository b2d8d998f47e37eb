//! Giving and taking back access: creating, listing and revoking API keys; adding, listing,
//! disabling, enabling web users
//! and setting their passwords. Each change is audited and takes effect on the next
//! request: a revoked key is refused by the principal extractor, a disabled user's sessions
//! are deleted (and `sessions::find` refuses inactive users), a new password ends the
//! user's other sessions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{agency, api_key, session, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QueryTrait, Set,
};
use serde::Serialize;
use serde_json::json;

use super::{audit, users};
use crate::app::Context;
use crate::db::Db;
use crate::domain::Role;
use crate::error::{Error, Result};

/// A key as administrators see it: never the key itself.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct KeyDto {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub role: String,
    pub agency: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A web user as administrators see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct UserDto {
    pub username: String,
    pub role: String,
    pub agency: Option<String>,
    pub active: bool,
    pub failed_logins: i32,
    pub created_at: DateTime<Utc>,
}

/// For an administrator's listing: the agencies' codes by id (403 for anyone else).
async fn codes_for_admin(cx: &Context<'_>) -> Result<HashMap<i64, String>> {
    cx.by.require_role(&[Role::Admin])?;
    Ok(agency::Entity::find()
        .all(&cx.db.read)
        .await?
        .into_iter()
        .map(|a| (a.id, a.code))
        .collect())
}

pub async fn list_keys(cx: &Context<'_>) -> Result<Vec<KeyDto>> {
    keys_where(cx, None).await
}

/// The keys as administrators see them: all, or the one with `id`.
async fn keys_where(cx: &Context<'_>, id: Option<i64>) -> Result<Vec<KeyDto>> {
    let codes = codes_for_admin(cx).await?;
    let found = api_key::Entity::find()
        .apply_if(id, |q, id| q.filter(api_key::Column::Id.eq(id)))
        .order_by_asc(api_key::Column::Id)
        .all(&cx.db.read)
        .await?;
    Ok(found
        .into_iter()
        .map(|k| KeyDto {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            agency: k.agency_id.and_then(|id| codes.get(&id).cloned()),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        })
        .collect())
}

/// Key `id` as [`list_keys`] shows it, after a change that kept it.
async fn key_dto(cx: &Context<'_>, id: i64) -> Result<KeyDto> {
    let found = keys_where(cx, Some(id)).await?.pop();
    found.ok_or_else(|| Error::internal("a key vanished while changed"))
}

/// Creates an API key (administrators): the key itself, shown this once, and the key as
/// [`list_keys`] shows it.
pub async fn create_key(
    cx: &Context<'_>,
    role: Role,
    agency: Option<&str>,
    name: Option<&str>,
) -> Result<(String, KeyDto)> {
    cx.by.require_role(&[Role::Admin])?;
    let created = super::keys::create(cx.db, cx.by, role, agency, name).await?;
    Ok((created.secret, key_dto(cx, created.stored.id).await?))
}

/// Adds a web user (administrators), as [`list_users`] shows them.
pub async fn add_user(
    cx: &Context<'_>,
    username: &str,
    password: &str,
    role: Role,
    agency: Option<&str>,
) -> Result<UserDto> {
    cx.by.require_role(&[Role::Admin])?;
    let added = users::add(cx.db, cx.by, username, password, role, agency).await?;
    user_dto(cx, &added.username).await
}

/// Revokes key `id`; revoking a revoked key changes nothing.
pub async fn revoke_key(cx: &Context<'_>, id: i64) -> Result<KeyDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let txn = db.begin_write().await?;
    let key = api_key::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("key_not_found", "there is no key with this id"))?;
    if key.revoked_at.is_none() {
        let prefix = key.prefix.clone();
        let mut model = key.into_active_model();
        model.revoked_at = Set(Some(crate::now()));
        model.update(&txn).await?;
        audit::record(
            &txn,
            &by.actor,
            "key.revoke",
            &format!("key:{prefix}"),
            json!({"id": id}),
        )
        .await?;
    }
    txn.commit().await?;
    key_dto(cx, id).await
}

pub async fn list_users(cx: &Context<'_>) -> Result<Vec<UserDto>> {
    users_where(cx, None).await
}

/// The users as administrators see them: all, or the one named `name`.
async fn users_where(cx: &Context<'_>, name: Option<&str>) -> Result<Vec<UserDto>> {
    let codes = codes_for_admin(cx).await?;
    let found = user::Entity::find()
        .apply_if(name, |q, name| q.filter(user::Column::Username.eq(name)))
        .order_by_asc(user::Column::Username)
        .all(&cx.db.read)
        .await?;
    Ok(found
        .into_iter()
        .map(|u| UserDto {
            agency: u.agency_id.and_then(|id| codes.get(&id).cloned()),
            username: u.username,
            role: u.role,
            active: u.active,
            failed_logins: u.failed_logins,
            created_at: u.created_at,
        })
        .collect())
}

async fn user_named(conn: &impl ConnectionTrait, name: &str) -> Result<user::Model> {
    user::Entity::find()
        .filter(user::Column::Username.eq(name))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", format!("there is no user {name}")))
}

/// User `name` as [`list_users`] shows them, or 404 `user_not_found`.
async fn user_dto(cx: &Context<'_>, name: &str) -> Result<UserDto> {
    let found = users_where(cx, Some(name)).await?.pop();
    found.ok_or_else(|| Error::not_found("user_not_found", format!("there is no user {name}")))
}

/// Disables (`active` false: no sign-in, every session ended at once) or enables a user.
pub async fn set_active(cx: &Context<'_>, name: &str, active: bool) -> Result<UserDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    let txn = db.begin_write().await?;
    let found = user_named(&txn, name).await?;
    let id = found.id;
    if found.active != active {
        let mut model = found.into_active_model();
        model.active = Set(active);
        model.update(&txn).await?;
        let action = if active {
            "user.enable"
        } else {
            "user.disable"
        };
        audit::record(&txn, &by.actor, action, &format!("user:{name}"), json!({})).await?;
    }
    if !active {
        session::Entity::delete_many()
            .filter(session::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    user_dto(cx, name).await
}

/// Sets a user's password and ends the user's sessions, but for `keep` (the session of a
/// user who changes their own password).
pub async fn set_password(
    cx: &Context<'_>,
    name: &str,
    password: &str,
    keep: Option<&str>,
) -> Result<UserDto> {
    let Context { db, by, .. } = *cx;
    by.require_role(&[Role::Admin])?;
    users::check_password(password).map_err(|e| Error::invalid("password", e))?;
    let hash = users::hash_password_bounded(password).await?;
    let txn = db.begin_write().await?;
    let found = user_named(&txn, name).await?;
    let id = found.id;
    let mut model = found.into_active_model();
    model.password_hash = Set(hash);
    model.failed_logins = Set(0);
    model.last_failed_at = Set(None);
    model.update(&txn).await?;
    let mut others = session::Entity::delete_many().filter(session::Column::UserId.eq(id));
    if let Some(token) = keep {
        others =
            others.filter(session::Column::Id.ne(super::secrets::sha256_hex(token.as_bytes())));
    }
    others.exec(&txn).await?;
    audit::commit(
        txn,
        &by.actor,
        "user.password",
        &format!("user:{name}"),
        json!({}),
    )
    .await?;
    user_dto(cx, name).await
}

/// Records that key `id` was used, at most once a minute per key and off the request's
/// path, so that `key list` can say which keys are still in use.
pub fn note_key_use(db: &Db, id: i64) {
    use std::sync::{LazyLock, Mutex};
    use std::time::{Duration, Instant};
    static NOTED: LazyLock<Mutex<HashMap<i64, Instant>>> = LazyLock::new(Mutex::default);
    {
        let mut noted = NOTED.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if noted
            .get(&id)
            .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
        {
            return;
        }
        if noted.len() > 10_000 {
            noted.clear();
        }
        noted.insert(id, now);
    }
    let db = db.clone();
    tokio::spawn(async move {
        let _ = api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(crate::now())))
            .filter(api_key::Column::Id.eq(id))
            .exec(&db.write)
            .await;
    });
}
