//! Settings read from the command line and the environment.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::collect::limit::RateLimit;

/// The default database: a SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hailong.db";

/// Everything the server needs to know about its deployment.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub addr: SocketAddr,
    /// Base of every link and QR code, without a trailing slash.
    pub public_url: String,
    /// The deployment's time zone: days, months and years are counted in it.
    pub timezone: chrono_tz::Tz,
    /// Ratings per client per link (`HAILONG_RATE_LIMIT`); `None` is `off`.
    pub rate_limit: Option<RateLimit>,
    /// Proxies whose `X-Forwarded-For` is believed (`HAILONG_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// Responses an agency needs for a rank (`HAILONG_MIN_RESPONSES`), unless a year's
    /// settings say otherwise.
    pub min_responses: u64,
    /// Connections held at once (`HAILONG_MAX_CONNECTIONS`); further ones wait.
    pub max_connections: usize,
    /// Sign-in attempts per address per 15 minutes (`HAILONG_LOGIN_LIMIT`).
    pub login_limit: u32,
    /// Working days an agency has to answer a case (`HAILONG_FOLLOW_UP_DAYS`).
    pub follow_up_days: u32,
}

/// The default of `HAILONG_FOLLOW_UP_DAYS`.
pub const DEFAULT_FOLLOW_UP_DAYS: u32 = 5;

/// The default of `HAILONG_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The default of `HAILONG_LOGIN_LIMIT`.
pub const DEFAULT_LOGIN_LIMIT: u32 = 20;

impl Config {
    pub fn new(database_url: String, addr: SocketAddr, public_url: Option<String>) -> Self {
        let public_url = public_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{addr}"));
        Self {
            database_url,
            addr,
            public_url,
            timezone: DEFAULT_TIMEZONE,
            rate_limit: Some(RateLimit::DEFAULT),
            trusted_proxies: Vec::new(),
            min_responses: crate::score::DEFAULT_MIN_RESPONSES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            login_limit: DEFAULT_LOGIN_LIMIT,
            follow_up_days: DEFAULT_FOLLOW_UP_DAYS,
        }
    }

    /// Reads every `HAILONG_*` setting of the server: time zone, rate limit, proxies.
    pub fn with_env(self) -> Result<Self, String> {
        let mut config = self.with_env_timezone()?;
        if let Ok(raw) = std::env::var("HAILONG_RATE_LIMIT")
            && !raw.trim().is_empty()
        {
            config.rate_limit = RateLimit::parse(&raw)?;
        }
        if let Ok(raw) = std::env::var("HAILONG_TRUSTED_PROXIES") {
            config.trusted_proxies = parse_proxies(&raw)?;
        }
        if let Ok(raw) = std::env::var("HAILONG_MIN_RESPONSES")
            && !raw.trim().is_empty()
        {
            config.min_responses = raw.trim().parse().map_err(|_| {
                format!("HAILONG_MIN_RESPONSES: {raw:?} is not a whole number of responses")
            })?;
        }
        if let Some(n) = positive_env("HAILONG_MAX_CONNECTIONS")? {
            config.max_connections = n;
        }
        if let Some(n) = positive_env("HAILONG_FOLLOW_UP_DAYS")? {
            config.follow_up_days = u32::try_from(n)
                .ok()
                .filter(|n| *n <= 60)
                .ok_or("HAILONG_FOLLOW_UP_DAYS: at most 60 working days")?;
        }
        if let Some(n) = positive_env("HAILONG_LOGIN_LIMIT")? {
            config.login_limit =
                u32::try_from(n).map_err(|_| "HAILONG_LOGIN_LIMIT: too large".to_string())?;
        }
        Ok(config)
    }

    /// Reads `HAILONG_TIMEZONE` (an IANA name such as `Asia/Ho_Chi_Minh`).
    pub fn with_env_timezone(mut self) -> Result<Self, String> {
        if let Ok(name) = std::env::var("HAILONG_TIMEZONE")
            && !name.trim().is_empty()
        {
            self.timezone = name
                .trim()
                .parse()
                .map_err(|_| format!("HAILONG_TIMEZONE: unknown time zone {name:?}"))?;
        }
        Ok(self)
    }
}

/// A whole number above zero from the environment, if set.
fn positive_env(name: &str) -> Result<Option<usize>, String> {
    match std::env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => match raw.trim().parse::<usize>() {
            Ok(n) if n > 0 && n <= 1_000_000 => Ok(Some(n)),
            _ => Err(format!(
                "{name}: {raw:?} is not a whole number from 1 to 1000000"
            )),
        },
        _ => Ok(None),
    }
}

/// A comma-separated list of addresses (`10.0.0.5`) and networks (`10.0.0.0/8`).
pub fn parse_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("HAILONG_TRUSTED_PROXIES: {s:?} is not an address or network"))
        })
        .collect()
}

pub const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

// The database URL may hold a password: never print it.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("addr", &self.addr)
            .field("public_url", &self.public_url)
            .field("timezone", &self.timezone)
            .field("rate_limit", &self.rate_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("min_responses", &self.min_responses)
            .field("follow_up_days", &self.follow_up_days)
            .finish()
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // set_password only fails for URLs that cannot have one, handled above.
            let _ = url.set_password(None);
            url.to_string()
        }
        Ok(_) => raw.to_string(),
        // Not parseable as a URL: show only the scheme, in case the rest holds a secret.
        Err(_) => raw
            .split_once("://")
            .map(|(scheme, _)| format!("{scheme}://…"))
            .unwrap_or_else(|| "(unparseable URL)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("postgres://hl:s3cret@db.example:5432/hailong"),
            "postgres://hl@db.example:5432/hailong"
        );
        assert_eq!(redact_url("sqlite://hailong.db"), "sqlite://hailong.db");
        assert!(!redact_url("postgres://hl:s3cret@[bad").contains("s3cret"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let config = Config::new(
            "postgres://hl:s3cret@localhost/hailong".into(),
            "127.0.0.1:8080".parse().unwrap(),
            None,
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let config = Config::new(
            DEFAULT_DATABASE_URL.into(),
            "127.0.0.1:8080".parse().unwrap(),
            Some("https://hailong.example.vn/".into()),
        );
        assert_eq!(config.public_url, "https://hailong.example.vn");
    }
}
