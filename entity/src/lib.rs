//! sea-orm entities for the tables that `migration` creates. Written by hand to match the
//! migrations; the application's own types live in the `hailong` crate.

pub mod agency;
pub mod agency_version;
pub mod annual_report;
pub mod answer;
pub mod api_key;
pub mod audit_log;
pub mod calendar_year;
pub mod case;
pub mod chain_head;
pub mod desk;
pub mod dossier;
pub mod exclusion;
pub mod hold;
pub mod idempotency_key;
pub mod question;
pub mod questionnaire;
pub mod rating_link;
pub mod reorganisation;
pub mod response;
pub mod rollup_daily;
pub mod rollup_monthly;
pub mod rollup_yearly;
pub mod service;
pub mod session;
pub mod setting;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
pub mod year_setting;
