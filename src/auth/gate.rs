//! The gate's decision for one request, without HTTP: the brake on failed guesses for the client
//! address, then authentication, then the principal's quota. The HTTP extractors
//! (`http/gate/`) read the request into a [`Request`] and answer with the [`Decision`].

use std::net::IpAddr;

use super::{Access, AuthError, Authenticator, Caller, Credentials};
use crate::common::Route;
use crate::ratelimit::{RateLimitInfo, RateLimits};

/// What the gate needs to know of a request.
pub struct Request<'a> {
    pub credentials: Credentials<'a>,
    /// The client's address, as the trusted proxies tell it: the brake's key.
    pub client: IpAddr,
    /// The route: the request's cost in quota cells, and the API whose key policy applies.
    pub route: Route,
    pub access: Access<'a>,
}

/// Why the gate refused a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The brake on failed guesses, or the principal's quota.
    #[error("rate limited")]
    RateLimited(RateLimitInfo),
}

/// What the gate decided: who is calling, when that is known (also for a request over its
/// quota, whose answer still names the policy and whose key use the ledger counts), and whether
/// the request may go on.
pub struct Decision {
    pub caller: Option<Caller>,
    pub verdict: Result<(), Refusal>,
}

impl Decision {
    fn refused(refusal: Refusal) -> Self {
        Decision {
            caller: None,
            verdict: Err(refusal),
        }
    }
}

/// Authenticates `req` and spends its cost of the caller's quota.
pub async fn decide(auth: &Authenticator, limits: &RateLimits, req: &Request<'_>) -> Decision {
    // The brake comes first, so a guesser over its quota costs no signature check and no
    // key-store call; a credential already known good still passes it. With a shared store, a
    // credential known good skips the store's brake check (one round trip fewer); it would pass
    // the brake anyway.
    let known = || {
        auth.authenticate_known(&req.credentials, req.access, req.route.api())
            .is_some()
    };
    let mut caller = match limits.admit(req.client, known).await {
        Err(braked) => match auth.authenticate_known(&req.credentials, req.access, req.route.api())
        {
            Some(caller) => caller,
            None => return Decision::refused(Refusal::RateLimited(braked)),
        },
        Ok(()) => match auth
            .authenticate(&req.credentials, req.access, req.route.api())
            .await
        {
            Ok(caller) => caller,
            Err(e) => {
                if e.is_failed_guess() {
                    limits.record(req.client).await;
                }
                return Decision::refused(e.into());
            }
        },
    };
    let checked = limits
        .check(
            &caller.principal.id,
            caller.key_quota,
            limits.cost(req.route),
        )
        .await;
    let verdict = match checked {
        Ok(granted) => {
            caller.rate = Some(granted);
            Ok(())
        }
        Err(limited) => Err(Refusal::RateLimited(limited)),
    };
    Decision {
        caller: Some(caller),
        verdict,
    }
}

#[cfg(test)]
mod tests {
    //! The gate as a plain function: no server, no actix, real verifier, key file and limiters.

    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use super::*;
    use crate::auth::api_key::file::FileKeys;
    use crate::auth::api_key::{ApiKeys, manage};
    use crate::auth::jwks::{Jwks, KeySet};
    use crate::auth::jwt::JwtVerifier;
    use crate::config::Settings;
    use crate::control::FallbackFlag;
    use crate::dev_issuer::{DEV_CLIENT_ID, DEV_ISSUER, DevIssuer, TokenRequest};
    use crate::domain::{AuthFailure, FallbackMode, KeyId};

    struct Fixture {
        auth: Authenticator,
        limits: RateLimits,
        token: String,
        key: String,
        _dir: tempfile::TempDir,
    }

