//! Storing responses. A response, its answers, the claim on a single-use link, the roll-up
//! counts and the hash chain are written in one transaction, and a response is never
//! updated or deleted afterwards.
//!
//! Throughput comes from group commit: concurrent submissions queue for one writer task,
//! which stores up to [`MAX_BATCH`] of them in one transaction with multi-row inserts and
//! answers each only after the commit. Imports call [`store_batch`] in their own
//! transaction.
//!
//! The hash chain is global: each response's `hash` is SHA-256 over the previous response's
//! hash and this response's canonical text ([`canonical`]). Ids are handed out in chain
//! order from the `chain_heads` row, which a writer locks (on PostgreSQL `FOR UPDATE`, so
//! several app servers extend one chain).

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::{answer, chain_head, hold, rating_link, response};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::answers::Answers;
use super::integrity::{Ledger, RaterKeys, Reason, Rules, Verdict, Via};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::rollup;
pub use crate::rollup::local_day;

/// How many submissions one transaction stores at most.
pub const MAX_BATCH: usize = 256;
/// The hash before the first response.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a rating arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Qr,
    Kiosk,
    Web,
    Paper,
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Qr => "qr",
            Channel::Kiosk => "kiosk",
            Channel::Web => "web",
            Channel::Paper => "paper",
            Channel::Api => "api",
        }
    }

    pub const ALL: [Channel; 5] = [
        Channel::Qr,
        Channel::Kiosk,
        Channel::Web,
        Channel::Paper,
        Channel::Api,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The channel as staff call it.
    pub fn name_vi(self) -> &'static str {
        match self {
            Channel::Qr => "Quét mã QR",
            Channel::Kiosk => "Kiosk tại quầy",
            Channel::Web => "Trang web",
            Channel::Paper => "Phiếu giấy",
            Channel::Api => "Hệ thống khác (API)",
        }
    }
}

/// A valid rating, ready to store.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The link it came through (ratings through a link are checked against the integrity
    /// rules when a [`Ledger`] is given).
    pub link: Option<Via>,
    pub agency_id: i64,
    pub desk_id: Option<i64>,
    pub service_id: Option<i64>,
    pub questionnaire_id: i64,
    pub channel: Channel,
    pub submitted_at: DateTime<Utc>,
    pub answers: Answers,
    /// Someone helped the citizen rate.
    pub assisted: bool,
    /// The day's keyed hash of the client's address (an IPv6 address by its /64).
    pub client_hash: Option<String>,
    /// The day's keyed hash of the cookie the server issued to the client, if it sent one.
    pub device_hash: Option<String>,
    /// When the form was shown, for the `fast` rule (`None`: not a form, or a form without
    /// its stamp); judged against the rules in force when the rating is stored.
    pub form_age: Option<FormAge>,
    /// The citizen asked for an answer ("please answer me", with a comment).
    pub want_reply: bool,
}

/// How long after it was shown a form was sent, as far as the server can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormAge {
    /// Shown at this instant (the form's signed stamp).
    ShownAt(DateTime<Utc>),
    /// The form's stamp was not one the server made: treated as sent at once.
    Forged,
}

impl FormAge {
    /// Whether a form of this age is too fast for `rules` when it arrives `now`.
    fn too_fast(self, rules: &Rules, now: DateTime<Utc>) -> bool {
        match self {
            FormAge::Forged => rules.min_seconds > 0,
            FormAge::ShownAt(at) => {
                (now - at).num_milliseconds() < i64::from(rules.min_seconds) * 1000
            }
        }
    }
}

impl Submission {
    /// A rating made now through `link`.
    pub fn through_link(link: &rating_link::Model, channel: Channel, answers: Answers) -> Self {
        Self {
            link: Some(Via {
                link: link.id,
                kiosk: link.kiosk,
                single_use: link.single_use,
            }),
            agency_id: link.agency_id,
            desk_id: link.desk_id,
            service_id: link.service_id,
            questionnaire_id: link.questionnaire_id,
            channel,
            submitted_at: crate::now(),
            answers,
            assisted: false,
            client_hash: None,
            device_hash: None,
            form_age: None,
            want_reply: false,
        }
    }

