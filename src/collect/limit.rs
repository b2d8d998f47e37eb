//! Limits on ratings per client per link (`HAILONG_RATE_LIMIT`, default `5/600`).
//!
//! A client is its first-party cookie when it sends one, its address otherwise. Many
//! citizens share one desk's Wi-Fi address, so an address carries two limits:
//!
//! - as a client (no cookie): the per-client limit, like a device;
//! - as the sum of all its devices (with cookies): [`ADDRESS_FACTOR`] times that limit, a
//!   ceiling that a bot clearing its cookies still meets.
//!
//! A kiosk link (the flag on the link, not the `?kiosk=1` parameter a citizen can add) is
//! one device that every citizen uses, so only the address ceiling applies to it.
//!
//! Only stored ratings count: a request takes a [`Permit`] once its input is valid, and the
//! permit gives its place back unless [`Permit::commit`] is called after the rating was
//! stored. The windows slide: a rating counts for exactly `window` after it was taken.
//! This needs reservations that can be returned, which the general-purpose GCRA limiters
//! (`governor`) do not offer, hence this small module.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The address ceiling is this many times the per-client limit.
pub const ADDRESS_FACTOR: u32 = 10;
/// Past this many tracked keys, expired ones are swept on the next request.
const SWEEP_AT: usize = 100_000;

/// `N/SECONDS`: at most N stored ratings per client per link per SECONDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl RateLimit {
    pub const DEFAULT: RateLimit = RateLimit {
        max: 5,
        window: Duration::from_secs(600),
    };

    /// `5/600`, or `off` (no limit: `None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad =
            || format!("HAILONG_RATE_LIMIT: expected N/SECONDS (e.g. 5/600) or off, got {raw:?}");
        let (max, secs) = raw.split_once('/').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        let secs: u64 = secs.trim().parse().map_err(|_| bad())?;
        if max == 0 || secs == 0 {
            return Err(bad());
        }
        Ok(Some(Self {
            max,
            window: Duration::from_secs(secs),
        }))
    }
}

/// Who is rating, as far as limits go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// The value of the first-party client cookie.
    Device(String),
    /// No cookie: the address is the client.
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(i64, Client),
    AddressTotal(i64, IpAddr),
}

type Log = VecDeque<(Instant, u64)>;

#[derive(Default)]
struct Inner {
    logs: HashMap<Key, Log>,
}

/// The limiter shared by the form and the JSON endpoint.
#[derive(Clone)]
pub struct Limiter {
    limit: Option<RateLimit>,
    inner: Arc<Mutex<Inner>>,
    next_id: Arc<AtomicU64>,
}

/// A place taken in one or two windows; given back on drop unless committed.
pub struct Permit {
    limiter: Option<Limiter>,
    taken: Vec<Key>,
    id: u64,
}

