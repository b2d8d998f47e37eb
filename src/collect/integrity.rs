//! Trust in the figures (API.md, "Trust in the figures"): the rules that hold a rating out
//! of the figures (`burst`, `fast`, `repeat`), and the rate limits, checked by the single
//! writer of each server inside the transaction that stores the rating.
//!
//! Why that is exact across several app servers: every writer of responses locks the chain
//! head first (`store::lock_head`, `FOR UPDATE` on PostgreSQL), so the transactions that
//! store ratings follow one another, and each sees every rating committed before it. The
//! [`Ledger`] keeps what it needs of each link's recent ratings in memory (bounded: the
//! newest instants, per-client counts of the day); before judging a batch it
//! reads what other writers stored since its own last batch (the responses with a higher
//! id than the one it last wrote), so it judges exactly as a recount of the database would,
//! at the cost of one small query per batch (none when no other writer wrote).
//!
//! A rating that trips a rule is stored and held, and its sender gets the same answer as
//! for any other: nothing tells a stuffer what tripped. Only the rate limit refuses (429).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use entity::{response, setting};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::limit::{ADDRESS_FACTOR, RateLimit};
use crate::app::Context;
use crate::domain::{Invalid, Role};
use crate::error::{Error, Result};
use crate::govern::audit;

/// The settings key of the rules.
const RULES_KEY: &str = "integrity_rules";
/// How far back a link's ratings are kept: every window is at most a day.
const KEEP: TimeDelta = TimeDelta::days(1);
/// Past this many links in memory, links without a rating in the last day are dropped.
const SWEEP_AT: usize = 20_000;
/// Past this many ratings stored by other writers since the last batch, the ledger starts
/// afresh instead of reading them all.
const MAX_DELTA: i64 = 50_000;

/// The rules (API.md). A value of 0 turns its rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rules {
    /// `burst`: a link that has stored this many ratings in the window holds the next.
    pub burst_max: u32,
    /// The burst window, in seconds (at most a day).
    pub burst_window_s: u32,
    /// `fast`: a form sent sooner than this many seconds after it was shown is held.
    pub min_seconds: u32,
    /// `repeat`: a client that has stored this many ratings on a link this local day has
    /// the next held.
    pub repeat_max: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            burst_max: 20,
            burst_window_s: 600,
            min_seconds: 3,
            repeat_max: 3,
        }
    }
}

impl Rules {
    /// The largest value each rule takes; more is a mistake, not a policy.
    const MAX: [(&'static str, u64); 4] = [
        ("burst_max", 100_000),
        ("burst_window_s", 86_400),
        ("min_seconds", 3_600),
        ("repeat_max", 10_000),
    ];

    /// The four rules from a JSON object: each a whole number from 0 to its maximum, none
    /// missing, nothing else (422 `invalid_rules`).
    pub fn parse(body: &serde_json::Value) -> Result<Self, Invalid> {
        let invalid = |m: String| Invalid::new("invalid_rules", m);
        let object = body
            .as_object()
            .ok_or_else(|| invalid("send the rules as a JSON object".into()))?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !Self::MAX.iter().any(|(name, _)| name == k))
        {
            return Err(invalid(format!("there is no rule {unknown:?}")));
        }
        let mut values = [0u32; 4];
        for ((name, max), slot) in Self::MAX.iter().zip(values.iter_mut()) {
            let value = object
                .get(*name)
                .ok_or_else(|| invalid(format!("{name} is missing")))?;
            *slot = value
                .as_u64()
                .filter(|v| v <= max)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| invalid(format!("{name} is a whole number from 0 to {max}")))?;
        }
        let [burst_max, burst_window_s, min_seconds, repeat_max] = values;
        Ok(Self {
            burst_max,
            burst_window_s,
            min_seconds,
            repeat_max,
        })
    }

    /// The rules in force: the stored ones, else the defaults.
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self, DbErr> {
        let stored = setting::Entity::find_by_id(RULES_KEY.to_string())
            .one(conn)
            .await?;
        Ok(stored
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s.value).ok())
            .and_then(|v| Self::parse(&v).ok())
            .unwrap_or_default())
    }

    fn burst_window(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.burst_window_s))
    }
}

