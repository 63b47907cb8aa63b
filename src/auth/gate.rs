//! The gate's decision for one request, without HTTP: the brake on failed guesses for the client
//! address, then authentication, then the principal's quota. The HTTP extractors
//! (`http/gate.rs`) read the request into a [`Request`] and answer with the [`Decision`].

use std::net::IpAddr;

use super::{Access, AuthError, Authenticator, Caller, Credentials};
use crate::common::Route;
use crate::ratelimit::{RateLimitInfo, RateLimits};

/// What the gate needs to know of a request.
pub struct Request<'a> {
    pub credentials: Credentials<'a>,
    /// The client's address, as the trusted proxies tell it: the brake's key.
    pub client: IpAddr,
    /// The route, for the request's cost in quota cells.
    pub route: Route,
    pub access: Access,
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
        auth.authenticate_known(&req.credentials, req.access)
            .is_some()
    };
    let mut caller = match limits.admit(req.client, known).await {
        Err(braked) => match auth.authenticate_known(&req.credentials, req.access) {
            Some(caller) => caller,
            None => return Decision::refused(Refusal::RateLimited(braked)),
        },
        Ok(()) => match auth.authenticate(&req.credentials, req.access).await {
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