impl Permit {
    /// The rating was stored: the place stays taken.
    pub fn commit(mut self) {
        self.limiter = None;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take()
            && let Ok(mut inner) = limiter.inner.lock()
        {
            for key in &self.taken {
                if let Some(log) = inner.logs.get_mut(key) {
                    log.retain(|(_, id)| *id != self.id);
                }
            }
        }
    }
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            inner: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    /// Takes a place for one rating by `client` from `address` on `link`, or says how long
    /// to wait. `kiosk` links skip the per-client limit.
    pub fn acquire(
        &self,
        link: i64,
        client: &Client,
        address: IpAddr,
        kiosk: bool,
        now: Instant,
    ) -> Result<Permit, Duration> {
        let Some(limit) = self.limit else {
            return Ok(Permit {
                limiter: None,
                taken: Vec::new(),
                id: 0,
            });
        };
        let mut checks = Vec::with_capacity(2);
        if !kiosk {
            checks.push((Key::Client(link, client.clone()), limit.max));
        }
        if kiosk || matches!(client, Client::Device(_)) {
            checks.push((
                Key::AddressTotal(link, address),
                limit.max.saturating_mul(ADDRESS_FACTOR),
            ));
        }
        let Ok(mut inner) = self.inner.lock() else {
            // A poisoned lock means a panic elsewhere; fail open rather than refuse citizens.
            return Ok(Permit {
                limiter: None,
                taken: Vec::new(),
                id: 0,
            });
        };
        if inner.logs.len() > SWEEP_AT {
            inner.logs.retain(|_, log| {
                log.back()
                    .is_some_and(|(at, _)| now.duration_since(*at) < limit.window)
            });
        }
        let mut wait = Duration::ZERO;
        for (key, max) in &checks {
            if let Some(log) = inner.logs.get_mut(key) {
                while log
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) >= limit.window)
                {
                    log.pop_front();
                }
                if log.len() >= *max as usize {
                    // The oldest counted rating leaves the window first.
                    let oldest = log.front().map(|(at, _)| *at).unwrap_or(now);
                    wait = wait.max(limit.window.saturating_sub(now.duration_since(oldest)));
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait.max(Duration::from_secs(1)));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut taken = Vec::with_capacity(checks.len());
        for (key, _) in checks {
            inner
                .logs
                .entry(key.clone())
                .or_default()
                .push_back((now, id));
            taken.push(key);
        }
        Ok(Permit {
            limiter: Some(self.clone()),
            taken,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn limiter(max: u32, secs: u64) -> Limiter {
        Limiter::new(Some(RateLimit {
            max,
            window: Duration::from_secs(secs),
        }))
    }

    #[test]
    fn parses_the_setting() {
        assert_eq!(RateLimit::parse("5/600").unwrap(), Some(RateLimit::DEFAULT));
        assert_eq!(RateLimit::parse(" OFF ").unwrap(), None);
        for bad in ["", "5", "0/600", "5/0", "five/600", "-1/60", "5/600/1"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_gets_its_limit_per_link_and_waits_for_the_oldest() {
        let l = limiter(2, 600);
        let t0 = Instant::now();
        let me = Client::Address(A);
        l.acquire(1, &me, A, false, t0).unwrap().commit();
        l.acquire(1, &me, A, false, t0 + Duration::from_secs(100))
            .unwrap()
            .commit();
        let wait = l
            .acquire(1, &me, A, false, t0 + Duration::from_secs(200))
            .err()
            .unwrap();
        assert_eq!(wait, Duration::from_secs(400));
        // Another link is another budget.
        assert!(l.acquire(2, &me, A, false, t0).is_ok());
        // The window slides.
        assert!(
            l.acquire(1, &me, A, false, t0 + Duration::from_secs(600))
                .is_ok()
        );
    }

    #[test]
    fn uncommitted_permits_give_their_place_back() {
        let l = limiter(1, 600);
        let t0 = Instant::now();
        let me = Client::Device("c1".into());
        drop(l.acquire(1, &me, A, false, t0).unwrap());
        l.acquire(1, &me, A, false, t0).unwrap().commit();
        assert!(l.acquire(1, &me, A, false, t0).is_err());
    }

    #[test]
    fn devices_on_one_address_share_a_higher_ceiling() {
        let l = limiter(2, 600);
        let t0 = Instant::now();
        let mut stored = 0;
        for device in 0..30 {
            let c = Client::Device(format!("d{device}"));
            for _ in 0..2 {
                if let Ok(p) = l.acquire(1, &c, A, false, t0) {
                    p.commit();
                    stored += 1;
                }
            }
        }
        assert_eq!(stored, 2 * ADDRESS_FACTOR);
        // A kiosk link skips the per-device limit, not the ceiling.
        let kiosk = Client::Device("kiosk".into());
        let taken = (0..100)
            .filter_map(|_| l.acquire(7, &kiosk, A, true, t0).ok())
            .map(Permit::commit)
            .count();
        assert_eq!(taken, 2 * ADDRESS_FACTOR as usize);
        // Off means off.
        let off = Limiter::new(None);
        assert!((0..100).all(|_| off.acquire(1, &kiosk, A, false, t0).is_ok()));
    }

    proptest! {
        /// Against a naive recount: a rating is taken iff fewer than `max` committed
        /// ratings of that client on that link lie within the window before it.
        #[test]
        fn matches_a_naive_recount(steps in proptest::collection::vec((0u64..5, 0u8..3, any::<bool>()), 1..80)) {
            let l = limiter(3, 10);
            let t0 = Instant::now();
            let mut now = 0u64;
            let mut committed: Vec<(u64, u8)> = Vec::new();
            for (dt, who, commit) in steps {
                now += dt;
                let c = Client::Address(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, who)));
                let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, who));
                let recent = committed.iter().filter(|(t, w)| *w == who && now - t < 10).count();
                let got = l.acquire(1, &c, ip, false, t0 + Duration::from_secs(now));
                prop_assert_eq!(got.is_ok(), recent < 3);
                if let Ok(p) = got && commit {
                    p.commit();
                    committed.push((now, who));
                }
            }
        }
    }
}
