//! Every table, read and written through its entity, so that each value keeps its type
//! between SQLite and PostgreSQL (instants, dates, flags) and the hash chain recomputes
//! to the same digests on either side.

use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, Iterable, PaginatorTrait,
    PrimaryKeyToColumn, QueryOrder,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::archive;

/// Calls `$cb!` with the entity module of every table but `agencies` (which refers to
/// itself and is written apart, see [`agencies_in_order`]), each after the tables its
/// foreign keys name.
macro_rules! with_tables {
    ($cb:ident) => {
        $cb!(
            agency_version,
            reorganisation,
            desk,
            service,
            questionnaire,
            question,
            rating_link,
            response,
            answer,
            exclusion,
            hold,
            chain_head,
            rollup_daily,
            rollup_monthly,
            rollup_yearly,
            user,
            api_key,
            session,
            audit_log,
            annual_report,
            case,
            calendar_year,
            dossier,
            webhook,
            webhook_delivery,
            year_setting,
            setting,
            idempotency_key
        )
    };
}
pub(super) use with_tables;

/// A table that can be copied: its rows serialise, and turn back into rows to insert.
pub(super) trait Table:
    EntityTrait<
        Model: Serialize + DeserializeOwned + Clone + Send + Sync,
        ActiveModel: ActiveModelTrait<Entity = Self> + From<Self::Model> + Send,
    >
{
    fn name() -> &'static str {
        Self::default().table_name()
    }
}

impl<E> Table for E where
    E: EntityTrait<
            Model: Serialize + DeserializeOwned + Clone + Send + Sync,
            ActiveModel: ActiveModelTrait<Entity = E> + From<E::Model> + Send,
        >
{
}

/// Where rows go: the target database's transaction, or a backup archive.
pub(super) enum Sink<'a> {
    Db(&'a DatabaseTransaction),
    Archive(&'a mut archive::Writer),
}

impl Sink<'_> {
    /// Rows per insert: SQLite binds at most 32,766 values in one statement.
    fn batch_rows<E: Table>() -> usize {
        (30_000 / E::Column::iter().count().max(1)).clamp(1, 2_000)
    }

    pub(super) async fn put<E: Table>(&mut self, rows: &[E::Model]) -> anyhow::Result<()> {
        match self {
            Sink::Db(txn) => {
                for chunk in rows.chunks(Self::batch_rows::<E>()) {
                    E::insert_many(chunk.iter().cloned().map(E::ActiveModel::from))
                        .exec_without_returning(*txn)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", E::name()))?;
                }
            }
            Sink::Archive(writer) => writer.rows(E::name(), rows)?,
        }
        Ok(())
    }
}

/// How many rows `E` holds in the snapshot.
pub(super) async fn count<E: Table>(src: &impl ConnectionTrait) -> anyhow::Result<u64> {
    E::find()
        .count(src)
        .await
        .map_err(|e| anyhow::anyhow!("cannot count {}: {e}", E::name()))
}

/// Streams every row of `E` in primary-key order into `sink`, in batches, calling
/// `progress(done)` after each; returns how many rows went.
pub(super) async fn send<E: Table>(
    src: &DatabaseTransaction,
    sink: &mut Sink<'_>,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<u64> {
    let fail = |e: sea_orm::DbErr| anyhow::anyhow!("cannot read {}: {e}", E::name());
    let mut query = E::find();
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    let mut stream = query.stream(src).await.map_err(fail)?;
    let per_batch = 5_000;
    let mut batch = Vec::with_capacity(per_batch);
    let mut done = 0u64;
    while let Some(row) = stream.try_next().await.map_err(fail)? {
        batch.push(row);
        if batch.len() == per_batch {
            sink.put::<E>(&batch).await?;
            done += batch.len() as u64;
            batch.clear();
            progress(done);
        }
    }
    if !batch.is_empty() {
        sink.put::<E>(&batch).await?;
        done += batch.len() as u64;
        progress(done);
    }
    Ok(done)
}

/// Every agency, each after its parent and its successor (a merge may name a successor
/// created later), so that the foreign keys hold while they are inserted one by one.
pub(super) async fn agencies_in_order(
    src: &DatabaseTransaction,
) -> anyhow::Result<Vec<entity::agency::Model>> {
    let all = entity::agency::Entity::find()
        .order_by_asc(entity::agency::Column::Id)
        .all(src)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read agencies: {e}"))?;
    order_agencies(all)
}

fn order_agencies(all: Vec<entity::agency::Model>) -> anyhow::Result<Vec<entity::agency::Model>> {
    use std::collections::HashSet;
    let mut placed: HashSet<i64> = HashSet::with_capacity(all.len());
    let mut ordered = Vec::with_capacity(all.len());
    let mut left = all;
    while !left.is_empty() {
        let before = left.len();
        let (ready, waiting): (Vec<_>, Vec<_>) = left.into_iter().partition(|a| {
            [a.parent_id, a.successor_id]
                .iter()
                .flatten()
                .all(|id| placed.contains(id))
        });
        placed.extend(ready.iter().map(|a| a.id));
        ordered.extend(ready);
        left = waiting;
        if left.len() == before {
            anyhow::bail!(
                "agencies {:?} refer to each other in a cycle, or to agencies that do not exist",
                left.iter().map(|a| a.code.as_str()).collect::<Vec<_>>()
            );
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(id: i64, parent: Option<i64>, successor: Option<i64>) -> entity::agency::Model {
        let t = chrono::DateTime::UNIX_EPOCH;
        entity::agency::Model {
            id,
            code: format!("A{id}"),
            name: format!("Agency {id}"),
            name_en: None,
            parent_id: parent,
            level: None,
            valid_from: None,
            valid_to: None,
            successor_id: successor,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn parents_and_successors_come_first() {
        let ordered = order_agencies(vec![
            agency(1, Some(4), None),
            agency(2, None, Some(3)),
            agency(3, Some(4), None),
            agency(4, None, None),
        ])
        .unwrap();
        let ids: Vec<i64> = ordered.iter().map(|a| a.id).collect();
        let at = |id| ids.iter().position(|x| *x == id).unwrap();
        assert!(at(4) < at(1) && at(4) < at(3) && at(3) < at(2), "{ids:?}");
        assert!(order_agencies(vec![agency(1, Some(2), None), agency(2, Some(1), None)]).is_err());
        assert!(order_agencies(vec![agency(1, Some(9), None)]).is_err());
    }
}
