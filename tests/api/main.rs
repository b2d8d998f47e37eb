//! Black-box tests through the real router, one binary. Each test gets a fresh database:
//! SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set.

// Tests may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod admin;
mod agencies;
mod annual;
mod auth;
mod browser;
mod charts;
mod cli;
mod collect;
mod desks;
mod faults;
mod floods;
mod follow;
mod form;
mod fuzz;
mod hardening;
mod helpers;
mod limits;
mod operations;
mod ops;
mod pages;
mod reorganise;
mod reports;
mod responses;
mod trust;
mod year_end;
