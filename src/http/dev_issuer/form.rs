//! What the token and revocation endpoints read from a request: the token form, the refusal of a
//! secret in the query string, and the form decoding HTTP Basic credentials share with it.

use actix_web::HttpRequest;
use serde::Deserialize;

/// The token request's form. No `Debug`: it may hold a client secret.
#[derive(Deserialize)]
pub(super) struct TokenParams {
    pub(super) grant_type: Option<String>,
    pub(super) client_id: Option<String>,
    /// Client credentials in the body (RFC 6749 §2.3.1), instead of HTTP Basic.
    pub(super) client_secret: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) code: Option<String>,
    pub(super) redirect_uri: Option<String>,
    pub(super) code_verifier: Option<String>,
    pub(super) refresh_token: Option<String>,
}

/// Whether the query string carries a client secret, which it never may (RFC 6749 §2.3.1:
/// "MUST NOT be included in the request URI"): URIs end up in logs and histories.
pub(super) fn secret_in_query(req: &HttpRequest) -> bool {
    req.query_string().split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        form_decode(name).as_deref() == Some("client_secret")
    })
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
pub(super) fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}
