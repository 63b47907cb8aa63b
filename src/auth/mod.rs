//! Authentication: a JWT when `Authorization` is sent (and only then), else an API key from
//! `X-API-KEY` subject to the fallback flag, else 401. The result is one [`Caller`]: every later
//! stage (rate limits, handlers, the observe middleware) reads that value and nothing else.

pub mod api_key;
pub mod deprecation;
pub mod dev_issuer;
pub mod dev_oauth;
pub mod extract;
pub mod jwks;
pub mod jwt;
pub mod token_cache;

use actix_web::HttpRequest;
use actix_web::http::header::{AUTHORIZATION, HeaderName};

use self::api_key::{ApiKeys, KeyLookupError, KeyMatch};
use self::deprecation::DeprecationNotice;
use self::jwt::{JwtError, JwtVerifier, VerifiedToken};
use crate::config::ScopeSettings;
use crate::control::FallbackFlag;
use crate::domain::AuthFailure;
use crate::domain::{AuthMethod, FallbackMode, KeyId, Principal, Scope};
use crate::ratelimit::{KeyQuota, RateLimitHeaders};
use crate::routes::problem::ApiError;

pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What a route needs: read or write access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What the gate decided about one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, and by which method.
    pub principal: Principal,
    /// The key entry's own quota, when the key path was used and the entry has one.
    pub key_quota: Option<KeyQuota>,
    /// A key-path request while the flag says `warn`: the answer carries the deprecation headers.
    pub deprecated: bool,
    /// Where the caller stands against its quota, once the rate limiter has admitted it.
    pub rate: Option<RateLimitHeaders>,
    /// On the JWT path: the id of the key a presented `X-API-KEY` matched. The JWT decides; the
    /// migration ledger records the key as seen with the token's `sub`.
    pub linked_key: Option<KeyId>,
}

impl Caller {
    fn new(principal: Principal) -> Self {
        Caller {
            principal,
            key_quota: None,
            deprecated: false,
            rate: None,
            linked_key: None,
        }
    }
}

pub struct Authenticator {
    pub jwt: JwtVerifier,
    pub keys: ApiKeys,
    pub flag: FallbackFlag,
    pub notice: DeprecationNotice,
    pub scopes: ScopeSettings,
}

/// The one value of a header that must not repeat; `Err` when it does.
fn single<'a>(req: &'a HttpRequest, name: &HeaderName) -> Result<Option<&'a [u8]>, ApiError> {
    let mut values = req.headers().get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::Unauthenticated(AuthFailure::AmbiguousCredentials));
    }
    Ok(first.map(|v| v.as_bytes()))
}

fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    let ok = scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ');
    ok.then_some(token)
}

impl Authenticator {
    fn scope(&self, access: Access) -> Option<&Scope> {
        match access {
            Access::Read => self.scopes.read.as_ref(),
            Access::Write => self.scopes.write.as_ref(),
        }
    }

    pub async fn authenticate(
        &self,
        req: &HttpRequest,
        access: Access,
    ) -> Result<Caller, ApiError> {
        let authorization = single(req, &AUTHORIZATION)?;
        let api_key = single(req, &X_API_KEY)?;
        match (authorization, api_key) {
            (Some(value), _) => self.by_token(value, access).await,
            (None, Some(value)) => self.by_key(value).await,
            (None, None) => Err(ApiError::Unauthenticated(AuthFailure::Missing)),
        }
    }

    /// The gate for an address that the brake on failed guesses holds back: only a credential
    /// already known good passes — a token in the verified-token cache, or a key of the set in
    /// force — so one bad client behind a shared NAT does not lock out its neighbours, while a
    /// guess costs no signature check and no key-store call. `None`: the brake's refusal stands.
    pub fn authenticate_known(&self, req: &HttpRequest, access: Access) -> Option<Caller> {
        let authorization = single(req, &AUTHORIZATION).ok()?;
        let api_key = single(req, &X_API_KEY).ok()?;
        match (authorization, api_key) {
            (Some(value), _) => {
                let verified = self.jwt.cached(bearer_token(value)?)?.ok()?;
                let scope_ok = self
                    .scope(access)
                    .is_none_or(|scope| scope.granted_by(&verified.scope));
                scope_ok.then(|| Self::token_caller(verified))
            }
            (None, Some(value)) => {
                let mode = self.flag.get();
                if mode == FallbackMode::Deny {
                    return None;
                }
                let presented = std::str::from_utf8(value).ok()?.trim();
                let found = self.keys.find_loaded(presented)?;
                Some(Self::key_caller(found, mode))
            }
            (None, None) => None,
        }
    }

