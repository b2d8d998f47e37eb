//! The authenticated caller of a request, and the checks of role and agency scope that
//! every handler makes through it.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use entity::api_key;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::domain::Role;
use crate::org::Tree;
use crate::web::AppState;
use crate::web::error::{ApiError, ApiResult};

use super::secrets::{constant_time_eq, sha256_hex};
use super::sessions;
use crate::web::cookies;

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

    /// 403 unless the caller has one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
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
    pub fn require_scope(&self, tree: &Tree, agency_id: i64) -> ApiResult<()> {
        if self.covers(tree, agency_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|k| !k.is_empty());
        let Some(key) = bearer else {
            return from_session(parts, state).await;
        };
        let found = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(sha256_hex(key.as_bytes())))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&state.db.read)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let role: Role = found
            .role
            .parse()
            .map_err(|_| ApiError::internal(format!("api key {} has a bad role", found.id)))?;
        super::access::note_key_use(&state.db, found.id);
        Ok(Self {
            actor: format!("key:{}", found.prefix),
            role,
            agency_id: found.agency_id,
        })
    }
}

/// The caller signed in with the session cookie. A state-changing call made this way must
/// carry the session's CSRF token in `X-CSRF-Token` (403 `csrf_failed` otherwise).
async fn from_session(parts: &Parts, state: &AppState) -> ApiResult<Principal> {
    let token = cookies::read(&parts.headers, sessions::COOKIE, sessions::TOKEN_LEN)
        .ok_or_else(ApiError::unauthorized)?;
    let signed_in = sessions::find(&state.db, &token)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !parts.method.is_safe() {
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !constant_time_eq(sent, &signed_in.csrf) {
            return Err(ApiError::csrf_failed());
        }
    }
    Ok(signed_in.principal)
}
