//! What every use case is given: the database, who asks, and the deployment's settings.
//! The JSON API, the pages and the command line build one [`Context`] per request or
//! command and call the capabilities' use cases with it and typed inputs
//! ([`crate::domain::Year`], [`crate::domain::Period`], …); each use case checks the
//! caller's role and scope itself.

use std::sync::Arc;

use chrono::NaiveDate;
use entity::agency;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::db::Db;
use crate::domain::AgencyCode;
use crate::error::Result;
use crate::govern::Principal;
use crate::org::Agencies;

/// The database, the caller and the settings of one request or command, and the agencies
/// once read.
pub struct Context<'a> {
    pub db: &'a Db,
    pub by: &'a Principal,
    pub config: &'a Config,
    agencies: OnceCell<Arc<Agencies>>,
}

impl<'a> Context<'a> {
    pub fn new(db: &'a Db, by: &'a Principal, config: &'a Config) -> Self {
        Self {
            db,
            by,
            config,
            agencies: OnceCell::new(),
        }
    }

    /// Every agency and their tree, read on first use and kept for this context: a page
    /// that shows several figures reads the agency table once.
    pub async fn agencies(&self) -> Result<Arc<Agencies>> {
        self.agencies
            .get_or_try_init(|| async {
                Agencies::load(&self.db.read, self.today())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Every agency and the tree as they stood on `day` (today's are kept for the context).
    pub async fn agencies_on(&self, day: NaiveDate) -> Result<Arc<Agencies>> {
        if day == self.today() {
            return self.agencies().await;
        }
        Ok(Arc::new(Agencies::load(&self.db.read, day).await?))
    }

    /// Today in the deployment's time zone.
    pub fn today(&self) -> NaiveDate {
        crate::now()
            .with_timezone(&self.config.timezone)
            .date_naive()
    }

    /// The agency with `code` if the caller's scope covers it (404, 403 otherwise), and
    /// every agency.
    pub async fn in_scope(&self, code: &AgencyCode) -> Result<(agency::Model, Arc<Agencies>)> {
        let agencies = self.agencies().await?;
        let found = agencies.in_scope(self.by, code.as_str())?.clone();
        Ok((found, agencies))
    }

    /// The agency with `code` if the caller's scope covers it (judged on today's tree), and
    /// the agencies of `as_of` (today when `None`), the day moved into the days the agency
    /// existed: a report of an agency that has ended reads the tree of its last day.
    pub async fn restated(
        &self,
        code: &AgencyCode,
        as_of: Option<NaiveDate>,
    ) -> Result<(agency::Model, Arc<Agencies>)> {
        let (found, _) = self.in_scope(code).await?;
        let day = crate::org::history::clamp(&found, as_of.unwrap_or_else(|| self.today()));
        let agencies = self.agencies_on(day).await?;
        let found = agencies.get(found.id).cloned().unwrap_or(found);
        Ok((found, agencies))
    }

    /// The ids of the subtree a listing covers: of `code` when given (within the caller's
    /// scope), else of the caller's own agency; `None` (every agency) for a caller tied to
    /// no agency.
    pub async fn subtree_or_own(&self, code: Option<&AgencyCode>) -> Result<Option<Vec<i64>>> {
        Ok(match (code, self.by.agency_id) {
            (Some(code), _) => {
                let (root, agencies) = self.in_scope(code).await?;
                Some(agencies.tree.subtree(root.id))
            }
            (None, Some(root)) => Some(self.agencies().await?.tree.subtree(root)),
            (None, None) => None,
        })
    }
}
