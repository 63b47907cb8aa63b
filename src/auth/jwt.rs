//! Verification of Cognito JWTs, at least as strict as aws-jwt-verify: RS256 only, `kid`
//! required, exact issuer, `token_use`, `client_id`/`aud`, `exp` required, `nbf` honoured.

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::{Jwks, KeyLookup};
use crate::config::JwtSettings;
use crate::domain::PrincipalId;

#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    /// The token is not acceptable; the reason goes to the log, never to the client.
    Invalid(&'static str),
    /// No signing keys could be loaded, so nothing can be verified.
    Unavailable,
}

#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub sub: PrincipalId,
    pub jti: Option<String>,
    pub scope: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    token_use: Option<String>,
    client_id: Option<String>,
    aud: Option<Audience>,
    #[serde(default)]
    scope: String,
    jti: Option<String>,
    exp: u64,
}

pub struct JwtVerifier {
    issuer: String,
    client_ids: Vec<String>,
    accept_access: bool,
    accept_id: bool,
    leeway: u64,
    jwks: Jwks,
}

impl JwtVerifier {
    pub fn new(
        settings: &JwtSettings,
        issuer: String,
        client_ids: Vec<String>,
        jwks: Jwks,
    ) -> Self {
        JwtVerifier {
            issuer,
            client_ids,
            accept_access: settings.accept_access,
            accept_id: settings.accept_id,
            leeway: settings.leeway_secs,
            jwks,
        }
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, JwtError> {
        use JwtError::Invalid;
        let header = jsonwebtoken::decode_header(token).map_err(|_| Invalid("malformed token"))?;
        // Checked before any key is looked up: no `none`, no HMAC keyed with a public key.
        if header.alg != Algorithm::RS256 {
            return Err(Invalid("algorithm is not RS256"));
        }
        let kid = header.kid.ok_or(Invalid("no kid"))?;
        let key = self.jwks.key(&kid).await.map_err(|e| match e {
            KeyLookup::Unknown => Invalid("unknown kid"),
            KeyLookup::Unavailable => JwtError::Unavailable,
        })?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false; // `aud`/`client_id` depend on token_use; checked below
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            Invalid(match e.kind() {
                K::InvalidSignature => "bad signature",
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not yet valid (nbf)",
                K::InvalidIssuer => "wrong issuer",
                K::MissingRequiredClaim(_) => "missing a required claim",
                _ => "malformed claims",
            })
        })?;
        let claims = data.claims;
        // jsonwebtoken accepts exp == now; a token is valid strictly before its exp.
        if claims.exp + self.leeway <= jsonwebtoken::get_current_timestamp() {
            return Err(Invalid("expired"));
        }

        let allowed = |id: &str| self.client_ids.iter().any(|c| c == id);
        match claims.token_use.as_deref() {
            Some("access") if self.accept_access => {
                if !claims.client_id.as_deref().is_some_and(allowed) {
                    return Err(Invalid("client_id not allowed"));
                }
            }
            Some("id") if self.accept_id => {
                let ok = match &claims.aud {
                    Some(Audience::One(a)) => allowed(a),
                    Some(Audience::Many(list)) => list.iter().any(|a| allowed(a)),
                    None => false,
                };
                if !ok {
                    return Err(Invalid("aud not allowed"));
                }
            }
            _ => return Err(Invalid("token_use not accepted")),
        }

        let sub = claims
            .sub
            .as_deref()
            .and_then(PrincipalId::from_sub)
            .ok_or(Invalid("missing or reserved sub"))?;
        Ok(VerifiedToken {
            sub,
            jti: claims.jti,
            scope: claims.scope,
        })
    }
}
