//! The rules a proxy keeps on header fields, by name (lowercase, as HTTP libraries keep them):
//! what never crosses a hop (RFC 9110 §7.6.1), and what the gateway itself decides. Here, not in
//! `gateway/`, because the settings refuse an upstream key header that is one of them.

/// The hop-by-hop fields RFC 9110 §7.6.1 names, and `Proxy-Connection` (never standard, still
/// sent). Every field a `Connection` header names is hop-by-hop too ([`connection_named`]).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether a field name is hop-by-hop by itself.
pub fn is_hop_by_hop_name(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The field names a `Connection` value lists (comma-separated tokens), lowercased.
pub fn connection_named(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// The family of fields that hands the verified identity to an upstream (`gateway::identity`):
/// only the gateway speaks it, so every client field of it is removed before forwarding.
pub const IDENTITY_PREFIX: &str = "x-cutover-";

/// Whether a field name is of the identity family, whatever its case.
pub fn is_identity_family(name: &str) -> bool {
    name.len() >= IDENTITY_PREFIX.len()
        && name.as_bytes()[..IDENTITY_PREFIX.len()].eq_ignore_ascii_case(IDENTITY_PREFIX.as_bytes())
}

/// Request fields the gateway sets itself from what it verified, so a client's are dropped:
/// the forwarding fields (rebuilt from the trusted proxies' word), `Expect` (the gateway answers
/// `100 Continue` itself and streams the body on), and the credentials of the key path.
pub const SET_BY_GATEWAY: &[&str] = &[
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "expect",
    "x-api-key",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_names_are_matched_whatever_their_case() {
        for name in [
            "Connection",
            "TE",
            "transfer-encoding",
            "Proxy-Connection",
            "Upgrade",
        ] {
            assert!(is_hop_by_hop_name(name), "{name}");
        }
        for name in ["content-length", "x-api-key", "authorization", "te-x"] {
            assert!(!is_hop_by_hop_name(name), "{name}");
        }
    }

    #[test]
    fn a_connection_header_names_its_fields() {
        let named: Vec<String> = connection_named(" close, X-Secret ,,Keep-Alive").collect();
        assert_eq!(named, ["close", "x-secret", "keep-alive"]);
    }
}
