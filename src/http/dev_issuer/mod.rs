//! The dev issuer's sign-in endpoints, shaped as the Cognito Hosted UI's: `/oauth2/authorize`
//! (a form that asks only a user name), `/oauth2/token` (authorization code with PKCE S256,
//! refresh token, and client credentials for the machine clients of `cutover dev-clients`),
//! `/oauth2/revoke` (RFC 7009: a refresh token's whole session) and `/logout`. With them the
//! photo app signs in on the embedded default with no cloud; against Cognito the same app talks
//! to the Hosted UI instead and these are off.
//!
//! The tokens are the dev issuer's, so the service's own verifier accepts them exactly as it
//! accepts `cutover token`'s.

mod client_credentials;
mod form;
mod page;
mod revoke;
mod routes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::config::Settings;
use crate::control::ControlStore;
use crate::dev_issuer::DevIssuer;
use crate::dev_issuer::revoke::Lifetime;
use crate::http::conn::observe::OwnErrorBody;
use crate::http::problem::ApiError;
use crate::ratelimit::RateLimitInfo;

use crate::dev_issuer::clients::DevClients;
use crate::dev_issuer::store::Grants;
pub use routes::routes;

/// Lifetime of access and ID tokens; `CUTOVER_JWT_MAX_LIFETIME_SECS` may not be shorter.
pub const TOKEN_TTL_SECS: u64 = crate::config::DEV_TOKEN_TTL_SECS;

pub struct DevOAuth {
    issuer: Arc<DevIssuer>,
    client_id: String,
    default_scope: String,
    /// Exact `redirect_uri` / `logout_uri` values; empty: the request's own origin + `/`.
    redirect_uris: Vec<String>,
    /// The console's callback (`CUTOVER_CONSOLE_URL` + `/console/callback`); `None`: the host
    /// the request reached, at the admin listener's port.
    console_callback: Option<String>,
    admin_port: u16,
    /// The operators' group (`CUTOVER_ADMIN_GROUP`) the form's checkbox puts a user in.
    pub(crate) operators: String,
    grants: Grants,
    /// The machine clients of the client-credentials grant.
    clients: Arc<DevClients>,
    /// Where a revoked session goes, for every instance to refuse its tokens.
    control: Arc<dyn ControlStore>,
    /// How long a revoked session's tokens can still be valid.
    lifetime: Lifetime,
}

impl DevOAuth {
    pub fn new(
        issuer: Arc<DevIssuer>,
        clients: Arc<DevClients>,
        control: Arc<dyn ControlStore>,
        settings: &Settings,
        admin_port: u16,
    ) -> Self {
        let (web, jwt) = (&settings.web, &settings.jwt);
        DevOAuth {
            issuer,
            clients,
            control,
            lifetime: Lifetime {
                max_secs: jwt.max_lifetime_secs,
                leeway_secs: jwt.leeway_secs,
            },
            client_id: web.oauth_client_id.clone(),
            default_scope: web.oauth_scopes.clone(),
            redirect_uris: web.redirect_uris.clone(),
            console_callback: settings
                .console
                .url
                .as_ref()
                .map(|url| format!("{url}{}", crate::http::admin::paths::CALLBACK_PATH)),
            admin_port,
            operators: settings.admin.group.clone(),
            grants: Grants::default(),
        }
    }

    /// Whether `uri` may receive codes (or be returned to after logout): compared exactly, as
    /// Cognito compares callback URLs, never by prefix.
    fn redirect_allowed(&self, uri: &str, own_origin: &str) -> bool {
        if self.redirect_uris.is_empty() {
            uri == format!("{own_origin}/")
        } else {
            self.redirect_uris.iter().any(|allowed| allowed == uri)
        }
    }

    /// Whether `uri` is the console's callback: `CUTOVER_CONSOLE_URL`'s, else the one on the
    /// host this request reached, at the admin listener's port. Exact, as every callback is.
    fn console_callback(&self, uri: &str, own_origin: &str) -> bool {
        let callback = crate::http::admin::paths::CALLBACK_PATH;
        match &self.console_callback {
            Some(allowed) => uri == allowed,
            None => {
                let host = crate::http::admin::signin::cookie::host_of(own_origin);
                let scheme = own_origin.split_once("://").map_or("http", |(s, _)| s);
                uri == format!("{scheme}://{host}:{}{callback}", self.admin_port)
            }
        }
    }
}