    fn rater(&self) -> RaterKeys {
        RaterKeys {
            address: self.client_hash.clone().unwrap_or_default(),
            device: self.device_hash.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    pub submitted_at: DateTime<Utc>,
    /// Why it is held out of the figures (empty: counted).
    pub held: Vec<Reason>,
    /// The case it opened, for the citizen to follow (API.md, "Closing the loop").
    pub case: Option<crate::follow::cases::OpenedCase>,
}

/// Why a valid rating was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The single-use link was used in the meantime.
    Used,
    /// The client reached its rate limit; it may try again after this long.
    Limited(Duration),
}

/// The text a response's hash covers. Instants are written with microseconds in UTC, the
/// precision both databases keep. An assisted response ends with `|assisted` (after the
/// JSON-quoted comment, so no comment can imitate it); the text of every other response is
/// what it was before the tick existed.
pub fn canonical(r: &response::Model, answers: &[(String, i16)]) -> String {
    let instant = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut sorted: Vec<_> = answers.iter().collect();
    sorted.sort();
    let answers: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "v1|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        r.id,
        opt(r.link_id),
        r.agency_id,
        opt(r.desk_id),
        opt(r.service_id),
        r.questionnaire_id,
        r.channel,
        instant(&r.submitted_at),
        instant(&r.received_at),
        answers.join(","),
        // JSON-quoted, so that no comment can imitate the separators.
        serde_json::Value::from(r.comment.clone()),
    ) + if r.assisted { "|assisted" } else { "" }
}

pub fn chain_hash(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// Locks the chain head for the rest of `txn` and returns the last response's id and hash.
/// Every writer of responses and exclusions takes this lock first, so a transaction that
/// holds it sees a still picture: nothing is stored or excluded until it ends (on SQLite
/// the single writer connection gives the same).
pub async fn lock_head(txn: &DatabaseTransaction) -> Result<(i64, String), DbErr> {
    let mut query = chain_head::Entity::find_by_id(1);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(match query.one(txn).await? {
        Some(head) => (head.last_response_id, head.last_hash),
        None => {
            chain_head::ActiveModel {
                id: Set(1),
                last_response_id: Set(0),
                last_hash: Set(GENESIS.into()),
            }
            .insert(txn)
            .await?;
            (0, GENESIS.to_string())
        }
    })
}

/// Stores `subs` inside `txn`: for each, the stored response or why it was refused. With a
/// `ledger`, ratings through links are judged by the integrity rules and the rate limits
/// (see [`super::integrity`]); without one (imports, generated data) they are all counted.
pub async fn store_batch(
    txn: &DatabaseTransaction,
    tz: Tz,
    subs: &[Submission],
    mut ledger: Option<&mut Ledger>,
) -> Result<Vec<Result<Stored, Refused>>, DbErr> {
    let (mut last_id, mut last_hash) = lock_head(txn).await?;
    let received_at = crate::now();
    let rules = match ledger.as_deref_mut() {
        Some(ledger) => {
            let links = subs
                .iter()
                .filter_map(|s| s.link.filter(|v| !v.single_use).map(|v| v.link));
            ledger.sync(txn, last_id, links, received_at).await?;
            Rules::load(txn).await?
        }
        None => Rules::default(),
    };

    let mut results = Vec::with_capacity(subs.len());
    let mut responses = Vec::new();
    let mut answers = Vec::new();
    let mut holds = Vec::new();
    let mut counts = rollup::Additions::new();
    for sub in subs {
        if let Some(Via {
            link: link_id,
            single_use: true,
            ..
        }) = sub.link
        {
            let claimed = rating_link::Entity::update_many()
                .col_expr(rating_link::Column::UsedAt, Expr::value(received_at))
                .filter(rating_link::Column::Id.eq(link_id))
                .filter(rating_link::Column::UsedAt.is_null())
                .exec(txn)
                .await?;
            if claimed.rows_affected == 0 {
                results.push(Err(Refused::Used));
                continue;
            }
        }
        let held = match (ledger.as_deref_mut(), sub.link) {
            (Some(ledger), Some(via)) => {
                let fast = sub
                    .form_age
                    .is_some_and(|age| age.too_fast(&rules, received_at));
                match ledger.judge(via, &sub.rater(), fast, &rules, received_at) {
                    Verdict::Limited(wait) => {
                        results.push(Err(Refused::Limited(wait)));
                        continue;
                    }
                    Verdict::Take(reasons) => reasons,
                }
            }
            _ => Vec::new(),
        };
        last_id += 1;
        let model = response::Model {
            id: last_id,
            link_id: sub.link.map(|v| v.link),
            agency_id: sub.agency_id,
            desk_id: sub.desk_id,
            service_id: sub.service_id,
            questionnaire_id: sub.questionnaire_id,
            channel: sub.channel.as_str().to_string(),
            submitted_at: sub.submitted_at,
            received_at,
            comment: sub.answers.comment.clone(),
            client_hash: sub.client_hash.clone(),
            hash: String::new(),
            assisted: sub.assisted,
            device_hash: sub.device_hash.clone(),
        };
        last_hash = chain_hash(&last_hash, &canonical(&model, &sub.answers.values));
        let status = if held.is_empty() {
            rollup::Status::Counted
        } else {
            holds.push(hold::ActiveModel {
                response_id: Set(last_id),
                reasons: Set(Reason::join(&held)),
                held_at: Set(received_at),
                released_at: Set(None),
                released_by: Set(None),
            });
            rollup::Status::Held
        };
        rollup::Counted {
            agency: sub.agency_id,
            desk: sub.desk_id,
            questionnaire: sub.questionnaire_id,
            submitted_at: sub.submitted_at,
            assisted: sub.assisted,
            answers: &sub.answers.values,
        }
        .add_to(&mut counts, tz, rollup::Count::one(status));
        for (key, value) in &sub.answers.values {
            answers.push(answer::ActiveModel {
                response_id: Set(last_id),
                question_key: Set(key.clone()),
                value: Set(*value),
            });
        }
        results.push(Ok(Stored {
            id: last_id,
            submitted_at: sub.submitted_at,
            held,
            case: None,
        }));
        responses.push(response::ActiveModel {
            hash: Set(last_hash.clone()),
            ..model.into()
        });
    }
    if responses.is_empty() {
        return Ok(results);
    }
    // SQLite allows 32,766 bound values per statement: 14 per response, 3 per answer.
    for chunk in responses.chunks(2000) {
        response::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in answers.chunks(8000) {
        answer::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in holds.chunks(5000) {
        hold::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    rollup::add(txn, counts).await?;
    chain_head::ActiveModel {
        id: Set(1),
        last_response_id: Set(last_id),
        last_hash: Set(last_hash),
    }
    .update(txn)
    .await?;
    if let Some(ledger) = ledger {
        ledger.wrote(last_id);
    }
    Ok(results)
}

type Reply = oneshot::Sender<Result<Result<Stored, Refused>>>;

/// How long a client is asked to wait before sending a rating again that could not be
/// stored (`Retry-After`).
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The answer to a rating that was not stored because the database failed: 503 with
/// `Retry-After`, never 201.
pub fn not_stored() -> Error {
    Error::unavailable(
        "storage_unavailable",
        "the rating could not be stored just now; please send it again in a few seconds",
    )
    .with_retry_after(RETRY_AFTER)
}

/// The single writer of responses: a handle to the task that group-commits them.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<(Submission, Reply)>,
}

impl Writer {
    /// Starts the writer task on the current runtime; it judges ratings through links
    /// with its own [`Ledger`] under `limit`.
    pub fn start(
        db: Db,
        tz: Tz,
        limit: Option<super::limit::RateLimit>,
        follow_up_days: u32,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Submission, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut ledger = Ledger::new(limit, tz);
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                write_jobs(&db, (tz, follow_up_days), &mut ledger, jobs).await;
            }
        });
        Self { tx }
    }

    /// Stores one submission; returns after its transaction committed.
    pub async fn submit(&self, sub: Submission) -> Result<Result<Stored, Refused>> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((sub, reply)).await.map_err(|_| not_stored())?;
        answer.await.map_err(|_| not_stored())?
    }
}

