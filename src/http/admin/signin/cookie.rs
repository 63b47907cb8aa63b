//! The console's cookies. The session's: `__Host-cutover-console` with `Secure` on an `https`
//! console, `cutover-console` without it on a loopback `http` one (browsers refuse `Secure` and
//! `__Host-` there), always `HttpOnly; SameSite=Strict; Path=/`; its value is the session id and
//! its HMAC-SHA256 under the session key, checked in constant time, so a forged or tampered
//! value, or one of another instance's store, never reaches the store. The sign-in's
//! (`…-signin`) holds the pending `state` for ten minutes; it is `SameSite=Lax`, because the
//! callback is a navigation from the issuer's site, which a `Strict` cookie would miss.

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;

use crate::crypto::{b64url, b64url_decode, hmac_sign};

/// A session id: 32 random bytes.
pub type SessionId = [u8; 32];

/// The cookies of one console origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jar {
    pub session: &'static str,
    pub pending: &'static str,
    pub secure: bool,
}

const HTTPS: Jar = Jar {
    session: "__Host-cutover-console",
    pending: "__Host-cutover-console-signin",
    secure: true,
};
const LOOPBACK: Jar = Jar {
    session: "cutover-console",
    pending: "cutover-console-signin",
    secure: false,
};

/// The host of an origin's authority, without its port (`[::1]` keeps its brackets).
pub fn host_of(origin: &str) -> &str {
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The jar of a console origin; `None` for plain `http` off loopback, where a session cookie
/// would travel in the clear.
pub fn jar(origin: &str) -> Option<Jar> {
    if origin.starts_with("https://") {
        Some(HTTPS)
    } else if origin.starts_with("http://") && is_loopback(host_of(origin)) {
        Some(LOOPBACK)
    } else {
        None
    }
}

/// The session cookie's value: the id and its tag.
pub fn seal(key: &[u8], id: &SessionId) -> String {
    format!("{}.{}", b64url(id), b64url(&hmac_sign(key, id)))
}

/// The session id of a cookie value whose tag is right, else `None`.
pub fn open(key: &[u8], value: &str) -> Option<SessionId> {
    let (id, tag) = value.split_once('.')?;
    let id: SessionId = b64url_decode(id)?.try_into().ok()?;
    let tag = b64url_decode(tag)?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&key, &id, &tag).ok()?;
    Some(id)
}

/// `Set-Cookie` for the session (a browser-session cookie: the server ends it).
pub fn set_session(jar: Jar, value: &str) -> String {
    attributes(jar, jar.session, value, "Strict", None)
}

/// `Set-Cookie` for the pending sign-in's state.
pub fn set_pending(jar: Jar, state: &str) -> String {
    attributes(jar, jar.pending, state, "Lax", Some(600))
}

/// `Set-Cookie` that removes `name`.
pub fn clear(jar: Jar, name: &str, same_site: &str) -> String {
    attributes(jar, name, "", same_site, Some(0))
}

fn attributes(jar: Jar, name: &str, value: &str, same_site: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if jar.secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The one value of cookie `name` in a request's `Cookie` headers.
pub fn read(headers: &actix_web::http::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

pub fn read_req(req: &HttpRequest, name: &str) -> Option<String> {
    read(req.headers(), name)
}

pub fn read_service(req: &ServiceRequest, name: &str) -> Option<String> {
    read(req.headers(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_opens_only_with_its_own_tag_and_key() {
        let id = [7u8; 32];
        let sealed = seal(b"key", &id);
        assert_eq!(open(b"key", &sealed), Some(id));
        assert_eq!(open(b"other", &sealed), None);
        let (head, tag) = sealed.split_once('.').unwrap();
        let tampered = format!("{}.{tag}", b64url(&[8u8; 32]));
        assert_eq!(open(b"key", &tampered), None);
        assert_eq!(open(b"key", head), None);
    }

    #[test]
    fn https_gets_the_host_prefix_and_loopback_http_no_secure() {
        assert_eq!(jar("https://console.example.com"), Some(HTTPS));
        assert_eq!(jar("http://127.0.0.1:9090"), Some(LOOPBACK));
        assert_eq!(jar("http://[::1]:9090"), Some(LOOPBACK));
        assert_eq!(jar("http://localhost:9090"), Some(LOOPBACK));
        assert_eq!(jar("http://10.0.0.5:9090"), None);
        assert!(set_session(HTTPS, "v").contains("; Secure"));
        assert!(!set_session(LOOPBACK, "v").contains("Secure"));
        assert_eq!(host_of("http://[::1]:9090"), "[::1]");
        assert_eq!(host_of("http://127.0.0.1:9090"), "127.0.0.1");
    }
}
