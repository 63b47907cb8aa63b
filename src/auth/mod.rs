//! Authentication: a JWT when `Authorization` is sent (and only then), else an API key from
//! `X-API-KEY` subject to the fallback flag, else 401. The result is one [`Caller`]: every later
//! stage (rate limits, handlers, the observe middleware) reads that value and nothing else.

pub mod api_key;
pub mod client_quota;
mod error;
pub mod gate;
pub mod guides;
pub mod jwks;
pub mod jwt;
pub mod key_dates;
pub mod key_refusal;
pub mod token_cache;
pub mod verified_token;

use self::api_key::{ApiKeys, KeyLookupError, KeyMatch};
pub use self::error::AuthError;
use self::jwt::{JwtError, JwtVerifier};
use self::key_dates::KeyDates;
use self::key_refusal::KeyRefusal;
use self::verified_token::VerifiedToken;
use crate::config::{CredentialMismatch, ScopeSettings};
use crate::control::FallbackFlag;
use crate::control::revocations::TokenFacts;
use crate::domain::AuthFailure;
use crate::domain::{AuthMethod, FallbackMode, KeyId, Principal, PrincipalId, Scope};
use crate::ratelimit::{KeyQuota, RateLimitHeaders};
use crate::telemetry::refusals::refusal;

/// What a request presented, as the HTTP layer read it: the raw value of its one
/// `Authorization` header and of its one `X-API-KEY` header. No `Debug`: it holds secrets.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub authorization: Option<&'a [u8]>,
    pub api_key: Option<&'a [u8]>,
    /// One of the two headers was sent more than once: refused, whatever the values
    /// (`ambiguous_credentials`), so no proxy and no server can disagree on which one counts.
    pub repeated: bool,
}

/// What a route needs: read or write access, or only an authenticated caller (`GET /api/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// The built-in API's reads (`CUTOVER_SCOPE_READ`).
    Read,
    /// The built-in API's writes (`CUTOVER_SCOPE_WRITE`).
    Write,
    /// Any authenticated caller, whatever scopes its token carries.
    Any,
    /// A scope of an upstream's own (`[[upstreams]]` `read_scope`, `write_scope`).
    Needs(&'a Scope),
}

/// What the gate decided about one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who, and by which method.
    pub principal: Principal,
    /// The principal's own quota: a key entry's (key path), or a machine client's (JWT path: its
    /// own, or carried over from a key it owns).
    pub key_quota: Option<KeyQuota>,
    /// A key-path request while the flag says `warn`: the answer carries the deprecation headers.
    pub deprecated: bool,
    /// Where the caller stands against its quota, once the rate limiter has admitted it.
    pub rate: Option<RateLimitHeaders>,
    /// On the JWT path: the id of the key a presented `X-API-KEY` matched. The JWT decides; the
    /// migration ledger records the key as seen with the token's `sub`.
    pub linked_key: Option<KeyId>,
    /// On the key path: the key's own deprecation and sunset dates, which override the global
    /// ones in the deprecation headers.
    pub key_dates: KeyDates,
    /// On the JWT path: the token's scopes (space-separated), which the gateway hands on.
    pub scope: Option<std::sync::Arc<str>>,
}

impl Caller {
    fn new(principal: Principal) -> Self {
        Caller {
            principal,
            key_quota: None,
            deprecated: false,
            rate: None,
            linked_key: None,
            key_dates: KeyDates::default(),
            scope: None,
        }
    }
}

pub struct Authenticator {
    pub jwt: JwtVerifier,
    pub keys: ApiKeys,
    pub flag: FallbackFlag,
    /// The migration guides refusals of keys point to: the API's own, else
    /// `CUTOVER_MIGRATION_URL`.
    pub guides: guides::MigrationGuides,
    pub scopes: ScopeSettings,
    /// `CUTOVER_CREDENTIAL_MISMATCH`: a JWT with a key owned by someone else.
    pub mismatch: CredentialMismatch,
    /// Machine clients' own quotas.
    pub clients: client_quota::ClientQuotas,
    /// The APIs whose tables say `api_keys = "never"`: a key there is refused unread.
    pub keyless_apis: Vec<&'static str>,
}

fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    let ok = scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ');
    ok.then_some(token)
}

impl Authenticator {
    fn scope<'a>(&'a self, access: Access<'a>) -> Option<&'a Scope> {
        match access {
            Access::Read => self.scopes.read.as_ref(),
            Access::Write => self.scopes.write.as_ref(),
            Access::Any => None,
            Access::Needs(scope) => Some(scope),
        }
    }

