//! The verified identity as an upstream receives it: one family of headers, `X-Cutover-*`, that
//! no client can set (every request header of the family is removed before forwarding), and the
//! same facts in the signed assertion (`assertion`).

use crate::auth::Caller;
use crate::domain::{AuthMethod, PrincipalKind};

pub use crate::common::proxy_headers::{
    IDENTITY_PREFIX as HEADER_PREFIX, is_identity_family as is_family,
};

/// The principal's id, as the ledger and the logs name it (`alice`, `client:cron`, `apikey:legacy`).
pub const PRINCIPAL: &str = "x-cutover-principal";
/// `user`, `client` or `key`.
pub const PRINCIPAL_KIND: &str = "x-cutover-principal-kind";
/// `jwt` or `api_key`.
pub const AUTH_METHOD: &str = "x-cutover-auth-method";
/// On the key path: the key's id (never the key).
pub const KEY_ID: &str = "x-cutover-key-id";
/// On the JWT path: the token's scopes, space-separated as in the token.
pub const SCOPES: &str = "x-cutover-scopes";
/// On the JWT path: the `iss` of the issuer that signed the token.
pub const ISSUER: &str = "x-cutover-issuer";
/// The request's id, as in `X-Request-Id` and the logs.
pub const REQUEST_ID: &str = "x-cutover-request-id";
/// The upstream's name (the route the request took).
pub const UPSTREAM: &str = "x-cutover-upstream";
/// The signed assertion (a JWT, ES256), verified against `/.well-known/jwks.json`.
pub const ASSERTION: &str = "x-cutover-assertion";

/// Who a request is, as handed on: what the headers and the assertion say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub principal: String,
    pub kind: &'static str,
    pub method: &'static str,
    pub key_id: Option<String>,
    /// The token's scopes (space-separated); `None` on the key path.
    pub scope: Option<String>,
    /// The token's issuer; `None` on the key path.
    pub issuer: Option<String>,
}

impl Identity {
    pub fn of(caller: &Caller) -> Self {
        let principal = &caller.principal;
        let (key_id, issuer) = match &principal.method {
            AuthMethod::ApiKey { key_id } => (Some(key_id.to_string()), None),
            AuthMethod::Jwt { issuer, .. } => (None, Some(issuer.to_string())),
        };
        Identity {
            principal: principal.id.as_str().to_string(),
            kind: kind_label(principal.id.kind()),
            method: principal.method.label(),
            key_id,
            scope: caller.scope.as_deref().map(str::to_string),
            issuer,
        }
    }

    /// The headers of the family this identity sets, without the request id and assertion,
    /// which the caller adds: `(name, value)`, values as they go on the wire.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            Some((PRINCIPAL, self.principal.as_str())),
            Some((PRINCIPAL_KIND, self.kind)),
            Some((AUTH_METHOD, self.method)),
            self.key_id.as_deref().map(|v| (KEY_ID, v)),
            self.scope.as_deref().map(|v| (SCOPES, v)),
            self.issuer.as_deref().map(|v| (ISSUER, v)),
        ]
        .into_iter()
        .flatten()
    }
}

/// The kind as the family names it: `user`, `client`, `key`.
pub fn kind_label(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Client => "client",
        PrincipalKind::Key => "key",
    }
}
