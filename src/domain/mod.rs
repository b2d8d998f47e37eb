//! Input parsed once at the edge into types that are valid by construction. Handlers turn
//! request bodies into these; nothing downstream checks again.

mod code;
pub mod csv_rows;
pub mod json;
pub mod lunar;
mod name;
pub mod period;
mod role;
pub mod text;
mod unique_map;
mod year;

pub use code::{AgencyCode, Code};
pub use name::Name;
pub use period::Period;
pub use role::Role;
pub use unique_map::UniqueMap;
pub use year::Year;

/// Why a value was rejected: a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
