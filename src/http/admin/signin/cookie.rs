//! The console's cookies. The session's: `__Host-cutover-console` with `Secure` on an `https`
//! console, `cutover-console` without it on a loopback `http` one (browsers refuse `Secure` and
//! `__Host-` there), always `HttpOnly; SameSite=Strict; Path=/`; its value is the session id and
//! its HMAC-SHA256 under the session key, checked in constant time, so a forged or tampered
//! value, or one of another instance's store, never reaches the store. The sign-in's
//! (`…-signin`) holds the pending `state` for ten minutes; it is `SameSite=Lax`, because the
//! callback is a navigation from the issuer's site, which a `Strict` cookie would miss.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

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

/// The session's cookie (a browser-session cookie: the server ends it).
pub fn session(jar: Jar, value: &str) -> Cookie<'static> {
    built(jar, jar.session, value, SameSite::Strict, None)
}

/// The pending sign-in's cookie, holding its `state` for ten minutes.
pub fn pending(jar: Jar, state: &str) -> Cookie<'static> {
    built(jar, jar.pending, state, SameSite::Lax, Some(600))
}

/// The cookie that removes `name` (empty, expired, with the attributes it was set with).
pub fn removal(jar: Jar, name: &'static str, same_site: SameSite) -> Cookie<'static> {
    built(jar, name, "", same_site, Some(0))
}

fn built(
    jar: Jar,
    name: &'static str,
    value: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value.to_string())
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(jar.secure)
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(Duration::seconds(secs));
    }
    c
}

/// The value of cookie `name` in the request's `Cookie` headers (the first, if repeated; an
/// unparseable cookie beside it is skipped, not fatal).
pub fn read(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_string())
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
        let https = session(HTTPS, "v").to_string();
        for attribute in ["; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"] {
            assert!(https.contains(attribute), "{https}");
        }
        assert!(!session(LOOPBACK, "v").to_string().contains("Secure"));
        let pending = pending(LOOPBACK, "s").to_string();
        assert!(pending.contains("; SameSite=Lax") && pending.contains("; Max-Age=600"));
        assert!(
            removal(HTTPS, HTTPS.session, SameSite::Strict)
                .to_string()
                .contains("; Max-Age=0")
        );
        assert_eq!(host_of("http://[::1]:9090"), "[::1]");
        assert_eq!(host_of("http://127.0.0.1:9090"), "127.0.0.1");
    }
}