/// The rules in force (any signed-in role may read them).
pub async fn get_rules(cx: &Context<'_>) -> Result<Rules> {
    Ok(Rules::load(&cx.db.read).await?)
}

/// Sets the rules (administrators), audited with the old and the new values. They apply
/// from the next batch of ratings on every server.
pub async fn put_rules(cx: &Context<'_>, body: &serde_json::Value) -> Result<Rules> {
    cx.by.require_role(&[Role::Admin])?;
    let rules = Rules::parse(body).map_err(|e| Error::invalid("rules", e))?;
    let txn = cx.db.begin_write().await?;
    let old = Rules::load(&txn).await?;
    setting::Entity::insert(setting::ActiveModel {
        key: Set(RULES_KEY.to_string()),
        value: Set(json!(rules).to_string()),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Key)
            .update_column(setting::Column::Value)
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    audit::commit(
        txn,
        &cx.by.actor,
        "integrity.rules",
        "integrity:rules",
        json!({"from": old, "to": rules}),
    )
    .await?;
    Ok(rules)
}

/// Why a rating was held.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Burst,
    Fast,
    Repeat,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::Burst, Reason::Fast, Reason::Repeat];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Burst => "burst",
            Reason::Fast => "fast",
            Reason::Repeat => "repeat",
        }
    }

    /// The reasons as stored: `burst,repeat`.
    pub fn join(reasons: &[Reason]) -> String {
        reasons
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The stored reasons, in order; unknown words are skipped.
    pub fn split(stored: &str) -> Vec<Reason> {
        stored
            .split(',')
            .filter_map(|w| Reason::ALL.into_iter().find(|r| r.as_str() == w))
            .collect()
    }
}

/// The link a rating came through, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via {
    pub link: i64,
    pub kiosk: bool,
    pub single_use: bool,
}

/// Who rated, as the rules see it: the day's keyed hash of the cookie the server issued
/// (`device`), else of the address (`address`, an IPv6 address by its /64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaterKeys {
    pub address: String,
    pub device: Option<String>,
}

impl RaterKeys {
    /// The client: its device when it has one, else its address.
    fn client(&self) -> &str {
        self.device.as_deref().unwrap_or(&self.address)
    }
}

/// What the ledger says of one rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not stored: the client reached its rate limit; it may try again after this long.
    Limited(Duration),
    /// Stored; held for these reasons (counted when there are none).
    Take(Vec<Reason>),
}

#[derive(Debug, Clone)]
struct Entry {
    at: DateTime<Utc>,
    rater: RaterKeys,
}

/// The most stored instants kept per link: the largest `burst_max` of a kiosk.
const MAX_TIMES: usize = 300_000;
/// Past this many clients or addresses on one link, those not seen within the last
/// [`QUIET`] are dropped (and if that is not enough, all): a flood from rotating
/// addresses must not grow memory without bound. Only the `repeat` counts of that day
/// are lost, and a flood that large is held by `burst` anyway.
const MAX_CLIENTS: usize = 50_000;
const QUIET: TimeDelta = TimeDelta::minutes(10);
/// The most ratings read back per link when a ledger first meets it.
const MAX_LOAD: u64 = 200_000;

/// One client's (or address's) recent ratings on a link.
#[derive(Debug, Default)]
struct Seen {
    /// The newest instants, at most as many as its limit counts.
    times: VecDeque<DateTime<Utc>>,
    /// Ratings on the link's current day.
    today: u32,
}

impl Seen {
    fn record(&mut self, at: DateTime<Utc>, keep: usize) {
        self.times.push_back(at);
        while self.times.len() > keep.max(1) {
            self.times.pop_front();
        }
        self.today += 1;
    }

    fn last(&self) -> Option<DateTime<Utc>> {
        self.times.back().copied()
    }

    /// When its `max`-th newest rating lies within `window` of `now`: how long until it
    /// leaves.
    fn wait(&self, max: u32, window: TimeDelta, now: DateTime<Utc>) -> Option<TimeDelta> {
        let max = max as usize;
        if max == 0 || self.times.len() < max {
            return None;
        }
        let oldest = self.times[self.times.len() - max];
        (now - oldest < window).then(|| window - (now - oldest))
    }
}