    async fn fixture(pairs: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::from_pairs(pairs.iter().copied()).unwrap();
        let dev = DevIssuer::load_or_create(dir.path()).unwrap();
        let set = KeySet::parse(dev.jwks().to_string().as_bytes()).unwrap();
        let jwt = JwtVerifier::single(
            &settings.jwt,
            DEV_ISSUER,
            vec![DEV_CLIENT_ID.into()],
            Jwks::Static(Arc::new(set)),
        );
        let token = dev
            .mint(&TokenRequest {
                sub: "alice".into(),
                scope: Some("photos/read photos/write".into()),
                groups: vec![],
                ttl_secs: 600,
            })
            .unwrap();
        let source = Arc::new(FileKeys::new(dir.path().join("api-keys.json")));
        let id = KeyId::parse("legacy-mobile").unwrap();
        let key = manage::add(source.as_ref(), &id, None, Default::default())
            .await
            .unwrap();
        let keys = ApiKeys::new(source);
        keys.load().await;
        let auth = Authenticator {
            jwt,
            keys,
            flag: FallbackFlag::new(FallbackMode::Allow),
            guides: Default::default(),
            scopes: settings.scopes.clone(),
            mismatch: settings.api_keys.credential_mismatch,
            clients: Default::default(),
            keyless_apis: Vec::new(),
        };
        let limits = RateLimits::new(&settings.rate, None);
        Fixture {
            auth,
            limits,
            token,
            key,
            _dir: dir,
        }
    }

    fn request<'a>(authorization: Option<&'a [u8]>, api_key: Option<&'a [u8]>) -> Request<'a> {
        Request {
            credentials: Credentials {
                authorization,
                api_key,
                repeated: false,
            },
            client: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            route: Route::List,
            access: Access::Read,
        }
    }

    #[tokio::test]
    async fn a_token_and_a_key_each_pass_with_their_principal_and_rate() {
        let f = fixture(&[]).await;
        let bearer = format!("Bearer {}", f.token);
        let by_token = decide(&f.auth, &f.limits, &request(Some(bearer.as_bytes()), None)).await;
        assert!(by_token.verdict.is_ok());
        let caller = by_token.caller.unwrap();
        assert_eq!(caller.principal.id.as_str(), "alice");
        assert!(
            caller.rate.is_some(),
            "an admitted caller carries its quota"
        );

        let by_key = decide(&f.auth, &f.limits, &request(None, Some(f.key.as_bytes()))).await;
        assert!(by_key.verdict.is_ok());
        assert_eq!(
            by_key.caller.unwrap().principal.id.as_str(),
            "apikey:legacy-mobile"
        );
    }

    #[tokio::test]
    async fn failed_guesses_engage_the_brake_but_a_known_credential_still_passes() {
        let f = fixture(&[("auth_failures_per_minute", "2")]).await;
        for _ in 0..2 {
            let guess = decide(&f.auth, &f.limits, &request(None, Some(b"wrong"))).await;
            assert!(matches!(
                guess.verdict,
                Err(Refusal::Auth(AuthError::Unauthenticated(
                    AuthFailure::InvalidKey
                )))
            ));
        }
        let braked = decide(&f.auth, &f.limits, &request(None, Some(b"wrong"))).await;
        assert!(
            matches!(braked.verdict, Err(Refusal::RateLimited(_))),
            "the third guess is braked"
        );
        assert!(braked.caller.is_none());
        let known = decide(&f.auth, &f.limits, &request(None, Some(f.key.as_bytes()))).await;
        assert!(known.verdict.is_ok(), "a loaded key passes the brake");
    }

    #[tokio::test]
    async fn a_caller_over_its_quota_is_refused_and_still_named() {
        let f = fixture(&[
            ("rate_per_minute", "1"),
            ("rate_burst", "1"),
            ("upload_cost", "1"),
        ])
        .await;
        let req = request(None, Some(f.key.as_bytes()));
        assert!(decide(&f.auth, &f.limits, &req).await.verdict.is_ok());
        let over = decide(&f.auth, &f.limits, &req).await;
        assert!(matches!(over.verdict, Err(Refusal::RateLimited(_))));
        assert_eq!(
            over.caller.map(|c| c.principal.id.to_string()).as_deref(),
            Some("apikey:legacy-mobile"),
            "a 429 still names its caller, for the ledger and the headers"
        );
    }

    #[tokio::test]
    async fn a_repeated_credential_header_is_refused_before_anything_is_checked() {
        let f = fixture(&[]).await;
        let mut req = request(None, Some(f.key.as_bytes()));
        req.credentials.repeated = true;
        let refused = decide(&f.auth, &f.limits, &req).await;
        assert!(matches!(
            refused.verdict,
            Err(Refusal::Auth(AuthError::Unauthenticated(
                AuthFailure::AmbiguousCredentials
            )))
        ));
    }
}