/// The largest token (or revocation) request body read; a larger one is refused with 413
/// (`invalid_request`).
pub const MAX_TOKEN_REQUEST: usize = 16 * 1024;

/// A token endpoint refusal, answered as RFC 6749 §5.2 says: 400 and `{"error": …}`, 401 for a
/// client that failed to authenticate.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Another `client_id` than the public app client's (authorization code, refresh token).
    #[error("invalid_client")]
    InvalidClient,
    /// A machine client that failed to authenticate: unknown, wrong secret, no credentials.
    /// 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2), whichever way it tried.
    #[error("invalid_client (authentication failed)")]
    ClientAuthentication,
    /// A revocation request naming no client at all: 401 as a failed authentication, with a
    /// description of what to send.
    #[error("invalid_client (no client)")]
    NoClient,
    /// A code or refresh token that is unknown, used, expired, or presented with the wrong
    /// verifier, client or redirect URI: one answer for all, so a probe learns nothing.
    #[error("invalid_grant")]
    InvalidGrant,
    /// A scope the client may not be granted.
    #[error("invalid_scope")]
    InvalidScope,
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// RFC 7009 §2.2.1: an access or ID token presented for revocation.
    #[error("unsupported_token_type")]
    UnsupportedTokenType,
    /// A body over [`MAX_TOKEN_REQUEST`].
    #[error("invalid_request: body too large")]
    TooLarge,
    /// Too many failed client authentications from this address: the gate's brake, answered
    /// as every 429 of the service is.
    #[error("rate limited")]
    Braked(RateLimitInfo),
    #[error("server_error")]
    Server(#[from] anyhow::Error),
    /// A store the request needs is out (RFC 7009 §2.2.1: 503, try again later).
    #[error("temporarily_unavailable")]
    Unavailable(anyhow::Error),
}

impl OAuthError {
    fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::TooLarge => "invalid_request",
            OAuthError::InvalidClient | OAuthError::ClientAuthentication | OAuthError::NoClient => {
                "invalid_client"
            }
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::UnsupportedTokenType => "unsupported_token_type",
            OAuthError::Braked(_) => "slow_down",
            OAuthError::Server(_) => "server_error",
            OAuthError::Unavailable(_) => "temporarily_unavailable",
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::ClientAuthentication | OAuthError::NoClient => StatusCode::UNAUTHORIZED,
            OAuthError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::Braked(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let OAuthError::Braked(info) = self {
            return ApiError::RateLimited(info.clone()).error_response();
        }
        let mut body = json!({ "error": self.code() });
        match self {
            OAuthError::InvalidRequest(why) => body["error_description"] = json!(why),
            OAuthError::TooLarge => {
                body["error_description"] = json!("the token request body is over 16 KiB")
            }
            OAuthError::InvalidScope => {
                body["error_description"] = json!("a scope asked for is not allowed to this client")
            }
            OAuthError::NoClient => {
                body["error_description"] = json!(
                    "client authentication is required: client_id in the body for a public \
                     client, HTTP Basic for a client with a secret"
                )
            }
            OAuthError::UnsupportedTokenType => {
                body["error_description"] = json!(
                    "only refresh tokens are revoked, as Cognito does: send the session's \
                     refresh token (its access and ID tokens are revoked with it)"
                )
            }
            OAuthError::Server(e) => tracing::error!(error = ?e, "dev token endpoint failed"),
            OAuthError::Unavailable(e) => {
                tracing::warn!(error = ?e, "dev issuer: a store is unavailable")
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store"));
        if let OAuthError::ClientAuthentication | OAuthError::NoClient = self {
            res.insert_header(("WWW-Authenticate", r#"Basic realm="cutover""#));
        }
        if let OAuthError::Unavailable(_) = self {
            res.insert_header(("Retry-After", "5"));
        }
        let mut res = res.json(body);
        res.extensions_mut().insert(OwnErrorBody);
        res
    }
}