/// What the rules and limits need of one link's ratings, bounded whatever the traffic.
#[derive(Debug, Default)]
struct LinkLog {
    /// The local day that `today` counts.
    day: Option<NaiveDate>,
    /// Stored instants, oldest first, at most [`MAX_TIMES`].
    times: VecDeque<DateTime<Utc>>,
    /// Per client: a device, else an address.
    clients: HashMap<String, Seen>,
    /// Per address, over all its devices.
    addresses: HashMap<String, Seen>,
}

impl LinkLog {
    fn record(&mut self, at: DateTime<Utc>, day: NaiveDate, rater: &RaterKeys, keep: usize) {
        if self.day != Some(day) {
            self.day = Some(day);
            for seen in self.clients.values_mut().chain(self.addresses.values_mut()) {
                seen.today = 0;
            }
        }
        self.times.push_back(at);
        while self.times.len() > MAX_TIMES {
            self.times.pop_front();
        }
        let keep_address = keep.saturating_mul(ADDRESS_FACTOR as usize);
        self.clients
            .entry(rater.client().to_string())
            .or_default()
            .record(at, keep);
        self.addresses
            .entry(rater.address.clone())
            .or_default()
            .record(at, keep_address);
        for map in [&mut self.clients, &mut self.addresses] {
            if map.len() > MAX_CLIENTS {
                map.retain(|_, seen| seen.last().is_some_and(|t| at - t < QUIET));
                if map.len() > MAX_CLIENTS {
                    map.clear();
                }
            }
        }
    }

    fn last(&self) -> Option<DateTime<Utc>> {
        self.times.back().copied()
    }
}

/// Each link's recent ratings, as stored: what the rules and the limits count.
pub struct Ledger {
    limit: Option<RateLimit>,
    tz: Tz,
    /// The id of the last response this ledger knows of (`None`: it knows nothing yet).
    synced: Option<i64>,
    links: HashMap<i64, LinkLog>,
}

impl Ledger {
    pub fn new(limit: Option<RateLimit>, tz: Tz) -> Self {
        Self {
            limit,
            tz,
            synced: None,
            links: HashMap::new(),
        }
    }

    /// Forgets everything (after a batch that was not committed).
    pub fn reset(&mut self) {
        self.synced = None;
        self.links.clear();
    }

    /// How many instants each client keeps: what its limit counts.
    fn keep(&self) -> usize {
        self.limit.map_or(1, |l| l.max as usize)
    }

    fn add(&mut self, link: i64, entry: &Entry) {
        let day = self.local_day(entry.at);
        let keep = self.keep();
        self.links
            .entry(link)
            .or_default()
            .record(entry.at, day, &entry.rater, keep);
    }

    /// Catches up with the database as it stands under the chain lock, whose head is
    /// `head`: the ratings other writers stored since this ledger last wrote, on the links
    /// it knows; then every link of `vias` that it does not know yet, read back (its
    /// newest [`MAX_LOAD`] ratings of the last day).
    pub async fn sync(
        &mut self,
        conn: &impl ConnectionTrait,
        head: i64,
        vias: impl Iterator<Item = i64>,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        match self.synced {
            Some(last) if last == head => {}
            Some(last) if last < head && head - last <= MAX_DELTA => {
                // One query for everything stored since, whatever the link; links this
                // ledger does not know are read whole when they are first needed.
                for (link, entry) in recent(conn, None, Some(last), now).await? {
                    if self.links.contains_key(&link) {
                        self.add(link, &entry);
                    }
                }
            }
            _ => self.links.clear(),
        }
        self.synced = Some(head);
        if self.links.len() > SWEEP_AT {
            self.links
                .retain(|_, log| log.last().is_some_and(|t| now - t < KEEP));
        }
        let mut missing: Vec<i64> = vias.filter(|l| !self.links.contains_key(l)).collect();
        missing.sort_unstable();
        missing.dedup();
        for link in missing {
            self.links.insert(link, LinkLog::default());
            for (link, entry) in recent(conn, Some(link), None, now).await? {
                self.add(link, &entry);
            }
        }
        Ok(())
    }