    /// Authenticates a request of `api` (the route's, `Route::api`): the key path follows that
    /// API's policy.
    pub async fn authenticate(
        &self,
        presented: &Credentials<'_>,
        access: Access<'_>,
        api: &'static str,
    ) -> Result<Caller, AuthError> {
        if presented.repeated {
            return Err(AuthError::Unauthenticated(
                AuthFailure::AmbiguousCredentials,
            ));
        }
        match (presented.authorization, presented.api_key) {
            (Some(value), key) => self.by_token(value, key, access).await,
            (None, Some(value)) => self.by_key(value, api).await,
            (None, None) => Err(AuthError::Unauthenticated(AuthFailure::Missing)),
        }
    }

    /// The gate for an address that the brake on failed guesses holds back: only a credential
    /// already known good passes — a token in the verified-token cache, or a key of the set in
    /// force — so one bad client behind a shared NAT does not lock out its neighbours, while a
    /// guess costs no signature check and no key-store call. `None`: the brake's refusal stands.
    pub fn authenticate_known(
        &self,
        presented: &Credentials<'_>,
        access: Access<'_>,
        api: &'static str,
    ) -> Option<Caller> {
        if presented.repeated {
            return None;
        }
        match (presented.authorization, presented.api_key) {
            (Some(value), key) => {
                let verified = self.jwt.cached(bearer_token(value)?)?.ok()?;
                if self.token_revoked(&verified) {
                    return None;
                }
                let scope_ok = self
                    .scope(access)
                    .is_none_or(|scope| scope.granted_by(&verified.scope));
                // A mismatch refused on the open path is refused here too.
                scope_ok
                    .then(|| self.link(self.token_caller(verified), key).ok())
                    .flatten()
            }
            (None, Some(value)) => {
                let rules = self.flag.rules();
                let mode = self.flag.mode_for(&rules, api);
                if mode == FallbackMode::Deny || self.keyless_apis.contains(&api) {
                    return None;
                }
                let presented = std::str::from_utf8(value).ok()?.trim();
                let found = self.linked(self.keys.find_loaded(presented)?);
                if self.flag.revocations().key_revoked(&found.id) {
                    return None;
                }
                let now = jiff::Timestamp::now();
                if key_refusal::decide(&found, mode, &rules, api, now).is_some() {
                    return None;
                }
                Some(Self::key_caller(found, mode))
            }
            (None, None) => None,
        }
    }

    /// Whether the revocation list in force covers this token.
    fn token_revoked(&self, v: &VerifiedToken) -> bool {
        self.flag.revocations().token_revoked(&TokenFacts {
            principal: &v.sub,
            jti: v.jti.as_deref(),
            origin_jti: v.origin_jti.as_deref(),
            issued_at: v.issued_at,
            issuer: &v.issuer,
            username: v.username.as_deref(),
        })
    }

    /// A token's caller; a machine client carries its own quota, as a key entry may.
    fn token_caller(&self, verified: VerifiedToken) -> Caller {
        let key_quota = self.client_quota(&verified.sub);
        let scope =
            (!verified.scope.is_empty()).then(|| std::sync::Arc::from(verified.scope.as_str()));
        let mut caller = Caller::new(Principal {
            id: verified.sub,
            method: AuthMethod::Jwt {
                jti: verified.jti,
                issuer: verified.issuer,
            },
        });
        caller.key_quota = key_quota;
        caller.scope = scope;
        caller
    }

    /// A machine client's own quota: its own (the dev client's, else `CUTOVER_CLIENT_QUOTAS`),
    /// else the one of a key it owns (`cutover keys link --client`), carried over as the key had
    /// it: the same figures under the same `apikey` policy, so the key's requests and the
    /// token's draw from one bucket and the client's limits do not change at the switch. A key
    /// still in the key set gives its figures as they are now; once it is revoked, the ones
    /// `keys link` stored with the client in the control state. `None` for a user, and for a
    /// client with none of these.
    fn client_quota(&self, principal: &PrincipalId) -> Option<KeyQuota> {
        let id = principal.client_id()?;
        let carried = || {
            let live = self.keys.current().and_then(|r| r.carried_quota(principal));
            let q = live.or_else(|| self.flag.links().carried(id))?;
            Some(KeyQuota::for_key(q.rate_per_minute, q.burst))
        };
        self.clients.quota(id).or_else(carried)
    }

