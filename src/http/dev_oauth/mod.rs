//! The dev issuer's sign-in endpoints, shaped as the Cognito Hosted UI's: `/oauth2/authorize`
//! (a form that asks only a user name), `/oauth2/token` (authorization code with PKCE S256,
//! refresh token) and `/logout`. With them the photo app signs in on the embedded default with
//! no cloud; against Cognito the same app talks to the Hosted UI instead and these are off.
//!
//! The tokens are the dev issuer's, so the service's own verifier accepts them exactly as it
//! accepts `cutover token`'s.

mod page;
mod routes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::dev_issuer::DevIssuer;
use crate::config::WebSettings;
use crate::http::observe::OwnErrorBody;

use crate::auth::dev_oauth::store::Grants;
pub use routes::routes;

/// Lifetime of access and ID tokens (Cognito's default is one hour too).
pub const TOKEN_TTL_SECS: u64 = 3600;

pub struct DevOAuth {
    issuer: Arc<DevIssuer>,
    client_id: String,
    default_scope: String,
    /// Exact `redirect_uri` / `logout_uri` values; empty: the request's own origin + `/`.
    redirect_uris: Vec<String>,
    grants: Grants,
}

impl DevOAuth {
    pub fn new(issuer: Arc<DevIssuer>, web: &WebSettings) -> Self {
        DevOAuth {
            issuer,
            client_id: web.oauth_client_id.clone(),
            default_scope: web.oauth_scopes.clone(),
            redirect_uris: web.redirect_uris.clone(),
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
}

/// A token endpoint refusal, answered as RFC 6749 §5.2 says: 400 and `{"error": …}`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("invalid_client")]
    InvalidClient,
    /// A code or refresh token that is unknown, used, expired, or presented with the wrong
    /// verifier, client or redirect URI: one answer for all, so a probe learns nothing.
    #[error("invalid_grant")]
    InvalidGrant,
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("server_error")]
    Server(#[from] anyhow::Error),
}

impl OAuthError {
    fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::Server(_) => "server_error",
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({ "error": self.code() });
        match self {
            OAuthError::InvalidRequest(why) => body["error_description"] = json!(why),
            OAuthError::Server(e) => tracing::error!(error = ?e, "dev token endpoint failed"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code())
            .insert_header(("Cache-Control", "no-store"))
            .json(body);
        res.extensions_mut().insert(OwnErrorBody);
        res
    }
}