    /// Judges one rating made `now` and, unless it is refused, counts it.
    pub fn judge(
        &mut self,
        via: Via,
        rater: &RaterKeys,
        fast: bool,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Verdict {
        let mut reasons = Vec::new();
        if via.single_use {
            // One rating at most: neither limits, bursts nor repeats can apply.
            if fast {
                reasons.push(Reason::Fast);
            }
            return Verdict::Take(reasons);
        }
        let today = self.local_day(now);
        let log = self.links.entry(via.link).or_default();
        if let Some(wait) = self.limit.and_then(|l| limited(log, via, rater, l, now)) {
            return Verdict::Limited(wait);
        }
        let burst_max = if via.kiosk {
            rules.burst_max.saturating_mul(3)
        } else {
            rules.burst_max
        } as usize;
        if burst_max > 0 && rules.burst_window_s > 0 && log.times.len() >= burst_max {
            let nth = log.times[log.times.len() - burst_max];
            if now - nth < rules.burst_window() {
                reasons.push(Reason::Burst);
            }
        }
        if fast {
            reasons.push(Reason::Fast);
        }
        if rules.repeat_max > 0 && log.day == Some(today) {
            let same = log.clients.get(rater.client()).map_or(0, |s| s.today);
            if same >= rules.repeat_max {
                reasons.push(Reason::Repeat);
            }
        }
        let entry = Entry {
            at: now,
            rater: rater.clone(),
        };
        self.add(via.link, &entry);
        Verdict::Take(reasons)
    }

    /// After the batch that ends with response `last` was stored.
    pub fn wrote(&mut self, last: i64) {
        self.synced = Some(last);
    }

    fn local_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }
}

/// How long the client must wait, when it has reached a limit: its own (devices and
/// address-only clients, not on kiosks) and its address's ceiling over all its devices
/// ([`ADDRESS_FACTOR`] times; kiosks and devices).
fn limited(
    log: &LinkLog,
    via: Via,
    rater: &RaterKeys,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let window = TimeDelta::from_std(limit.window).unwrap_or(KEEP).min(KEEP);
    let mut wait = TimeDelta::zero();
    if !via.kiosk
        && let Some(w) = log
            .clients
            .get(rater.client())
            .and_then(|s| s.wait(limit.max, window, now))
    {
        wait = wait.max(w);
    }
    if (via.kiosk || rater.device.is_some())
        && let Some(w) = log
            .addresses
            .get(&rater.address)
            .and_then(|s| s.wait(limit.max.saturating_mul(ADDRESS_FACTOR), window, now))
    {
        wait = wait.max(w);
    }
    (wait > TimeDelta::zero()).then(|| {
        wait.to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1))
    })
}

