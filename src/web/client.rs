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
use super::error::{Error, Result};
use crate::collect::limit::Client;
use crate::govern::secrets;

/// The client cookie's name. Its value is 128 random bits, nothing else.
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
        Ok(identify(
            &parts.headers,
            peer,
            &state.config.trusted_proxies,
        ))
    }
}

/// The client and its address.
pub fn identify(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> Who {
    let address = client_address(headers, peer, trusted);
    let client = match cookie(headers) {
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
    super::cookies::read(headers, COOKIE_NAME, 22)
}

/// A `Set-Cookie` value giving a new client its cookie (a year, first party, not readable
/// by scripts).
pub fn new_cookie(secure: bool) -> Result<HeaderValue> {
    let value = secrets::random_token(16).map_err(Error::internal)?;
    super::cookies::set(COOKIE_NAME, &value, 31_536_000, secure)
}

/// Adds the client cookie to `res` when the caller has none.
pub fn give_cookie(who: &Who, public_url: &str, res: &mut axum::response::Response) {
    if who.has_cookie() {
        return;
    }
    if let Ok(value) = new_cookie(public_url.starts_with("https://")) {
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
            identify(&h, Some(ip("9.9.9.9")), &trusted).address,
            ip("9.9.9.9")
        );
        // From a trusted proxy: the right-most untrusted hop (1.2.3.4 could be forged).
        assert_eq!(
            identify(&h, Some(ip("10.1.1.1")), &trusted).address,
            ip("5.6.7.8")
        );
        let h = headers(&[("x-forwarded-for", "garbage, 10.0.0.9")]);
        assert_eq!(
            identify(&h, Some(ip("10.1.1.1")), &trusted).address,
            ip("10.0.0.9")
        );
        assert_eq!(
            identify(&HeaderMap::new(), None, &trusted).address,
            ip("0.0.0.0")
        );
    }

    #[test]
    fn only_well_formed_cookies_identify_a_device() {
        let good = "AbCdEfGhIjKlMnOpQrSt_-";
        let h = headers(&[("cookie", &format!("x=1; {COOKIE_NAME}={good}"))]);
        assert_eq!(
            identify(&h, None, &[]).client,
            Client::Device(good.to_string())
        );
        for bad in ["short", "AbCdEfGhIjKlMnOpQrSt_!", ""] {
            let h = headers(&[("cookie", &format!("{COOKIE_NAME}={bad}"))]);
            assert!(
                !identify(&h, Some(ip("1.1.1.1")), &[]).has_cookie(),
                "{bad}"
            );
        }
        let cookie = new_cookie(true).unwrap();
        let text = cookie.to_str().unwrap();
        assert!(
            text.contains("HttpOnly") && text.contains("Secure") && text.contains("SameSite=Lax")
        );
        let value = text.split(';').next().unwrap().split('=').nth(1).unwrap();
        assert_eq!(cookie_from(value), Some(value.to_string()));
    }

    fn cookie_from(value: &str) -> Option<String> {
        cookie(&headers(&[("cookie", &format!("{COOKIE_NAME}={value}"))]))
    }
}
