//! Which requests the ledger records, and as what: called once per request by the observe
//! middleware with the gate's [`Caller`] and the error answered, if any ([`record`]), and before
//! that by the gate for an admitted request of a key, whose first use in the hour must be in the
//! store before the handler runs ([`first_use`]).
//!
//! - a refusal attributed to a key (`AuthError::KeyRefused`, built wherever the presented key
//!   matched a key id) is refused under its cause: the `AuthFailure` label, or `rate_limited`;
//! - a key-path caller is accepted, or refused `rate_limited` on a 429;
//! - a JWT caller that also presented a matching key (`Caller.linked_key`) is recorded against
//!   the key with the token's principal: a user's `sub`, or `client:<id>` for a machine client's
//!   client-credentials token (no user `sub` can start so, so the contact list tells them apart
//!   and suggests `keys link --owner` or `--client`).
//!
//! Everything else (no key involved) costs a branch.

use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;
use actix_web::{HttpMessage, HttpRequest};

use crate::auth::{AuthError, Caller};
use crate::domain::{AuthMethod, KeyId};
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::ledger::RATE_LIMITED;
use crate::ledger::first_use::{FirstUse, NotDurable};
use crate::ledger::recorder::{Observation, Outcome};

/// The refusal cause of an error: its auth failure's label, `rate_limited` for a 429, or the
/// generic `refused` for a rule that has neither.
pub fn cause(err: &ApiError) -> &'static str {
    match (err.auth_failure(), err) {
        (Some(f), _) => f.label(),
        (None, ApiError::RateLimited(_)) => RATE_LIMITED,
        (None, ApiError::Auth(e)) if matches!(e.answered(), AuthError::Unavailable(_)) => {
            UNAVAILABLE
        }
        (None, _) => "refused",
    }
}

/// The refusal cause of a key request refused because a store it needs is unavailable (its
/// first use of the hour could not be written).
pub const UNAVAILABLE: &str = "unavailable";

/// What the ledger records of a request: the key, how it ended, and the `sub` it came with;
/// `None` when no key was involved.
pub fn attribute<'a>(
    status: StatusCode,
    caller: Option<&'a Caller>,
    err: Option<&'a ApiError>,
) -> Option<(&'a KeyId, Outcome, Option<&'a str>)> {
    if let Some(e) = err
        && let Some(key) = e.refused_key()
    {
        return Some((key, Outcome::Refused(cause(e)), None));
    }
    let c = caller?;
    match (&c.principal.method, &c.linked_key) {
        (AuthMethod::ApiKey { key_id }, _) if status == StatusCode::TOO_MANY_REQUESTS => {
            Some((key_id, Outcome::Refused(RATE_LIMITED), None))
        }
        (AuthMethod::ApiKey { key_id }, _) => Some((key_id, Outcome::Accepted, None)),
        (AuthMethod::Jwt { .. }, Some(key)) => {
            Some((key, Outcome::WithJwt, Some(c.principal.id.as_str())))
        }
        (AuthMethod::Jwt { .. }, None) => None,
    }
}

/// In a request's extensions: the gate wrote this request to the ledger as its key's first use
/// of the hour, so observe does not count it again.
pub struct Recorded;

/// The gate's half, for an admitted request the ledger attributes to a key: its key's first use
/// in the hour is made durable before the handler runs (`ledger::first_use`). When the store
/// cannot take it, the request is refused as any store outage is (503 `unavailable`,
/// `Retry-After`), attributed to the key (so counted as refused, cause `unavailable`), and
/// nothing is done.
pub async fn first_use(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
) -> Result<(), ApiError> {
    let Some((key, outcome, sub)) = attribute(StatusCode::OK, Some(caller), None) else {
        return Ok(());
    };
    let at = crate::common::unix_now();
    if state.ledger.first_uses.is_durable(key, at) {
        return Ok(());
    }
    let o = observation(state, req, Some(caller), (key, outcome, sub), at);
    match state.ledger.first_use(&o).await {
        Ok(FirstUse::Durable) => Ok(()),
        Ok(FirstUse::Written) => {
            req.extensions_mut().insert(Recorded);
            Ok(())
        }
        Err(NotDurable) => Err(AuthError::Unavailable(STORAGE).for_key(key.clone()).into()),
    }
}

/// What the 503 of an unwritable first use names, as every other store outage's does.
const STORAGE: &str = "storage";

/// Observe's half: counts the request in memory, for the next flush (unless the gate wrote it).
pub fn record(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    caller: Option<&Caller>,
    err: Option<&ApiError>,
) {
    let Some(attributed @ (key, outcome, _)) = attribute(status, caller, err) else {
        return;
    };
    if let Outcome::Refused(_) = outcome {
        state.metrics.key_refused(key);
    }
    if req.extensions().contains::<Recorded>() {
        return;
    }
    let o = observation(state, req, caller, attributed, crate::common::unix_now());
    state.ledger.recorder.record(&o);
}