/// The ratings through links in the last day: on `link` (every link when `None`), only
/// those after response `after` when given, else the newest [`MAX_LOAD`]; oldest first.
async fn recent(
    conn: &impl ConnectionTrait,
    link: Option<i64>,
    after: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Entry)>, DbErr> {
    let mut q = response::Entity::find()
        .select_only()
        .column(response::Column::LinkId)
        .column(response::Column::ReceivedAt)
        .column(response::Column::ClientHash)
        .column(response::Column::DeviceHash)
        .filter(match link {
            Some(link) => response::Column::LinkId.eq(link),
            None => response::Column::LinkId.is_not_null(),
        })
        .filter(response::Column::ReceivedAt.gt(now - KEEP));
    q = match after {
        Some(after) => q
            .filter(response::Column::Id.gt(after))
            .order_by_asc(response::Column::Id),
        None => q.order_by_desc(response::Column::Id).limit(MAX_LOAD),
    };
    type Row = (Option<i64>, DateTime<Utc>, Option<String>, Option<String>);
    let mut rows: Vec<Row> = q.into_tuple().all(conn).await?;
    if after.is_none() {
        rows.reverse();
    }
    Ok(rows
        .into_iter()
        .filter_map(|(link, at, address, device)| {
            Some((
                link?,
                Entry {
                    at,
                    rater: RaterKeys {
                        address: address.unwrap_or_default(),
                        device,
                    },
                },
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rater(a: &str, d: Option<&str>) -> RaterKeys {
        RaterKeys {
            address: a.into(),
            device: d.map(Into::into),
        }
    }

    const VIA: Via = Via {
        link: 1,
        kiosk: false,
        single_use: false,
    };

    fn ledger() -> Ledger {
        Ledger::new(None, "Asia/Ho_Chi_Minh".parse().unwrap())
    }

    fn t0() -> DateTime<Utc> {
        // 09:00 in Hanoi.
        Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
    }

    #[test]
    fn rules_parse_whole_numbers_in_range_only() {
        let ok =
            json!({"burst_max": 0, "burst_window_s": 86400, "min_seconds": 3, "repeat_max": 10000});
        assert_eq!(Rules::parse(&ok).unwrap().burst_window_s, 86_400);
        for bad in [
            json!({"burst_max": -1, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_max": 2.5, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_max": 20, "burst_window_s": 86401, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_max": 100001, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_max": "20", "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_window_s": 600, "min_seconds": 3, "repeat_max": 3}),
            json!({"burst_max": 20, "burst_window_s": 600, "min_seconds": 3, "repeat_max": 3, "x": 1}),
            json!([1, 2]),
        ] {
            assert_eq!(
                Rules::parse(&bad).unwrap_err().code,
                "invalid_rules",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_honest_busy_desk_stays_counted_and_the_twenty_first_is_a_burst() {
        let mut l = ledger();
        let rules = Rules::default();
        for i in 0..20 {
            let who = rater(&format!("a{i}"), None);
            let at = t0() + TimeDelta::seconds(i * 25);
            assert_eq!(l.judge(VIA, &who, false, &rules, at), Verdict::Take(vec![]));
        }
        let at = t0() + TimeDelta::seconds(20 * 25);
        assert_eq!(
            l.judge(VIA, &rater("z", None), false, &rules, at),
            Verdict::Take(vec![Reason::Burst])
        );
        // Ten minutes after the first, the window has room again.
        let later = t0() + TimeDelta::seconds(600 + 25);
        assert_eq!(
            l.judge(VIA, &rater("y", None), false, &rules, later),
            Verdict::Take(vec![])
        );
        // A kiosk takes three times as many.
        let kiosk = Via {
            link: 2,
            kiosk: true,
            ..VIA
        };
        for i in 0..60 {
            let v = l.judge(
                kiosk,
                &rater("k", Some(&format!("d{i}"))),
                false,
                &rules,
                t0(),
            );
            assert_eq!(v, Verdict::Take(vec![]), "{i}");
        }
        assert_eq!(
            l.judge(kiosk, &rater("k", Some("x")), false, &rules, t0()),
            Verdict::Take(vec![Reason::Burst])
        );
    }

    #[test]
    fn the_fourth_rating_of_a_client_in_a_day_is_a_repeat() {
        let mut l = ledger();
        let rules = Rules::default();
        let me = rater("a", Some("phone"));
        for h in 0..3 {
            let at = t0() + TimeDelta::hours(h);
            assert_eq!(l.judge(VIA, &me, false, &rules, at), Verdict::Take(vec![]));
        }
        let at = t0() + TimeDelta::hours(4);
        assert_eq!(
            l.judge(VIA, &me, true, &rules, at),
            Verdict::Take(vec![Reason::Fast, Reason::Repeat])
        );
        // Another device on the same address is another client; the next local day is a new day.
        assert_eq!(
            l.judge(VIA, &rater("a", Some("tablet")), false, &rules, at),
            Verdict::Take(vec![])
        );
        let tomorrow = t0() + TimeDelta::hours(16);
        assert_eq!(
            l.judge(VIA, &me, false, &rules, tomorrow),
            Verdict::Take(vec![])
        );
        // Rules at 0 are off.
        let off = Rules {
            burst_max: 0,
            repeat_max: 0,
            ..rules
        };
        assert_eq!(
            l.judge(VIA, &me, false, &off, tomorrow),
            Verdict::Take(vec![])
        );
    }

    #[test]
    fn limits_refuse_and_say_how_long_to_wait() {
        let mut l = Ledger::new(
            Some(RateLimit {
                max: 2,
                window: Duration::from_secs(600),
            }),
            "Asia/Ho_Chi_Minh".parse().unwrap(),
        );
        let rules = Rules {
            burst_max: 0,
            repeat_max: 0,
            ..Rules::default()
        };
        let me = rater("a", None);
        l.judge(VIA, &me, false, &rules, t0());
        l.judge(VIA, &me, false, &rules, t0() + TimeDelta::seconds(100));
        assert_eq!(
            l.judge(VIA, &me, false, &rules, t0() + TimeDelta::seconds(200)),
            Verdict::Limited(Duration::from_secs(400))
        );
        // Fresh devices on one address meet the address's ceiling (10 × 2).
        let taken = (0..40)
            .filter(|i| {
                let d = rater("b", Some(&format!("d{i}")));
                matches!(l.judge(VIA, &d, false, &rules, t0()), Verdict::Take(_))
            })
            .count();
        assert_eq!(taken, 20);
        // Single-use links are never limited.
        let once = Via {
            single_use: true,
            ..VIA
        };
        assert_eq!(
            l.judge(once, &me, false, &rules, t0()),
            Verdict::Take(vec![])
        );
    }

    #[test]
    fn reasons_round_trip_as_stored() {
        let all = vec![Reason::Burst, Reason::Fast, Reason::Repeat];
        assert_eq!(Reason::join(&all), "burst,fast,repeat");
        assert_eq!(Reason::split("burst,fast,repeat"), all);
        assert_eq!(Reason::split(""), vec![]);
    }

    proptest::proptest! {
        /// Against a naive recount of every stored rating: the same verdict for each.
        #[test]
        fn matches_a_naive_recount(
            steps in proptest::collection::vec((0i64..400, 0u8..4, proptest::bool::ANY, proptest::bool::ANY), 1..120),
            burst_max in 0u32..6,
            repeat_max in 0u32..4,
        ) {
            let limit = RateLimit { max: 3, window: Duration::from_secs(600) };
            let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
            let mut l = Ledger::new(Some(limit), tz);
            let rules = Rules { burst_max, burst_window_s: 300, min_seconds: 0, repeat_max };
            let mut stored: Vec<(DateTime<Utc>, RaterKeys)> = Vec::new();
            let mut now = t0();
            for (dt, who, device, kiosk) in steps {
                now += TimeDelta::minutes(dt) / 10;
                let rater = rater(&format!("a{}", who % 2), device.then(|| format!("d{who}")).as_deref());
                let via = Via { link: 1, kiosk, single_use: false };
                let inside = |d: TimeDelta, f: &dyn Fn(&RaterKeys) -> bool| {
                    stored.iter().filter(|(t, r)| now - *t < d && f(r)).count()
                };
                let window = TimeDelta::seconds(600);
                let own = inside(window, &|r| r.client() == rater.client());
                let address = inside(window, &|r| r.address == rater.address);
                let limited = (!kiosk && own >= 3) || ((kiosk || device) && address >= 30);
                let verdict = l.judge(via, &rater, false, &rules, now);
                proptest::prop_assert_eq!(matches!(verdict, Verdict::Limited(_)), limited);
                if let Verdict::Take(reasons) = verdict {
                    let max = if kiosk { burst_max * 3 } else { burst_max } as usize;
                    let burst = burst_max > 0 && inside(TimeDelta::seconds(300), &|_| true) >= max;
                    let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
                    let same_day = stored
                        .iter()
                        .filter(|(t, r)| day(*t) == day(now) && r.client() == rater.client())
                        .count();
                    let repeat = repeat_max > 0 && same_day >= repeat_max as usize;
                    proptest::prop_assert_eq!(reasons.contains(&Reason::Burst), burst);
                    proptest::prop_assert_eq!(reasons.contains(&Reason::Repeat), repeat);
                    stored.push((now, rater));
                }
            }
        }
    }
}
