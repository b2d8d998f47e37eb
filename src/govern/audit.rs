//! The audit log: who changed what, and when. Written in the same transaction as the
//! change it records, so that neither exists without the other.

use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

/// Records one administrative change.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        at: Set(crate::now()),
        actor: Set(actor.to_string()),
        action: Set(action.to_string()),
        target: Set(target.to_string()),
        details: Set(Some(details.to_string())),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Records one administrative change in `txn`, then commits it: the change and its record
/// stand or fall together.
pub async fn commit(
    txn: sea_orm::DatabaseTransaction,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    record(&txn, actor, action, target, details).await?;
    txn.commit().await
}