    /// The key's match with the owner it is linked to in the control state, which overrides
    /// the key store's (the link is in force from the next control poll; the key store's owner
    /// only from the next key refresh).
    fn linked(&self, mut found: KeyMatch) -> KeyMatch {
        let links = self.flag.links();
        if !links.is_empty()
            && let Some(owner) = links.owner(&found.id)
        {
            found.principal = owner.clone();
        }
        found
    }

    fn key_caller(found: KeyMatch, mode: FallbackMode) -> Caller {
        let key_quota = (found.rate_per_minute.is_some() || found.burst.is_some())
            .then(|| KeyQuota::for_key(found.rate_per_minute, found.burst));
        Caller {
            principal: Principal {
                id: found.principal,
                method: AuthMethod::ApiKey { key_id: found.id },
            },
            key_quota,
            // A key with dates of its own was told them: it carries the headers in any mode.
            deprecated: mode == FallbackMode::Warn || found.dates.is_set(),
            rate: None,
            linked_key: None,
            key_dates: found.dates,
            scope: None,
        }
    }

    /// The JWT path with an `X-API-KEY` beside the token: the token has decided who the caller
    /// is; a key of the set in force is noted as linked to it (`Caller.linked_key`, for the
    /// migration ledger), and a key owned by another user is a [`AuthFailure::CredentialMismatch`]
    /// (refused, or only logged with `CUTOVER_CREDENTIAL_MISMATCH=log`). Only the loaded set is
    /// searched, never the key store: an unknown key must not let any token holder make this
    /// instance reload its keys, and a key too new to be loaded is linked from the next refresh.
    /// A key that matches nothing is ignored, as it always was on this path.
    fn link(&self, mut caller: Caller, presented: Option<&[u8]>) -> Result<Caller, AuthError> {
        let Some(found) = presented
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .and_then(|p| self.keys.find_loaded(p))
            .map(|found| self.linked(found))
        else {
            return Ok(caller);
        };
        if owned_by_another(&found, &caller.principal.id) {
            match self.mismatch {
                CredentialMismatch::Refuse => {
                    refusal!(sub = %caller.principal.id, key_id = %found.id, owner = %found.principal, "JWT sent with another user's API key: refused");
                    return Err(AuthError::Unauthenticated(AuthFailure::CredentialMismatch)
                        .for_key(found.id));
                }
                CredentialMismatch::Log => {
                    tracing::warn!(sub = %caller.principal.id, key_id = %found.id, owner = %found.principal, "JWT sent with another user's API key: let through (CUTOVER_CREDENTIAL_MISMATCH=log)");
                }
            }
        }
        caller.linked_key = Some(found.id);
        Ok(caller)
    }

    async fn by_token(
        &self,
        value: &[u8],
        key: Option<&[u8]>,
        access: Access<'_>,
    ) -> Result<Caller, AuthError> {
        let verified = self.bearer(value).await?;
        if let Some(scope) = self.scope(access)
            && !scope.granted_by(&verified.scope)
        {
            refusal!(sub = %verified.sub, jti = ?verified.jti, %scope, "scope missing");
            return Err(AuthError::InsufficientScope(scope.clone()));
        }
        self.link(self.token_caller(verified), key)
    }

    /// Whether an `Authorization` value's token was verified before (it is in the cache) and is
    /// not revoked since: a credential known good, which the failure brake lets through.
    pub fn bearer_known(&self, value: &[u8]) -> bool {
        bearer_token(value)
            .and_then(|token| self.jwt.cached(token))
            .and_then(Result::ok)
            .is_some_and(|verified| !self.token_revoked(&verified))
    }

    /// An `Authorization` value's one Bearer token, verified against the trusted issuers and
    /// not revoked: who it names, whatever it may do (the admin listener's operators start
    /// here too).
    pub async fn bearer(&self, value: &[u8]) -> Result<VerifiedToken, AuthError> {
        let Some(token) = bearer_token(value) else {
            refusal!(reason = "not one Bearer credential", "JWT rejected");
            return Err(AuthError::Unauthenticated(AuthFailure::InvalidToken));
        };
        let verified = match self.jwt.verify(token).await {
            Ok(v) => v,
            Err(JwtError::Invalid(reason)) => {
                refusal!(reason, "JWT rejected");
                return Err(AuthError::Unauthenticated(AuthFailure::InvalidToken));
            }
            Err(JwtError::Unavailable) => return Err(AuthError::IdpUnavailable),
        };
        // On every request, cached token or not: a revocation is in force from the next poll.
        if self.token_revoked(&verified) {
            refusal!(sub = %verified.sub, jti = ?verified.jti, origin_jti = ?verified.origin_jti, "revoked token refused");
            return Err(AuthError::Unauthenticated(AuthFailure::Revoked));
        }
        Ok(verified)
    }

