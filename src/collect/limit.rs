//! Limits on ratings per client per link (`HAILONG_RATE_LIMIT`, default `5/600`).
//!
//! A client is the cookie the server issued it when it sends one, its address otherwise
//! (an IPv6 address by its /64). Many citizens share one desk's Wi-Fi address, so an
//! address carries two limits:
//!
//! - as a client (no cookie): the per-client limit, like a device;
//! - as the sum of all its devices (with cookies): [`ADDRESS_FACTOR`] times that limit, a
//!   ceiling that a bot clearing or forging its cookies still meets.
//!
//! A kiosk link (the flag on the link, not the `?kiosk=1` parameter a citizen can add) is
//! one device that every citizen uses, so only the address ceiling applies to it.
//!
//! Only stored ratings count, in sliding windows of at most a day. The counting is
//! [`super::integrity::Ledger`]'s, inside the transaction that stores the rating, so the
//! limits hold across every app server of one database.

use std::net::IpAddr;
use std::time::Duration;

/// The address ceiling is this many times the per-client limit.
pub const ADDRESS_FACTOR: u32 = 10;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_setting() {
        assert_eq!(RateLimit::parse("5/600").unwrap(), Some(RateLimit::DEFAULT));
        assert_eq!(RateLimit::parse(" OFF ").unwrap(), None);
        for bad in ["", "5", "0/600", "5/0", "five/600", "-1/60", "5/600/1"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }
}
