//! What every use case is given: the database, who asks, and the deployment's settings.
//! The JSON API, the pages and the command line build one [`Context`] per request or
//! command and call the capabilities' use cases with it and typed inputs
//! ([`crate::domain::Year`], [`crate::domain::Period`], …); each use case checks the
//! caller's role and scope itself.

use crate::config::Config;
use crate::db::Db;
use crate::govern::Principal;

/// The database, the caller and the settings of one request or command.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub db: &'a Db,
    pub by: &'a Principal,
    pub config: &'a Config,
}

impl<'a> Context<'a> {
    pub fn new(db: &'a Db, by: &'a Principal, config: &'a Config) -> Self {
        Self { db, by, config }
    }

    /// The same database and settings, for another caller.
    pub fn as_caller(self, by: &'a Principal) -> Self {
        Self { by, ..self }
    }
}
