//! The request id: one per request, on its span and echoed in the answer's `X-Request-Id`. An
//! id a client sent is taken only from a trusted proxy (`CUTOVER_TRUSTED_PROXIES`), which is
//! where an id assigned at the edge comes from; anyone else could use it to forge or collide
//! log lines, so they get a fresh one.

use std::fmt;
use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{HeaderName, HeaderValue};

use crate::ratelimit::client_ip::TrustedProxies;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a proxy; longer ones are replaced rather than cut.
const MAX_LEN: usize = 128;

/// A request id: header-safe and log-safe (no spaces, quotes or control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// 128 random bits, as 32 lowercase hex digits.
    #[allow(
        clippy::expect_used,
        reason = "16 bytes are 32 hex digits, a header value"
    )]
    pub fn generate() -> Self {
        let mut hex = [0u8; 32];
        hex::encode_to_slice(crate::crypto::random_bytes::<16>(), &mut hex)
            .expect("32 digits for 16 bytes");
        RequestId(HeaderValue::from_bytes(&hex).expect("hex digits are a header value"))
    }

    /// An id from a proxy: 1-128 of `A-Z a-z 0-9 - _ . : / + =` (UUIDs, ULIDs, AWS trace ids).
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let b = value.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= MAX_LEN
            && b.iter().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
            });
        ok.then(|| RequestId(value.clone()))
    }

    /// The id of `req`: the one its trusted proxy sent, else a new one.
    pub fn of(req: &HttpRequest, proxies: Option<&TrustedProxies>) -> Self {
        let peer = req.peer_addr().map(|a| a.ip());
        Self::choose(peer, proxies, req.headers().get(X_REQUEST_ID))
    }

    pub fn choose(
        peer: Option<IpAddr>,
        proxies: Option<&TrustedProxies>,
        sent: Option<&HeaderValue>,
    ) -> Self {
        let trusted = match (peer, proxies) {
            (Some(ip), Some(p)) => p.trusts(ip.to_canonical()),
            _ => false,
        };
        sent.filter(|_| trusted)
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }

    #[allow(
        clippy::expect_used,
        reason = "a request id is checked, or made, visible ASCII"
    )]
    pub fn as_str(&self) -> &str {
        self.0.to_str().expect("checked to be visible ASCII")
    }

    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()])
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_generated_id_is_128_random_bits_in_hex() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn an_id_is_taken_only_from_a_trusted_proxy() {
        let sent = HeaderValue::from_static("edge-42");
        let from_proxy = RequestId::choose(ip("10.1.2.3"), Some(&proxies()), Some(&sent));
        assert_eq!(from_proxy.as_str(), "edge-42");
        let from_client = RequestId::choose(ip("192.0.2.1"), Some(&proxies()), Some(&sent));
        assert_ne!(from_client.as_str(), "edge-42");
        let mapped = RequestId::choose(ip("::ffff:10.1.2.3"), Some(&proxies()), Some(&sent));
        assert_eq!(mapped.as_str(), "edge-42");
    }

    #[test]
    fn an_unfit_id_from_a_trusted_proxy_is_replaced() {
        for bad in ["", "a b", "a\"b", &"x".repeat(129)] {
            let sent = HeaderValue::from_str(bad).unwrap();
            let id = RequestId::choose(ip("10.1.2.3"), Some(&proxies()), Some(&sent));
            assert_eq!(id.as_str().len(), 32, "{bad:?} was taken");
        }
    }
}