    fn token_caller(verified: VerifiedToken) -> Caller {
        Caller::new(Principal {
            id: verified.sub,
            method: AuthMethod::Jwt { jti: verified.jti },
        })
    }

    fn key_caller(found: KeyMatch, mode: FallbackMode) -> Caller {
        let key_quota =
            (found.rate_per_minute.is_some() || found.burst.is_some()).then_some(KeyQuota {
                per_minute: found.rate_per_minute,
                burst: found.burst,
            });
        Caller {
            principal: Principal {
                id: found.principal,
                method: AuthMethod::ApiKey { key_id: found.id },
            },
            key_quota,
            deprecated: mode == FallbackMode::Warn,
            rate: None,
            linked_key: None,
        }
    }

    async fn by_token(&self, value: &[u8], access: Access) -> Result<Caller, ApiError> {
        let Some(token) = bearer_token(value) else {
            tracing::info!(reason = "not one Bearer credential", "JWT rejected");
            return Err(ApiError::Unauthenticated(AuthFailure::InvalidToken));
        };
        let verified = match self.jwt.verify(token).await {
            Ok(v) => v,
            Err(JwtError::Invalid(reason)) => {
                tracing::info!(reason, "JWT rejected");
                return Err(ApiError::Unauthenticated(AuthFailure::InvalidToken));
            }
            Err(JwtError::Unavailable) => return Err(ApiError::Unavailable("token signing keys")),
        };
        if let Some(scope) = self.scope(access)
            && !scope.granted_by(&verified.scope)
        {
            tracing::info!(sub = %verified.sub, jti = ?verified.jti, %scope, "scope missing");
            return Err(ApiError::InsufficientScope(scope.clone()));
        }
        Ok(Self::token_caller(verified))
    }

    async fn by_key(&self, value: &[u8]) -> Result<Caller, ApiError> {
        let mode = self.flag.get();
        let presented = std::str::from_utf8(value).unwrap_or_default().trim();
        if mode == FallbackMode::Deny {
            let refused = ApiError::KeyPathDisabled {
                migration_url: self.notice.migration_url().map(str::to_string),
            };
            // Attributed to the key when it is one of the set in force (no key-store call), so
            // the ledger shows who keeps trying after `deny`.
            return Err(match self.keys.find_loaded(presented) {
                Some(found) => refused.for_key(found.id),
                None => refused,
            });
        }
        if presented.is_empty() {
            return Err(ApiError::Unauthenticated(AuthFailure::InvalidKey));
        }
        let found = match self.keys.lookup(presented).await {
            Ok(found) => found,
            Err(KeyLookupError::Unknown) => {
                tracing::info!(fingerprint = %crate::crypto::fingerprint(&crate::crypto::sha256(presented.as_bytes())), "unknown API key");
                return Err(ApiError::Unauthenticated(AuthFailure::InvalidKey));
            }
            Err(KeyLookupError::Unavailable) => return Err(ApiError::Unavailable("API keys")),
        };
        tracing::debug!(key_id = %found.id, fingerprint = %found.fingerprint, stage = found.stage.label(), "API key accepted");
        Ok(Self::key_caller(found, mode))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_takes_one_token() {
        assert_eq!(bearer_token(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token(b"Bearer a b"), None);
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearer"), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::bearer_token;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_header_bytes_give_no_token_or_one_clean_token(value in prop::collection::vec(any::<u8>(), 0..120)) {
                if let Some(token) = bearer_token(&value) {
                    prop_assert!(!token.is_empty());
                    prop_assert!(!token.contains(' '));
                    prop_assert_eq!(token.trim(), token);
                }
            }

            #[test]
            fn a_bearer_header_with_any_scheme_case_gives_back_its_token(
                scheme in "[bB][eE][aA][rR][eE][rR]",
                token in "[A-Za-z0-9._~+/=-]{1,200}",
            ) {
                let value = format!("{scheme} {token}");
                prop_assert_eq!(bearer_token(value.as_bytes()), Some(token.as_str()));
            }

            #[test]
            fn another_scheme_gives_no_token(scheme in "[A-Za-z]{1,10}", token in "[A-Za-z0-9]{1,20}") {
                prop_assume!(!scheme.eq_ignore_ascii_case("bearer"));
                let value = format!("{scheme} {token}");
                prop_assert_eq!(bearer_token(value.as_bytes()), None);
            }
        }
    }
}
