//! Walking the hash chain: every stored response's hash is recomputed, in id order, from
//! the previous hash and the response's canonical text (with its answers as stored now).
//! A response or answer changed, inserted or deleted behind the application's back breaks
//! the chain at that response. The chain is global (one chain over all agencies).

use entity::{answer, chain_head, response};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::store::{GENESIS, canonical, chain_hash};

/// Responses read per query.
const PAGE: u64 = 5000;

/// What a walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every hash matches, and the chain head points at the last one.
    Intact { responses: u64 },
    /// The first response whose stored hash differs from the recomputed one.
    Broken {
        response_id: i64,
        stored: String,
        recomputed: String,
    },
    /// Every response matches, but the chain head does not point at the last one (the newest
    /// responses were deleted, or the head was edited).
    HeadMismatch { last_id: i64, head_id: i64 },
}

/// Walks the whole chain; `progress` hears the number of responses checked so far.
pub async fn verify(
    conn: &impl ConnectionTrait,
    mut progress: impl FnMut(u64),
) -> Result<ChainCheck, DbErr> {
    let mut prev = GENESIS.to_string();
    let mut last_id = 0i64;
    let mut checked = 0u64;
    loop {
        let page = response::Entity::find()
            .filter(response::Column::Id.gt(last_id))
            .order_by_asc(response::Column::Id)
            .limit(PAGE)
            .all(conn)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        let (first_id, page_last) = (page[0].id, last.id);
        let mut answers: std::collections::HashMap<i64, Vec<(String, i16)>> =
            std::collections::HashMap::new();
        for a in answer::Entity::find()
            .filter(answer::Column::ResponseId.between(first_id, page_last))
            .all(conn)
            .await?
        {
            answers
                .entry(a.response_id)
                .or_default()
                .push((a.question_key, a.value));
        }
        for r in &page {
            let recomputed = chain_hash(
                &prev,
                &canonical(r, answers.get(&r.id).map(Vec::as_slice).unwrap_or(&[])),
            );
            if recomputed != r.hash {
                return Ok(ChainCheck::Broken {
                    response_id: r.id,
                    stored: r.hash.clone(),
                    recomputed,
                });
            }
            prev = recomputed;
        }
        last_id = page_last;
        checked += page.len() as u64;
        progress(checked);
    }
    let head = chain_head::Entity::find_by_id(1).one(conn).await?;
    let (head_id, head_hash) = head
        .map(|h| (h.last_response_id, h.last_hash))
        .unwrap_or((0, GENESIS.to_string()));
    if head_id != last_id || head_hash != prev {
        return Ok(ChainCheck::HeadMismatch { last_id, head_id });
    }
    Ok(ChainCheck::Intact { responses: checked })
}
