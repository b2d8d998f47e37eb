//! What keeps sign-in from being a lever against the service or its users:
//! - at most `HAILONG_LOGIN_LIMIT` failed attempts per address (IPv6: per /64) in
//!   [`WINDOW`]; past it, 429 with `Retry-After` before any hashing;
//! - password hashing runs at most one per core at a time (argon2id takes 19 MiB each);
//!   others wait in a short queue, and past [`MAX_QUEUE`] waiters or [`MAX_WAIT`] they get
//!   503 with `Retry-After`;
//! - nothing waits on a username's failures: a user's correct password is never slowed by
//!   someone else's wrong ones, and a known and an unknown username cost the same.
//!
//! The counters live in this process; with several app servers each has its own.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Failures are counted over this window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Requests waiting for a hashing slot at most.
pub const MAX_QUEUE: usize = 32;
/// How long a request waits for a hashing slot at most.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
/// Addresses remembered at most (oldest forgotten first), so a flood from many addresses
/// cannot grow memory without bound.
const MAX_ADDRESSES: usize = 100_000;

/// Why an attempt was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Too many failures from this address; try again after this long.
    Limited(Duration),
    /// Every hashing slot is taken and the queue is full.
    Overloaded,
}

pub struct LoginGuard {
    limit: usize,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    hashing: Semaphore,
    waiting: AtomicUsize,
}

impl LoginGuard {
    pub fn new(limit: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            limit: limit as usize,
            failures: Mutex::default(),
            hashing: Semaphore::new(cores),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Whether `address` may try now.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), Busy> {
        let key = key(address);
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(&key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(Busy::Limited(wait.max(Duration::from_secs(1))));
        }
        Ok(())
    }

    /// Counts a failed attempt from `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if failures.len() >= MAX_ADDRESSES {
                failures.clear();
            }
        }
        let times = failures.entry(key(address)).or_default();
        times.push_back(now);
        while times.len() > self.limit.max(1) {
            times.pop_front();
        }
    }

    /// A hashing slot, after a short wait at most.
    pub async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>, Busy> {
        if let Ok(permit) = self.hashing.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy::Overloaded);
        }
        let permit = tokio::time::timeout(MAX_WAIT, self.hashing.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy::Overloaded),
        }
    }
}

/// IPv6 clients usually hold a whole /64: count them as one.
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_limit_then_waits_for_the_window() {
        let guard = LoginGuard::new(3);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "203.0.113.8".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(guard.check(a, t0), Ok(()), "{i}");
            guard.failed(a, t0);
        }
        assert!(
            matches!(guard.check(a, t0), Err(Busy::Limited(w)) if w > Duration::from_secs(800))
        );
        assert_eq!(guard.check(b, t0), Ok(()));
        assert_eq!(guard.check(a, t0 + WINDOW), Ok(()));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let guard = LoginGuard::new(1);
        let t0 = Instant::now();
        guard.failed("2001:db8:1:2::1".parse().unwrap(), t0);
        assert!(
            guard
                .check("2001:db8:1:2:ffff::9".parse().unwrap(), t0)
                .is_err()
        );
        assert!(guard.check("2001:db8:1:3::1".parse().unwrap(), t0).is_ok());
    }

    #[tokio::test]
    async fn hashing_slots_are_bounded() {
        let guard = LoginGuard::new(20);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut held = Vec::new();
        for _ in 0..cores {
            held.push(guard.hashing_slot().await.unwrap());
        }
        assert_eq!(guard.hashing.available_permits(), 0);
        drop(held);
        assert_eq!(guard.hashing.available_permits(), cores);
    }
}
