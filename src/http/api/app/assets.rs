//! The embedded files and the conditional-request check.

use actix_web::http::header::{self, HeaderMap};

/// The page, with `{{version}}` where the asset path's version goes.
pub const INDEX: &str = include_str!("assets/index.html");

/// Served under `/assets/<version>/<name>`: (name, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "auth.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/auth.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/api.js"),
    ),
    (
        "photos.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/photos.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("assets/icon.svg"),
    ),
];

/// Whether the full answer is due: no `If-None-Match`, or one that names none of `etag`
/// (RFC 9110 §13.1.2: weak comparison, so `W/"x"` matches `"x"`; `*` matches anything).
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let mut given = headers
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .peekable();
    if given.peek().is_none() {
        return true;
    }
    !given.any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_listed_etag_weak_or_strong_or_a_star_means_not_modified() {
        assert!(!none_match(&with("\"a\""), "\"a\""));
        assert!(!none_match(&with("\"b\", W/\"a\""), "\"a\""));
        assert!(!none_match(&with("*"), "\"a\""));
        assert!(none_match(&with("\"b\""), "\"a\""));
        assert!(none_match(&HeaderMap::new(), "\"a\""));
    }
}
