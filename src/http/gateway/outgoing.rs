//! The request's header fields as the upstream receives them. Dropped: the hop-by-hop fields
//! and every field `Connection` names (RFC 9110 §7.6.1), every `X-Cutover-*` field a client
//! sent (only the gateway speaks that family), the key path's `X-API-KEY`, the client's
//! `Authorization` unless the route forwards it, `Expect` (the gateway answered it), and the
//! forwarding fields, which are rebuilt from what the trusted proxies said. Added: `Via`, the
//! forwarding fields, the verified identity and its assertion, the upstream's own static key.

use std::collections::HashSet;
use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::Version;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::common::proxy_headers::{SET_BY_GATEWAY, connection_named, is_hop_by_hop_name};
use crate::config::UpstreamSettings;
use crate::gateway::identity::{self, Identity};
use crate::ratelimit::client_ip::TrustedProxies;

/// What the gateway hands the upstream besides the client's own fields.
pub struct Handed<'a> {
    pub identity: Option<&'a Identity>,
    pub assertion: Option<&'a str>,
    pub request_id: &'a str,
    pub upstream_key: Option<(&'a str, &'a str)>,
}

/// The `Via` pseudonym of this gateway (RFC 9110 §7.6.3): no host name, no version.
const PSEUDONYM: &str = "cutover";

/// Writes the upstream request's fields into `out`.
pub fn write(
    req: &HttpRequest,
    upstream: &UpstreamSettings,
    proxies: &TrustedProxies,
    handed: &Handed<'_>,
    out: &mut HeaderMap,
) {
    let headers = req.headers();
    let named: HashSet<String> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(connection_named)
        .collect();
    for (name, value) in headers.iter() {
        let n = name.as_str();
        let dropped = is_hop_by_hop_name(n)
            || named.contains(n)
            || identity::is_family(n)
            || SET_BY_GATEWAY.contains(&n)
            || *name == header::CONTENT_LENGTH
            || *name == header::PROXY_AUTHORIZATION
            || *name == header::VIA
            || (*name == header::HOST && !upstream.preserve_host)
            || (*name == header::AUTHORIZATION && !upstream.forward_authorization);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    via(req, out);
    forwarded(req, proxies, out);
    if let Some(identity) = handed.identity {
        for (name, value) in identity.headers() {
            put(out, name, value);
        }
    }
    put(out, identity::REQUEST_ID, handed.request_id);
    put(out, identity::UPSTREAM, &upstream.name);
    if let Some(assertion) = handed.assertion {
        put(out, identity::ASSERTION, assertion);
    }
    if let Some((name, key)) = handed.upstream_key {
        put_named(out, name, key);
    }
}

/// Sets a field of the gateway's own, named by a lowercase constant (no name parsed per
/// request); a value that would not be a valid field is left out rather than sent broken.
fn put(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        out.insert(HeaderName::from_static(name), value);
    }
}

/// Sets a field whose name comes from the configuration (the upstream key's header, checked
/// at start).
fn put_named(out: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        out.insert(name, value);
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `Via` on a request: the fields already there, and this hop.
fn via(req: &HttpRequest, out: &mut HeaderMap) {
    via_after(req.headers(), req.version(), out);
}

/// `Via` on an upstream's answer: the upstream's, and this hop.
pub fn via_of_response(headers: &HeaderMap, version: Version, out: &mut HeaderMap) {
    via_after(headers, version, out);
}

fn via_after(headers: &HeaderMap, version: Version, out: &mut HeaderMap) {
    let hop = format!("{} {PSEUDONYM}", protocol(version));
    let mut value = headers
        .get_all(header::VIA)
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    if !value.is_empty() {
        value.push_str(", ");
    }
    value.push_str(&hop);
    put(out, "via", &value);
}

/// `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded`: what a trusted proxy in front said,
/// followed by this hop's own observation; from anyone else, only this hop's.
fn forwarded(req: &HttpRequest, proxies: &TrustedProxies, out: &mut HeaderMap) {
    let headers = req.headers();
    let peer = req.peer_addr().map(|a| a.ip().to_canonical());
    let trusted = peer.is_some_and(|p| proxies.trusts(p));
    let joined = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect();
        (trusted && !values.is_empty()).then(|| values.join(", "))
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    // The listener speaks plain HTTP: a TLS front (the load balancer) says otherwise, trusted.
    let proto = joined("x-forwarded-proto")
        .and_then(|p| {
            let first = p
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            matches!(first.as_str(), "http" | "https").then_some(first)
        })
        .unwrap_or_else(|| "http".to_string());
    if let Some(peer) = peer {
        let mut xff = joined("x-forwarded-for").unwrap_or_default();
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        xff.push_str(&peer.to_string());
        put(out, "x-forwarded-for", &xff);
    }
    put(out, "x-forwarded-proto", &proto);
    let forwarded_host = joined("x-forwarded-host").unwrap_or_else(|| host.clone());
    if !forwarded_host.is_empty() {
        put(out, "x-forwarded-host", &forwarded_host);
    }
    let mut element = match peer {
        Some(IpAddr::V6(v6)) => format!("for=\"[{v6}]\""),
        Some(ip) => format!("for={ip}"),
        None => "for=unknown".to_string(),
    };
    element.push_str(&format!(";proto={proto}"));
    if !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        element.push_str(&format!(";host=\"{host}\""));
    }
    let value = match joined("forwarded") {
        Some(before) => format!("{before}, {element}"),
        None => element,
    };
    put(out, "forwarded", &value);
}
