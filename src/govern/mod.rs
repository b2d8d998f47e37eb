//! Who may do what: principals (API keys and web sessions), roles and agency
//! scope, API keys, users and their passwords, and the audit log of administrative changes.

pub mod access;
pub mod audit;
pub mod keys;
pub mod login;
pub mod principal;
pub mod secrets;
pub mod sessions;
pub mod users;

pub use principal::Principal;

use sea_orm::ConnectionTrait;

use crate::domain::Role;
use crate::error::{Error, Result};

/// The agency a key or user of `role` is confined to: scoped roles need one, and
/// administrators have none.
pub(crate) async fn resolve_scope(
    conn: &impl ConnectionTrait,
    role: Role,
    agency: Option<&str>,
) -> Result<Option<i64>> {
    match (role.is_scoped(), agency) {
        (true, None) => Err(Error::unprocessable(
            "agency_required",
            format!("the role {role} needs an agency"),
        )
        .with_field("agency")),
        (false, Some(_)) => Err(Error::unprocessable(
            "agency_not_allowed",
            "an administrator is not tied to an agency",
        )
        .with_field("agency")),
        (false, None) => Ok(None),
        (true, Some(code)) => Ok(Some(crate::org::agency_by_code(conn, code).await?.id)),
    }
}