    async fn by_key(&self, value: &[u8], api: &'static str) -> Result<Caller, AuthError> {
        if self.keyless_apis.contains(&api) {
            // Never a key here: nothing is looked up, so a key sent to such an API is no
            // oracle of which keys exist, and costs no key-store call.
            refusal!(api, "API key sent to an API that never accepts keys");
            return Err(AuthError::KeysNotAccepted {
                migration_url: self.guides.for_api(api).map(str::to_string),
                api,
            });
        }
        let rules = self.flag.rules();
        let mode = self.flag.mode_for(&rules, api);
        let presented = std::str::from_utf8(value).unwrap_or_default().trim();
        let found = if mode == FallbackMode::Deny {
            // Under `deny`, only the set in force (no key-store call): enough to attribute the
            // refusal to the key, so the ledger shows who keeps trying after `deny`.
            match self.keys.find_loaded(presented) {
                Some(found) => found,
                None => return Err(self.key_refusal(KeyRefusal::Disabled, api)),
            }
        } else {
            if presented.is_empty() {
                return Err(AuthError::Unauthenticated(AuthFailure::InvalidKey));
            }
            match self.keys.lookup(presented).await {
                Ok(found) => found,
                Err(KeyLookupError::Unknown) => {
                    refusal!(fingerprint = %crate::crypto::fingerprint(&crate::crypto::sha256(presented.as_bytes())), "unknown API key");
                    return Err(AuthError::Unauthenticated(AuthFailure::InvalidKey));
                }
                Err(KeyLookupError::Unavailable) => return Err(AuthError::Unavailable("API keys")),
            }
        };
        let found = self.linked(found);
        // A revoked key is refused from the next control poll, before the key set's refresh
        // drops it.
        if self.flag.revocations().key_revoked(&found.id) {
            refusal!(key_id = %found.id, fingerprint = %found.fingerprint, "revoked API key refused");
            return Err(AuthError::Unauthenticated(AuthFailure::Revoked).for_key(found.id));
        }
        // Expired, brownout, canary, deny: in that order (key_refusal.rs says why).
        let now = jiff::Timestamp::now();
        if let Some(refusal) = key_refusal::decide(&found, mode, &rules, api, now) {
            let refused = self.key_refusal(refusal, api);
            tracing::debug!(key_id = %found.id, api, reason = refused.auth_failure().map(|r| r.label()), "API key refused");
            return Err(refused.for_key(found.id));
        }
        tracing::debug!(key_id = %found.id, fingerprint = %found.fingerprint, stage = found.stage.label(), "API key accepted");
        Ok(Self::key_caller(found, mode))
    }

    /// The answer to a refused key on `api`, pointing at the migration guide.
    fn key_refusal(&self, refusal: KeyRefusal, api: &'static str) -> AuthError {
        let migration_url = self.guides.for_api(api).map(str::to_string);
        match refusal {
            KeyRefusal::Disabled => AuthError::KeyPathDisabled { migration_url, api },
            KeyRefusal::Closed(closure) => AuthError::KeyClosed {
                closure,
                migration_url,
                api,
            },
        }
    }
}

/// Whether `found` has an owner, and it is not `sub`. A key without an owner acts as
/// `apikey:<id>`, which no token can claim, so it is anyone's to link.
fn owned_by_another(found: &KeyMatch, sub: &PrincipalId) -> bool {
    found.principal != PrincipalId::for_key(&found.id) && &found.principal != sub
}

#[cfg(test)]
mod tests {
    use super::api_key::ring::Stage;
    use super::{KeyMatch, bearer_token, owned_by_another};
    use crate::domain::{KeyId, PrincipalId};

    fn key(id: &str, owner: Option<&str>) -> KeyMatch {
        let id = KeyId::parse(id).unwrap();
        KeyMatch {
            principal: owner
                .and_then(PrincipalId::from_sub)
                .unwrap_or_else(|| PrincipalId::for_key(&id)),
            id,
            stage: Stage::Current,
            fingerprint: String::new(),
            rate_per_minute: None,
            burst: None,
            dates: Default::default(),
            canary_bucket: 0,
        }
    }

    #[test]
    fn only_a_key_owned_by_another_user_is_a_mismatch() {
        let alice = PrincipalId::from_sub("alice").unwrap();
        assert!(owned_by_another(&key("mobile", Some("bob")), &alice));
        assert!(!owned_by_another(&key("mobile", Some("alice")), &alice));
        assert!(!owned_by_another(&key("mobile", None), &alice));
    }

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
