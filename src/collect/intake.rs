//! Taking a citizen's rating: the one use case behind the form and `POST /api/v1/responses`.
//! A valid rating made through a link is handed to the single [`Writer`], which judges it
//! by the rate limits and the integrity rules ([`super::integrity`]) in the transaction
//! that stores it, so that limits and rules hold across every app server of one database.
//!
//! No address and no cookie is ever stored: responses keep at most keyed hashes of them
//! under a secret kept in the database ([`Keys`]) and the local day, so the same client
//! gives unrelated values on different days. The same secret signs the client cookie (a
//! cookie the server did not issue counts as none) and the form's render time.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{rating_link, setting};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use sha2::Sha256;
use tokio::sync::OnceCell;

use super::answers::Answers;
use super::limit::{Client, RateLimit};
pub use super::store::Refused;
use super::store::{Channel, FormAge, Stored, Submission, Writer, local_day};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::govern::secrets;

/// The length of a client cookie's value.
pub const COOKIE_LEN: usize = 46;

/// The settings key of the deployment's secret behind the keyed hashes and signatures.
const SECRET_KEY: &str = "client_hash_secret";

/// Who is rating: the device (the cookie the server issued it) or, without one, its
/// address; and the address itself, for the limits and the daily hash.
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

/// What the citizen sent beside the answers.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// "Someone helped me rate".
    pub assisted: bool,
    /// The form's signed render time, as sent (`None`: not a form, or no stamp).
    pub stamp: Option<String>,
    /// "Please answer me" (taken only with a comment).
    pub want_reply: bool,
}

/// The intake of ratings: the writer and the keys of one server process.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    writer: Writer,
    keys: Keys,
    timezone: Tz,
    carriers: crate::org::Carriers,
}

impl Intake {
    /// Starts the response writer on the current runtime.
    pub fn start(db: Db, timezone: Tz, limit: Option<RateLimit>, follow_up_days: u32) -> Self {
        Self {
            writer: Writer::start(db.clone(), timezone, limit, follow_up_days),
            keys: Keys::default(),
            carriers: crate::org::Carriers::default(),
            db,
            timezone,
        }
    }

    /// The single writer of responses.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The deployment's keys, loaded on first use.
    pub async fn keys(&self) -> Result<&Secret> {
        self.keys.get(&self.db.write).await
    }

    /// The agency that carries `agency`'s ratings today (itself, unless it has merged or
    /// closed).
    pub async fn carrier(&self, agency: i64) -> Result<i64> {
        let (day, _) = local_day(self.timezone, crate::now());
        self.carriers.carrier(&self.db.read, agency, day).await
    }

    /// Stores a valid rating made through `link`. `Ok(Err(_))` says why it was refused;
    /// `Err(_)` means it was not stored (and may be tried again).
    pub async fn rate(
        &self,
        rater: &Rater,
        link: &rating_link::Model,
        channel: Channel,
        answers: Answers,
        extras: Extras,
    ) -> Result<Result<Stored, Refused>> {
        let keys = self.keys().await?;
        let mut sub = Submission::through_link(link, channel, answers);
        let (day, _) = local_day(self.timezone, sub.submitted_at);
        // A link of an agency that has merged or closed rates its successor.
        sub.agency_id = self
            .carriers
            .carrier(&self.db.read, sub.agency_id, day)
            .await?;
        sub.assisted = extras.assisted;
        sub.want_reply = extras.want_reply && sub.answers.comment.is_some();
        sub.client_hash = Some(keys.client_hash(day, rater.address));
        if let Client::Device(cookie) = &rater.client {
            sub.device_hash = Some(keys.device_hash(day, cookie));
        }
        sub.form_age = extras.stamp.map(|s| match keys.read_stamp(&s) {
            Some(at) => FormAge::ShownAt(at),
            None => FormAge::Forged,
        });
        let stored = self.writer.submit(sub).await?;
        match &stored {
            Ok(stored) => {
                for reason in &stored.held {
                    metrics::counter!("hailong_ratings_held_total", "reason" => reason.as_str())
                        .increment(1);
                }
            }
            Err(Refused::Limited(_)) => {
                metrics::counter!("hailong_rate_limited_total").increment(1);
            }
            Err(Refused::Used) => {}
        }
        Ok(stored)
    }
}

/// The deployment's secret, loaded once per process.
#[derive(Clone, Default)]
pub struct Keys {
    secret: Arc<OnceCell<Secret>>,
}

