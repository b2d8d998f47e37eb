//! Collecting ratings: questionnaires, rating links and their QR codes, answer validation,
//! taking a rating ([`intake`]: limits, the daily client hash) and the single writer that
//! stores it ([`store`]), imports, exclusions, listings, and the raw answer rows
//! ([`raw`]) for what must not come from the roll-ups. The pages and the JSON API that
//! call them live in `crate::web`.

pub mod answers;
pub mod chain;
pub mod exclusions;
pub mod import;
pub mod intake;
pub mod integrity;
pub mod limit;
pub mod links;
pub mod listing;
pub mod qr;
pub mod questionnaire;
pub mod raw;
pub mod review;
pub mod store;
