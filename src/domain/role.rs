//! The roles of users and API keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Invalid;

/// What a principal may do. All roles but `Admin` are confined to one agency's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, everywhere.
    Admin,
    /// Reads and follows up on its own subtree.
    Manager,
    /// Reads its own subtree.
    Viewer,
    /// The province's case system: creates links and imports within its subtree.
    Integrator,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Viewer, Role::Integrator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
            Role::Integrator => "integrator",
        }
    }

    /// The roles that may read stored responses and citizens' comments (the listing, the
    /// dashboard's comments): integrators pull figures, never comments.
    pub const READ_RESPONSES: [Role; 3] = [Role::Admin, Role::Manager, Role::Viewer];

    /// Whether the role must be tied to an agency.
    pub fn is_scoped(self) -> bool {
        self != Role::Admin
    }
}

impl FromStr for Role {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "invalid_role",
                    "the role is one of admin, manager, viewer, integrator",
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}
