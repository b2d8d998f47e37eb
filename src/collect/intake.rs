//! Taking a citizen's rating: the one use case behind the form and `POST /api/v1/responses`.
//! A valid rating made through a link is stored within the client's rate limit, with the
//! day's keyed hash of its address, by the single [`Writer`].
//!
//! No address is ever stored: responses keep at most [`ClientHasher::hash`], an HMAC of the
//! address under a secret kept in the database and the local day, so the same address gives
//! unrelated values on different days.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use chrono_tz::Tz;
use entity::{rating_link, setting};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use sha2::Sha256;
use tokio::sync::OnceCell;

use super::answers::Answers;
use super::limit::{Client, Limiter, RateLimit};
use super::store::{AlreadyUsed, Channel, Stored, Submission, Writer, local_day};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::govern::secrets;

/// The settings key of the secret behind the daily client hash.
const SECRET_KEY: &str = "client_hash_secret";

/// Who is rating: the device (its first-party cookie) or, without one, its address; and
/// the address itself, for the limits and the daily hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rater {
    pub client: Client,
    pub address: IpAddr,
}

impl Rater {
    pub fn has_cookie(&self) -> bool {
        matches!(self.client, Client::Device(_))
    }
}

/// Why a valid rating was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The single-use link was used in the meantime.
    Used,
    /// The client reached its limit; it may try again after this long.
    Limited(Duration),
}

/// The intake of ratings: the writer, the limiter and the hasher of one server process.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    writer: Writer,
    limiter: Limiter,
    hasher: ClientHasher,
    timezone: Tz,
}

impl Intake {
    /// Starts the response writer on the current runtime.
    pub fn start(db: Db, timezone: Tz, limit: Option<RateLimit>) -> Self {
        Self {
            writer: Writer::start(db.clone(), timezone),
            limiter: Limiter::new(limit),
            hasher: ClientHasher::default(),
            db,
            timezone,
        }
    }

    /// The single writer of responses.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Stores a valid rating made through `link`. `Ok(Err(_))` says why it was refused;
    /// `Err(_)` means it was not stored (and may be tried again).
    pub async fn rate(
        &self,
        rater: &Rater,
        link: &rating_link::Model,
        channel: Channel,
        answers: Answers,
    ) -> Result<Result<Stored, Refused>> {
        // A single-use link stores one rating at most: a limit per link adds nothing there.
        let permit = if link.single_use {
            None
        } else {
            match self.limiter.acquire(
                link.id,
                &rater.client,
                rater.address,
                link.kiosk,
                Instant::now(),
            ) {
                Ok(permit) => Some(permit),
                Err(wait) => {
                    metrics::counter!("hailong_rate_limited_total").increment(1);
                    return Ok(Err(Refused::Limited(wait)));
                }
            }
        };
        let mut sub = Submission::through_link(link, channel, answers);
        let (day, _) = local_day(self.timezone, sub.submitted_at);
        sub.client_hash = Some(self.hasher.hash(&self.db.write, day, rater.address).await?);
        match self.writer.submit(sub).await? {
            Ok(stored) => {
                if let Some(permit) = permit {
                    permit.commit();
                }
                Ok(Ok(stored))
            }
            Err(AlreadyUsed) => Ok(Err(Refused::Used)),
        }
    }
}

/// Makes the daily keyed hash of client addresses.
#[derive(Clone, Default)]
pub struct ClientHasher {
    secret: Arc<OnceCell<Vec<u8>>>,
}

impl ClientHasher {
    /// HMAC-SHA-256 of the local day and the address under the deployment's secret,
    /// shortened to 128 bits (hex).
    pub async fn hash(
        &self,
        conn: &impl ConnectionTrait,
        day: NaiveDate,
        address: IpAddr,
    ) -> Result<String> {
        let secret = self.secret.get_or_try_init(|| load_secret(conn)).await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(Error::internal)?;
        mac.update(format!("{day}|{address}").as_bytes());
        let digest = mac.finalize().into_bytes();
        Ok(hex::encode(&digest[..16]))
    }
}

/// The secret, made on first use. Several servers starting at once agree on the first one
/// written.
async fn load_secret(conn: &impl ConnectionTrait) -> Result<Vec<u8>> {
    setting::Entity::insert(setting::ActiveModel {
        key: Set(SECRET_KEY.to_string()),
        value: Set(secrets::random_hex(32)),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let stored = setting::Entity::find_by_id(SECRET_KEY.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| Error::internal("the client hash secret is missing"))?;
    hex::decode(stored.value).map_err(Error::internal)
}