fn observation<'a>(
    state: &AppState,
    req: &'a HttpRequest,
    caller: Option<&'a Caller>,
    (key, outcome, sub): (&'a KeyId, Outcome, Option<&'a str>),
    at: u64,
) -> Observation<'a> {
    let agent = match req.headers().get(USER_AGENT).map(|v| v.to_str()) {
        None => "(none)",
        Some(Ok(agent)) => agent,
        Some(Err(_)) => "(not text)",
    };
    let issuer = match caller.map(|c| &c.principal.method) {
        Some(AuthMethod::Jwt { issuer, .. }) if sub.is_some() => Some(&**issuer),
        _ => None,
    };
    Observation {
        key,
        outcome,
        agent,
        ip: super::client_ip::client_ip(&state.limits.proxies, req),
        route: crate::http::route_of(req),
        sub,
        issuer,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuthFailure, Principal, PrincipalId};

    fn caller(method: AuthMethod, id: PrincipalId, linked_key: Option<KeyId>) -> Caller {
        Caller {
            principal: Principal { id, method },
            key_quota: None,
            deprecated: false,
            rate: None,
            linked_key,
            key_dates: Default::default(),
            scope: None,
        }
    }

    #[test]
    fn a_jwt_request_with_a_matching_key_is_recorded_against_the_key_with_its_sub() {
        let key = KeyId::parse("legacy").unwrap();
        let alice = PrincipalId::from_sub("alice").unwrap();
        let jwt = AuthMethod::Jwt {
            jti: None,
            issuer: "https://issuer.example".into(),
        };
        let with_key = caller(jwt.clone(), alice.clone(), Some(key.clone()));
        assert_eq!(
            attribute(StatusCode::OK, Some(&with_key), None),
            Some((&key, Outcome::WithJwt, Some("alice")))
        );
        let without = caller(jwt, alice, None);
        assert_eq!(attribute(StatusCode::OK, Some(&without), None), None);
    }

    #[test]
    fn a_key_beside_a_machine_clients_token_is_recorded_with_the_client_principal() {
        let key = KeyId::parse("partner-cron").unwrap();
        let client = PrincipalId::for_client("partner-cron").unwrap();
        let jwt = AuthMethod::Jwt {
            jti: None,
            issuer: "https://issuer.example".into(),
        };
        let m2m = caller(jwt, client, Some(key.clone()));
        // `client:` cannot begin a user's sub, so the ledger's name tells the client apart.
        assert_eq!(
            attribute(StatusCode::OK, Some(&m2m), None),
            Some((&key, Outcome::WithJwt, Some("client:partner-cron")))
        );
    }

    #[test]
    fn a_key_request_whose_first_use_cannot_be_written_is_refused_as_unavailable() {
        let key = KeyId::parse("legacy").unwrap();
        let e = ApiError::from(AuthError::Unavailable(STORAGE).for_key(key.clone()));
        assert_eq!(
            attribute(StatusCode::SERVICE_UNAVAILABLE, None, Some(&e)),
            Some((&key, Outcome::Refused(UNAVAILABLE), None))
        );
    }

    #[test]
    fn key_refusals_and_429s_are_refused_by_cause_and_the_rest_accepted() {
        let key = KeyId::parse("legacy").unwrap();
        let denied = ApiError::from(
            AuthError::KeyPathDisabled {
                migration_url: None,
                api: "photos",
            }
            .for_key(key.clone()),
        );
        assert_eq!(
            attribute(StatusCode::UNAUTHORIZED, None, Some(&denied)),
            Some((&key, Outcome::Refused("key_path_disabled"), None))
        );
        let expired = ApiError::from(
            AuthError::Unauthenticated(AuthFailure::KeyExpired).for_key(key.clone()),
        );
        assert_eq!(
            attribute(StatusCode::UNAUTHORIZED, None, Some(&expired)).map(|a| a.1),
            Some(Outcome::Refused("key_expired"))
        );
        let by_key = caller(
            AuthMethod::ApiKey {
                key_id: key.clone(),
            },
            PrincipalId::for_key(&key),
            None,
        );
        assert_eq!(
            attribute(StatusCode::TOO_MANY_REQUESTS, Some(&by_key), None).map(|a| a.1),
            Some(Outcome::Refused(RATE_LIMITED))
        );
        assert_eq!(
            attribute(StatusCode::NOT_FOUND, Some(&by_key), None).map(|a| a.1),
            Some(Outcome::Accepted)
        );
        assert_eq!(attribute(StatusCode::UNAUTHORIZED, None, None), None);
    }
}
