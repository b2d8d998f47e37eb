//! Collecting ratings: questionnaires, rating links and their QR codes, the citizen form,
//! answer validation, and the store that writes responses.

pub mod answers;
pub mod chain;
pub mod exclusions;
pub mod import;
pub mod intake;
pub mod limit;
pub mod links;
pub mod listing;
pub mod qr;
pub mod questionnaire;
pub mod raw;
pub mod store;
