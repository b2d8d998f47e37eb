//! hailong: citizen-satisfaction surveys for the one-stop desks of Vietnamese public
//! agencies. See `README.md` for what it does and `../shared/docs/API.md` for the contract.
//!
//! The parts (`docs/ARCHITECTURE.md` says what each may use):
//! - capabilities: `collect` (questionnaires, links, taking and storing ratings, imports,
//!   exclusions, listings), `rollup` (the roll-up tables: write, read, rebuild), `report`
//!   (reports, the annual ranking and its frozen document, chart figures), `score` (the
//!   scoring method, pure), `chart` (drawing, no I/O), `org` (agencies and desks),
//!   `govern` (principals, roles, keys, users, sessions, audit), `ops` (whole-database
//!   backup, restore, copy and verification, for the command line);
//! - `app`: the context every use case is given (database, caller, settings, the agencies
//!   once read);
//! - beneath them: `domain` (validated input types), `error` (the one error type), `db`
//!   (connections, migrations), `config`;
//! - front ends on top: `web` (routing, extractors, pages, HTTP errors) and `cli`.

pub mod app;
pub mod chart;
pub mod cli;
pub mod collect;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod follow;
pub mod generate;
pub mod govern;
pub mod ops;
pub mod org;
pub mod report;
pub mod rollup;
pub mod score;
pub mod web;

pub use error::{Error, Result};

/// The current instant, truncated to whole microseconds: the precision PostgreSQL keeps,
/// so that an instant reads back exactly as it was written on both databases (the
/// response hash chain depends on that).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    let now = chrono::Utc::now();
    now.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Readies a database for use: applies pending migrations (calling `progress` with each
/// one's name), stores the built-in questionnaires' current versions and makes the
/// deployment's secret (client hashes, cookie and form signatures) if it has none. All of
/// it runs under the start-up lock ([`db::Db::startup_lock`]), so that servers started
/// together on an empty database all come up.
pub async fn prepare(db: &db::Db, progress: impl FnMut(&str)) -> anyhow::Result<usize> {
    db.startup_lock(prepare_locked(db, progress))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
}

async fn prepare_locked(db: &db::Db, progress: impl FnMut(&str)) -> anyhow::Result<usize> {
    let applied = db
        .migrate(progress)
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
    collect::questionnaire::ensure_builtins(db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the built-in questionnaires: {}", e.message))?;
    collect::intake::Keys::default()
        .get(&db.write)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the deployment's secret: {}", e.message))?;
    rollup::kept::ensure(&db.write)
        .await
        .map_err(|e| anyhow::anyhow!("cannot store the roll-ups' epoch: {e}"))?;
    Ok(applied)
}
