//! Closing the loop (API.md, "Closing the loop"): cases for unhappy citizens and their
//! replies, the working-day calendar they are due by, dossier counts from the case-handling
//! system, Decision 766's follow-up figures, and webhooks.

pub mod calendar;
pub mod cases;
pub mod dossiers;
pub mod figures;
pub mod webhooks;
