//! The authenticated caller of a request, and the checks of role and agency scope that
//! every handler makes through it.

use entity::api_key;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::secrets::sha256_hex;
use crate::db::Db;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::org::Tree;

/// Who is calling: an API key or a signed-in user.
#[derive(Debug, Clone)]
pub struct Principal {
    /// How the audit log names the caller, e.g. `key:hl_AbCdEfGh` or `user:lan`.
    pub actor: String,
    pub role: Role,
    /// The root of the caller's scope; `None` for administrators.
    pub agency_id: Option<i64>,
}

impl Principal {
    /// The command line acts as an administrator.
    pub fn cli() -> Self {
        Self {
            actor: "cli".into(),
            role: Role::Admin,
            agency_id: None,
        }
    }

    /// A citizen holding a case's code: the least role, scoped to no agency, so that no
    /// check of role or scope ever passes for it (the code is the only key it holds).
    pub fn citizen() -> Self {
        Self {
            actor: "citizen".into(),
            role: Role::Viewer,
            agency_id: Some(0),
        }
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::forbidden())
        }
    }

    /// Whether the caller's scope covers `agency_id`.
    pub fn covers(&self, tree: &Tree, agency_id: i64) -> bool {
        match (self.role, self.agency_id) {
            (Role::Admin, _) => true,
            (_, Some(root)) => tree.is_within(agency_id, root),
            (_, None) => false,
        }
    }

    /// 403 unless the caller's scope covers `agency_id`.
    pub fn require_scope(&self, tree: &Tree, agency_id: i64) -> Result<()> {
        if self.covers(tree, agency_id) {
            Ok(())
        } else {
            Err(Error::forbidden())
        }
    }
}

/// The caller holding API key `key`, unless it is unknown or revoked.
pub async fn by_key(db: &Db, key: &str) -> Result<Option<Principal>> {
    let Some(found) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(sha256_hex(key.as_bytes())))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    let role: Role = found
        .role
        .parse()
        .map_err(|_| Error::internal(format!("api key {} has a bad role", found.id)))?;
    super::access::note_key_use(db, found.id);
    Ok(Some(Principal {
        actor: format!("key:{}", found.prefix),
        role,
        agency_id: found.agency_id,
    }))
}