/// Stores a batch in one transaction and answers each job only after the commit. When the
/// batch fails, each job is tried again alone, so that one job that cannot be stored (or a
/// fault that has cleared) never costs the others their rating; a job that still fails is
/// answered with [`not_stored`].
async fn write_jobs(
    db: &Db,
    settings: (Tz, u32),
    ledger: &mut Ledger,
    jobs: Vec<(Submission, Reply)>,
) {
    let subs: Vec<Submission> = jobs.iter().map(|(s, _)| s.clone()).collect();
    let result = commit_batch(db, settings, ledger, &subs).await;
    db.health.record(&result);
    match result {
        Ok(results) => {
            for ((_, reply), result) in jobs.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) if jobs.len() == 1 => {
            // The request that waits for it logs the failure, with this cause.
            for (_, reply) in jobs {
                let _ = reply.send(Err(not_stored().caused_by(e.clone())));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = jobs.len(), "storing a batch failed; storing its ratings one by one");
            for (sub, reply) in jobs {
                let result = commit_batch(db, settings, ledger, std::slice::from_ref(&sub)).await;
                db.health.record(&result);
                let answer = match result {
                    Ok(mut results) => match results.pop() {
                        Some(result) => Ok(result),
                        None => Err(not_stored()),
                    },
                    Err(e) => Err(not_stored().caused_by(e)),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

/// One transaction. On failure it is rolled back explicitly, so that the connection goes
/// back to the pool outside any transaction (or is closed, see [`crate::db`]), and the
/// ledger, which counted ratings that were not stored, starts afresh.
async fn commit_batch(
    db: &Db,
    (tz, follow_up_days): (Tz, u32),
    ledger: &mut Ledger,
    subs: &[Submission],
) -> Result<Vec<Result<Stored, Refused>>, DbErr> {
    let stored = async {
        let txn = db.begin_write().await?;
        let stored = match store_batch(&txn, tz, subs, Some(&mut *ledger)).await {
            Ok(results) => follow_up(&txn, tz, follow_up_days, subs, results).await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(results) => {
                txn.commit().await?;
                Ok(results)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }
    .await;
    if stored.is_err() {
        ledger.reset();
    }
    stored
}

/// In the storing transaction: opens the cases of the ratings that call for one (and tells
/// each its case), and queues `rating.held` for the held ones.
pub(crate) async fn follow_up(
    txn: &DatabaseTransaction,
    tz: Tz,
    follow_up_days: u32,
    subs: &[Submission],
    mut results: Vec<Result<Stored, Refused>>,
) -> Result<Vec<Result<Stored, Refused>>, DbErr> {
    use crate::follow::{cases, webhooks};
    let mut new = Vec::new();
    let mut opening = Vec::new();
    let mut held = Vec::new();
    for (i, (sub, result)) in subs.iter().zip(&results).enumerate() {
        let Ok(stored) = result else { continue };
        let overall = sub
            .answers
            .values
            .iter()
            .find(|(k, _)| k == crate::score::OVERALL)
            .map(|(_, v)| *v);
        if cases::opens(overall, sub.want_reply, sub.answers.comment.is_some()) {
            new.push(cases::NewCase {
                response_id: stored.id,
                agency_id: sub.agency_id,
                desk_id: sub.desk_id,
                overall: overall.unwrap_or(0),
                want_reply: sub.want_reply,
                at: stored.submitted_at,
            });
            opening.push(i);
        }
        if !stored.held.is_empty() {
            let reasons: Vec<&str> = stored.held.iter().map(|r| r.as_str()).collect();
            let data = serde_json::json!({"response": stored.id, "reasons": reasons});
            held.push((sub.agency_id, data));
        }
    }
    if !held.is_empty() {
        let hooks = webhooks::subscribed(txn, webhooks::Event::RatingHeld).await?;
        webhooks::enqueue_to(txn, &hooks, webhooks::Event::RatingHeld, &held).await?;
    }
    let opened = cases::open(txn, tz, follow_up_days, &new).await?;
    for (i, case) in opening.into_iter().zip(opened) {
        if let Some(Ok(stored)) = results.get_mut(i) {
            stored.case = Some(case);
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_chain_depends_on_every_field() {
        let base = response::Model {
            id: 1,
            link_id: Some(2),
            agency_id: 3,
            desk_id: None,
            service_id: None,
            questionnaire_id: 1,
            channel: "qr".into(),
            submitted_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            received_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap(),
            comment: Some("tốt|x".into()),
            client_hash: None,
            hash: String::new(),
            assisted: false,
            device_hash: None,
        };
        let answers = vec![("overall".to_string(), 5), ("staff".to_string(), 4)];
        let h = chain_hash(GENESIS, &canonical(&base, &answers));
        let changed = [
            canonical(
                &response::Model {
                    agency_id: 4,
                    ..base.clone()
                },
                &answers,
            ),
            canonical(
                &response::Model {
                    comment: None,
                    ..base.clone()
                },
                &answers,
            ),
            canonical(
                &base,
                &[("overall".to_string(), 4), ("staff".to_string(), 4)],
            ),
        ];
        for c in changed {
            assert_ne!(chain_hash(GENESIS, &c), h);
        }
        assert_ne!(chain_hash(&h, &canonical(&base, &answers)), h);
        // The assisted tick is covered; a response without it keeps the text it had before
        // the tick existed (so older chains still verify).
        let assisted = response::Model {
            assisted: true,
            ..base.clone()
        };
        assert_ne!(chain_hash(GENESIS, &canonical(&assisted, &answers)), h);
        assert!(canonical(&base, &answers).ends_with(r#""tốt|x""#));
        assert!(canonical(&assisted, &answers).ends_with(r#""tốt|x"|assisted"#));
        // Answer order does not matter.
        let reversed: Vec<_> = answers.iter().rev().cloned().collect();
        assert_eq!(chain_hash(GENESIS, &canonical(&base, &reversed)), h);
    }
}
