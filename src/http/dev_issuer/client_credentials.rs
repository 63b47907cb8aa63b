//! `grant_type=client_credentials` (RFC 6749 §4.4) for the machine clients of
//! `cutover dev-clients`: the client authenticates with HTTP Basic, as Cognito's app clients
//! with a secret do, or with `client_id` and `client_secret` in the form body (§2.3.1); a
//! secret in the query string is refused before anything else (`routes.rs`). The answer is an
//! access token only: Cognito gives no refresh token for this grant.
//!
//! Failed authentications (unknown client, wrong secret) are spent from the gate's brake for the
//! client address, and a braked address is answered 429 before its secret is looked at.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::json;

use super::form::{TokenParams, form_decode};
use super::{DevOAuth, OAuthError, TOKEN_TTL_SECS};
use crate::dev_issuer::clients::{ClientAuthError, DevClient};
use crate::http::gate::client_ip::client_ip;
use crate::http::state::AppState;
use crate::telemetry::refusals::refusal;

pub(super) async fn grant(
    oauth: &DevOAuth,
    state: &AppState,
    req: &HttpRequest,
    p: &TokenParams,
) -> Result<HttpResponse, OAuthError> {
    let client = authenticate(oauth, state, req, &p.client_id, &p.client_secret).await?;
    let scope = granted(&client, p.scope.as_deref())?;
    let access = oauth
        .issuer
        .mint_client(&client.id, &scope, TOKEN_TTL_SECS)?;
    tracing::info!(
        client_id = %client.id,
        fingerprint = %client.fingerprint(),
        scope,
        "dev issuer: client credentials granted"
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECS,
        })))
}

/// The machine client that sent `req`, by HTTP Basic or by `client_id` and `client_secret` in
/// the form (the token endpoint's client-credentials grant, and the revocation endpoint).
/// Braked per client address before the secret is looked at; a failure spends one.
pub(super) async fn authenticate(
    oauth: &DevOAuth,
    state: &AppState,
    req: &HttpRequest,
    client_id: &Option<String>,
    client_secret: &Option<String>,
) -> Result<DevClient, OAuthError> {
    let address = client_ip(&state.limits.proxies, req);
    // The brake's line and the failure's are logged under a flood as the API's are.
    let work = verify(oauth, state, req, address, client_id, client_secret);
    crate::http::conn::observe::deciding_refusals(req, state, address, work).await
}

async fn verify(
    oauth: &DevOAuth,
    state: &AppState,
    req: &HttpRequest,
    address: std::net::IpAddr,
    client_id: &Option<String>,
    client_secret: &Option<String>,
) -> Result<DevClient, OAuthError> {
    // Before the secret is looked at: a guesser over its brake learns nothing more.
    state
        .limits
        .admit(address, || false)
        .await
        .map_err(OAuthError::Braked)?;
    let (id, secret) = credentials(req, client_id, client_secret)?;
    // A look at the file first (off the executor): a client added a moment ago is known, and a
    // rotated or removed one's secret is refused at once, not at the next background look.
    oauth.clients.refresh().await;
    match oauth.clients.authenticate(&id, &secret) {
        Ok(client) => Ok(client),
        Err(why) => {
            state.limits.record(address).await;
            // The id only when it could be one: a secret pasted in its place is never logged.
            let client_id = crate::domain::PrincipalId::for_client(&id).map(|_| id.as_str());
            let reason = match why {
                ClientAuthError::Unknown => "unknown client",
                ClientAuthError::WrongSecret => "wrong secret",
            };
            refusal!(
                client_id,
                reason,
                "dev issuer: client authentication failed"
            );
            Err(OAuthError::ClientAuthentication)
        }
    }
}

/// The client's id and secret, from one `Authorization: Basic` header or from the form; one
/// method only (RFC 6749 §2.3: a client MUST NOT use more than one).
fn credentials(
    req: &HttpRequest,
    client_id: &Option<String>,
    client_secret: &Option<String>,
) -> Result<(String, String), OAuthError> {
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = headers.next() else {
        return match (client_id, client_secret) {
            (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
            _ => Err(OAuthError::ClientAuthentication),
        };
    };
    if headers.next().is_some() {
        return Err(OAuthError::InvalidRequest("Authorization is repeated"));
    }
    if client_secret.is_some() {
        return Err(OAuthError::InvalidRequest(
            "use one client authentication method: HTTP Basic or client_secret, not both",
        ));
    }
    let (id, secret) = basic(value.as_bytes()).ok_or(OAuthError::ClientAuthentication)?;
    if client_id.as_ref().is_some_and(|form_id| *form_id != id) {
        return Err(OAuthError::InvalidRequest(
            "client_id differs from the one in Authorization",
        ));
    }
    Ok((id, secret))
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// The scope of the token: what was asked (space-separated), each one allowed to the client;
/// nothing asked, everything allowed (as Cognito does).
fn granted(client: &DevClient, asked: Option<&str>) -> Result<String, OAuthError> {
    let mut scopes: Vec<&str> = Vec::new();
    for s in asked
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !client.scopes.iter().any(|allowed| allowed == s) {
            return Err(OAuthError::InvalidScope);
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return Ok(client.scopes.join(" "));
    }
    Ok(scopes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_basic_header_gives_the_decoded_id_and_secret() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("partner-cron:s%3Ac+t");
        let value = format!("bAsIc {encoded}");
        assert_eq!(
            basic(value.as_bytes()),
            Some(("partner-cron".into(), "s:c t".into()))
        );
        assert_eq!(basic(b"Bearer abc"), None);
        assert_eq!(basic(b"Basic !!!"), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("partner-cron");
        assert_eq!(basic(format!("Basic {no_colon}").as_bytes()), None);
    }

    #[test]
    fn form_decoding_refuses_a_truncated_escape() {
        assert_eq!(form_decode("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(form_decode("a%2"), None);
        assert_eq!(form_decode("%zz"), None);
    }
}
