//! Schema migrations for hailong. Append-only: a released migration is never edited; a
//! change to the schema is a new `mYYYYMMDD_HHMMSS_what.rs` file listed below.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_coarse_rollups;
mod m20261122_000003_comment_index;
mod m20261202_000004_idempotency_keys;
mod m20261203_000005_held_ratings;
mod m20261204_000006_listing_index;
mod m20261205_000007_reorganisation;
mod m20261206_000008_follow_up;
mod m20261207_000009_paper_index;
mod m20261208_000010_monthly_question_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_coarse_rollups::Migration),
            Box::new(m20261122_000003_comment_index::Migration),
            Box::new(m20261202_000004_idempotency_keys::Migration),
            Box::new(m20261203_000005_held_ratings::Migration),
            Box::new(m20261204_000006_listing_index::Migration),
            Box::new(m20261205_000007_reorganisation::Migration),
            Box::new(m20261206_000008_follow_up::Migration),
            Box::new(m20261207_000009_paper_index::Migration),
            Box::new(m20261208_000010_monthly_question_index::Migration),
        ]
    }
}