impl Keys {
    pub async fn get(&self, conn: &impl ConnectionTrait) -> Result<&Secret> {
        self.secret
            .get_or_try_init(|| async { Secret::new(&load_secret(conn).await?) })
            .await
    }
}

/// The secret itself: keyed hashes and signatures, each under its own label.
pub struct Secret {
    /// HMAC-SHA-256 keyed with the secret, cloned for each use.
    keyed: Hmac<Sha256>,
}

impl Secret {
    /// The secret of these bytes.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let keyed = Hmac::<Sha256>::new_from_slice(bytes).map_err(Error::internal)?;
        Ok(Self { keyed })
    }

    fn mac(&self, label: &str, data: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(label.as_bytes());
        mac.update(b"|");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA-256 of the local day and the address (an IPv6 address by its /64, which
    /// one subscriber usually holds whole), shortened to 128 bits (hex).
    pub fn client_hash(&self, day: NaiveDate, address: IpAddr) -> String {
        let network = match address {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        let digest = self.mac("address", &format!("{day}|{network}"));
        hex::encode(&digest[..16])
    }

    /// The same for the client's cookie.
    pub fn device_hash(&self, day: NaiveDate, cookie: &str) -> String {
        let digest = self.mac("device", &format!("{day}|{cookie}"));
        hex::encode(&digest[..16])
    }

    fn tag(&self, label: &str, data: &str) -> String {
        let digest = self.mac(label, data);
        hex::encode(&digest[..12])
    }

    /// A new client cookie's value ([`COOKIE_LEN`] characters): 128 random bits (22
    /// characters) and their signature (24 hex digits).
    pub fn new_cookie(&self) -> Result<String> {
        let token = secrets::random_token(16).map_err(Error::internal)?;
        let tag = self.tag("cookie", &token);
        Ok(format!("{token}{tag}"))
    }

    /// The cookie's value when the server issued it.
    pub fn check_cookie<'a>(&self, value: &'a str) -> Option<&'a str> {
        let (token, tag) = (value.get(..22)?, value.get(22..)?);
        secrets::constant_time_eq(tag, &self.tag("cookie", token)).then_some(value)
    }

    /// The form's stamp: when it was shown, signed.
    pub fn stamp(&self, at: DateTime<Utc>) -> String {
        let millis = at.timestamp_millis().to_string();
        let tag = self.tag("form", &millis);
        format!("{millis}.{tag}")
    }

    /// When the form of this stamp was shown, if the server made the stamp.
    pub fn read_stamp(&self, stamp: &str) -> Option<DateTime<Utc>> {
        let (millis, tag) = stamp.split_once('.')?;
        if !secrets::constant_time_eq(tag, &self.tag("form", millis)) {
            return None;
        }
        DateTime::from_timestamp_millis(millis.parse().ok()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let s = secret();
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(s.client_hash(day, a), s.client_hash(day, b));
        assert_ne!(s.client_hash(day, a), s.client_hash(day, other));
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(s.client_hash(day, v4), s.client_hash(day, mapped));
        let next = day.succ_opt().unwrap();
        assert_ne!(s.client_hash(day, v4), s.client_hash(next, v4));
    }

    #[test]
    fn only_cookies_and_stamps_the_server_made_are_believed() {
        let s = secret();
        let cookie = s.new_cookie().unwrap();
        assert_eq!(s.check_cookie(&cookie), Some(cookie.as_str()));
        assert_eq!(cookie.len(), COOKIE_LEN);
        let token = &cookie[..22];
        for forged in [
            token.to_string(),
            format!("{token}000000000000000000000000"),
            String::new(),
        ] {
            assert_eq!(s.check_cookie(&forged), None, "{forged}");
        }
        let other = Secret::new(b"another secret").unwrap();
        assert_eq!(other.check_cookie(&cookie), None);
        let at = DateTime::from_timestamp_millis(1_772_000_000_123).unwrap();
        let stamp = s.stamp(at);
        assert_eq!(s.read_stamp(&stamp), Some(at));
        let (millis, tag) = stamp.split_once('.').unwrap();
        let earlier = format!("{}.{tag}", millis.parse::<i64>().unwrap() - 60_000);
        assert_eq!(s.read_stamp(&earlier), None);
        assert_eq!(s.read_stamp("garbage"), None);
    }
}
