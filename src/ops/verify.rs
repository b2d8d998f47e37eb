//! The checks of `hailong verify`, also run at the end of `restore` and `copy`: the
//! response hash chain, walked from the first response, and every frozen annual report,
//! recomputed from the responses it covers.

use sea_orm::EntityTrait;

use crate::collect::chain::{self, ChainCheck};
use crate::db::Db;

/// What passed and what did not, one line each for the terminal.
#[derive(Debug, Default)]
pub struct Verification {
    pub passed: Vec<String>,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs every check, calling `progress` with a line now and then.
pub async fn verify(db: &Db, progress: &mut dyn FnMut(&str)) -> anyhow::Result<Verification> {
    let mut out = Verification::default();
    let started = std::time::Instant::now();
    let check = chain::verify(&db.read, |n| {
        if n % 100_000 == 0 {
            progress(&format!("checked {n} responses…"));
        }
    })
    .await?;
    match check {
        ChainCheck::Intact { responses } => out.passed.push(format!(
            "hash chain intact: {responses} responses checked in {:.1} s",
            started.elapsed().as_secs_f64()
        )),
        ChainCheck::Broken {
            response_id,
            stored,
            recomputed,
        } => out.problems.push(format!(
            "hash chain broken at response {response_id}: stored hash {stored}, \
             recomputed {recomputed}; this response or one of its answers was changed \
             outside hailong, or a response before it was removed"
        )),
        ChainCheck::HeadMismatch { last_id, head_id } => out.problems.push(format!(
            "hash chain head points at response {head_id} but the last response is \
             {last_id}: the newest responses were removed or the head was edited"
        )),
    }
    let reports = entity::annual_report::Entity::find().all(&db.read).await?;
    for stored in &reports {
        let parent = if stored.scope.is_empty() {
            "top level".to_string()
        } else {
            format!("parent {}", stored.scope)
        };
        progress(&format!(
            "verifying the frozen {} report ({parent})…",
            stored.year
        ));
        let check = crate::report::annual::verify_stored(&db.read, stored).await?;
        if check.ok {
            out.passed.push(format!(
                "frozen {} report ({parent}) verified: digest {}",
                stored.year, check.digest
            ));
        } else {
            out.problems.push(format!(
                "frozen {} report ({parent}) does not verify: stored digest {}, \
                 recomputed {}; responses it covers or the report itself were changed \
                 outside hailong",
                stored.year, check.digest, check.recomputed
            ));
        }
    }
    Ok(out)
}
