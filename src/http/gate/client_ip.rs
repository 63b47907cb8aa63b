//! The client a request comes from, as the rate limits, the refusal log and the ledger see it.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;

use crate::ratelimit::client_ip::TrustedProxies;

/// The header a trusted proxy names the client in.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address: the peer, or behind a trusted proxy the right-most untrusted hop of
/// `X-Forwarded-For` (`ratelimit::client_ip`).
pub fn client_ip(proxies: &TrustedProxies, req: &HttpRequest) -> IpAddr {
    // Without a socket (never the case over TCP) every such request shares one bucket.
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    // A line that is not text is an unreadable hop, which ends the chain there.
    let lines: Vec<&str> = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    proxies.resolve(peer, &lines)
}
