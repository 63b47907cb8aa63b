//! `POST /oauth2/revoke` (RFC 7009), shaped as Cognito's: the form body names the refresh token
//! (`token`) and the client: a public client by `client_id`, a confidential one by HTTP Basic
//! (or `client_id` and `client_secret`), as at the token endpoint, with the same 16 KiB body
//! bound and brake on failed client authentication. A valid or an unknown token is answered 200
//! with an empty body (§2.2); an access or ID token is `unsupported_token_type`, as Cognito
//! revokes refresh tokens only. What a revocation does is `dev_issuer::revoke`'s.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::form::secret_in_query;
use super::{DevOAuth, OAuthError, client_credentials};
use crate::audit::{Actor, Audit, Origin};
use crate::common::unix_now;
use crate::control::revocations::RevokeFailure;
use crate::dev_issuer::revoke::{EndError, Ended, Presented, end_session};
use crate::http::state::AppState;

/// The revocation request's form. No `Debug`: it holds a refresh token and may hold a secret.
#[derive(Deserialize)]
pub(super) struct RevokeParams {
    token: Option<String>,
    /// RFC 7009 §2.1: a hint the server may ignore, and this one does (every token is looked
    /// up as a refresh token); named so that a repeated one is refused as any parameter is.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn revoke(
    oauth: web::Data<DevOAuth>,
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RevokeParams>,
) -> Result<HttpResponse, OAuthError> {
    if secret_in_query(&req) {
        return Err(OAuthError::InvalidRequest(
            "client_secret must not be sent in the query string",
        ));
    }
    let p = form.into_inner();
    // RFC 7009 §2.1: the client first, then the token.
    let client_id = client(&oauth, &state, &req, &p).await?;
    let presented = p
        .token
        .as_deref()
        .and_then(Presented::parse)
        .ok_or(OAuthError::InvalidRequest("token is required"))?;
    let Presented::Refresh(token) = presented else {
        return Err(OAuthError::UnsupportedTokenType);
    };
    // A user ending their own session: recorded as that user, with the request's id.
    let request_id = req
        .extensions()
        .get::<crate::http::conn::request_id::RequestId>()
        .map_or_else(String::new, |id| id.as_str().to_string());
    let audit = |sub: &str| {
        Audit::new(
            state.audit.clone(),
            Actor::User {
                sub: sub.to_string(),
            },
            Origin::Request { request_id },
            state.audit_retention_days,
        )
    };
    let ended = end_session(
        &oauth.grants,
        oauth.control.as_ref(),
        audit,
        &client_id,
        token,
        oauth.lifetime,
        unix_now(),
    )
    .await;
    match ended {
        Ok(Ended::Session { sub, origin_jti }) => {
            tracing::info!(sub, origin_jti, client_id, "dev issuer: session revoked")
        }
        Ok(Ended::Unknown) => tracing::debug!(client_id, "dev issuer: revoked an unknown token"),
        Err(EndError::OtherClient) => {
            return Err(OAuthError::InvalidRequest(
                "the token was not issued to this client",
            ));
        }
        Err(EndError::NotStored(RevokeFailure::Store(e))) => {
            return Err(OAuthError::Unavailable(e.into()));
        }
        Err(EndError::NotStored(RevokeFailure::Refused(e))) => {
            return Err(OAuthError::Server(e.into()));
        }
        Err(EndError::NotRecorded(e)) => return Err(OAuthError::Unavailable(e.into())),
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// The client that asks: the public app client by its `client_id`, any other one only with
/// its secret (HTTP Basic, or `client_secret` in the form), checked as the token endpoint does.
async fn client(
    oauth: &DevOAuth,
    state: &AppState,
    req: &HttpRequest,
    p: &RevokeParams,
) -> Result<String, OAuthError> {
    let confidential =
        req.headers().contains_key(header::AUTHORIZATION) || p.client_secret.is_some();
    if confidential {
        let client =
            client_credentials::authenticate(oauth, state, req, &p.client_id, &p.client_secret)
                .await?;
        return Ok(client.id);
    }
    match p.client_id.as_deref() {
        Some(id) if id == oauth.client_id => Ok(id.to_string()),
        // A confidential client's id without its secret authenticates nobody.
        Some(_) => Err(OAuthError::ClientAuthentication),
        None => Err(OAuthError::NoClient),
    }
}
