//! API keys: `hl_` and 43 characters of URL-safe base64 (256 random bits). Only the
//! SHA-256 of a key is stored; the key itself is shown once, when it is created.

use entity::api_key;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;

use crate::db::Db;
use crate::domain::{Name, Role};
use crate::error::{Error, Result};

use super::secrets::{random_token, sha256_hex};
use super::{Principal, audit, resolve_scope};

/// A new key: the secret (shown once) and what was stored.
pub struct NewKey {
    pub secret: String,
    pub stored: api_key::Model,
}

pub async fn create(
    db: &Db,
    by: &Principal,
    role: Role,
    agency: Option<&str>,
    name: Option<&str>,
) -> Result<NewKey> {
    let name = match name {
        Some(n) => Name::parse(n).map_err(|e| Error::invalid("name", e))?,
        None => Name::parse(&format!("{role} key")).map_err(|e| Error::invalid("name", e))?,
    };
    let secret = format!("hl_{}", random_token(32).map_err(Error::internal)?);
    let prefix: String = secret.chars().take(11).collect();
    let txn = db.begin_write().await?;
    let agency_id = resolve_scope(&txn, role, agency).await?;
    let stored = api_key::ActiveModel {
        name: Set(name.into_string()),
        prefix: Set(prefix.clone()),
        key_hash: Set(sha256_hex(secret.as_bytes())),
        role: Set(role.as_str().to_string()),
        agency_id: Set(agency_id),
        created_at: Set(crate::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::commit(
        txn,
        &by.actor,
        "key.create",
        &format!("key:{prefix}"),
        json!({"role": role, "agency": agency, "name": stored.name}),
    )
    .await?;
    Ok(NewKey { secret, stored })
}
