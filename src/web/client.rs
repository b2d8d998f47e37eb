//! Who is rating, for the rate limits and the abuse hash: the first-party client cookie,
//! and the client's address (from `X-Forwarded-For` only when the peer is one of
//! `HAILONG_TRUSTED_PROXIES`). What is done with them is [`crate::collect::intake`]'s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use ipnet::IpNet;

use super::AppState;
use super::error::Result;
use crate::collect::intake::{COOKIE_LEN, Secret};
use crate::collect::limit::Client;

/// The client cookie's name. Its value is 128 random bits and the server's signature of
/// them, nothing else.
pub const COOKIE_NAME: &str = "hl_c";

/// The caller of a citizen endpoint.
pub use crate::collect::intake::Rater as Who;

impl FromRequestParts<AppState> for Who {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Without the secret (the database is down) no cookie can be checked: the address
        // is the client, and nothing will be stored anyway.
        let keys = state.intake.keys().await.ok();
        Ok(identify(
            &parts.headers,
            peer,
            &state.config.trusted_proxies,
            keys,
        ))
    }
}

/// The client and its address: a cookie counts only when the server issued it.
pub fn identify(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &[IpNet],
    keys: Option<&Secret>,
) -> Who {
    let address = client_address(headers, peer, trusted);
    let issued = cookie(headers).filter(|c| keys.is_some_and(|k| k.check_cookie(c).is_some()));
    let client = match issued {
        Some(value) => Client::Device(value),
        None => Client::Address(address),
    };
    Who { client, address }
}

/// The peer, or when the peer is a trusted proxy, the right-most untrusted address of
/// `X-Forwarded-For` (addresses to its left were written by the client and prove nothing).
fn client_address(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut address = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => address = ip,
            Ok(ip) => return ip,
            // Garbage in the header: trust nothing further left.
            Err(_) => return address,
        }
    }
    address
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    super::cookies::read(headers, COOKIE_NAME, COOKIE_LEN)
}

/// A `Set-Cookie` value giving a new client its signed cookie (a year, first party, not
/// readable by scripts).
pub fn new_cookie(keys: &Secret, secure: bool) -> Result<HeaderValue> {
    super::cookies::set(COOKIE_NAME, &keys.new_cookie()?, 31_536_000, secure)
}

/// Adds the client cookie to `res` when the caller has none the server issued.
pub async fn give_cookie(state: &AppState, who: &Who, res: &mut axum::response::Response) {
    if who.has_cookie() {
        return;
    }
    let secure = state.config.public_url.starts_with("https://");
    if let Ok(keys) = state.intake.keys().await
        && let Ok(value) = new_cookie(keys, secure)
    {
        res.headers_mut().append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 5.6.7.8, 10.0.0.9")]);
        // From an untrusted peer the header is ignored.
        assert_eq!(
            identify(&h, Some(ip("9.9.9.9")), &trusted, None).address,
            ip("9.9.9.9")
        );
        // From a trusted proxy: the right-most untrusted hop (1.2.3.4 could be forged).
        assert_eq!(
            identify(&h, Some(ip("10.1.1.1")), &trusted, None).address,
            ip("5.6.7.8")
        );
        let h = headers(&[("x-forwarded-for", "garbage, 10.0.0.9")]);
        assert_eq!(
            identify(&h, Some(ip("10.1.1.1")), &trusted, None).address,
            ip("10.0.0.9")
        );
        assert_eq!(
            identify(&HeaderMap::new(), None, &trusted, None).address,
            ip("0.0.0.0")
        );
    }

    #[test]
    fn only_cookies_the_server_issued_identify_a_device() {
        let keys = Secret::new(b"a test secret").unwrap();
        let cookie = new_cookie(&keys, true).unwrap();
        let text = cookie.to_str().unwrap();
        assert!(
            text.contains("HttpOnly") && text.contains("Secure") && text.contains("SameSite=Lax")
        );
        let good = text.split(';').next().unwrap().split('=').nth(1).unwrap();
        let h = headers(&[("cookie", &format!("x=1; {COOKIE_NAME}={good}"))]);
        assert_eq!(
            identify(&h, None, &[], Some(&keys)).client,
            Client::Device(good.to_string())
        );
        // Without the secret nothing can be checked.
        assert!(!identify(&h, Some(ip("1.1.1.1")), &[], None).has_cookie());
        // Forged, foreign, old-style or malformed cookies count as none.
        let other = Secret::new(b"another secret").unwrap();
        let foreign = new_cookie(&other, false).unwrap();
        let foreign = foreign
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split('=')
            .nth(1)
            .unwrap()
            .to_string();
        let forged = format!("{}{}", &good[..22], "0".repeat(24));
        for bad in [
            forged.as_str(),
            foreign.as_str(),
            "AbCdEfGhIjKlMnOpQrSt_-",
            "short",
            "",
        ] {
            let h = headers(&[("cookie", &format!("{COOKIE_NAME}={bad}"))]);
            assert!(
                !identify(&h, Some(ip("1.1.1.1")), &[], Some(&keys)).has_cookie(),
                "{bad}"
            );
        }
        assert_eq!(cookie_from(good), Some(good.to_string()));
    }

    fn cookie_from(value: &str) -> Option<String> {
        cookie(&headers(&[("cookie", &format!("{COOKIE_NAME}={value}"))]))
    }
}
