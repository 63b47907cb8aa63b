//! Which requests the ledger records, and as what: called once per request by the observe
//! middleware with the gate's [`Caller`] and the error answered, if any.
//!
//! - a refusal attributed to a key (`ApiError::KeyRefused`, built wherever the presented key
//!   matched a key id) is refused under its cause: the `AuthFailure` label, or `rate_limited`;
//! - a key-path caller is accepted, or refused `rate_limited` on a 429;
//! - a JWT caller that also presented a matching key (`Caller.linked_key`) is recorded against
//!   the key with the token's `sub`.
//!
//! Everything else (no key involved) costs a branch.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::USER_AGENT;

use super::RATE_LIMITED;
use super::recorder::{Observation, Outcome};
use crate::auth::Caller;
use crate::domain::AuthMethod;
use crate::metrics::Route;
use crate::routes::problem::ApiError;
use crate::routes::state::AppState;

/// The refusal cause of an error: its auth failure's label, `rate_limited` for a 429, or the
/// generic `refused` for a rule that has neither.
pub fn cause(err: &ApiError) -> &'static str {
    match (err.auth_failure(), err.answered()) {
        (Some(f), _) => f.label(),
        (None, ApiError::RateLimited(_)) => RATE_LIMITED,
        (None, _) => "refused",
    }
}

pub fn record(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    caller: Option<&Caller>,
    err: Option<&ApiError>,
) {
    let refused = err.and_then(|e| e.refused_key().map(|k| (k, cause(e))));
    let (key, outcome, sub) = match (refused, caller) {
        (Some((key, cause)), _) => (key, Outcome::Refused(cause), None),
        (None, Some(c)) => match (&c.principal.method, &c.linked_key) {
            (AuthMethod::ApiKey { key_id }, _) if status == StatusCode::TOO_MANY_REQUESTS => {
                (key_id, Outcome::Refused(RATE_LIMITED), None)
            }
            (AuthMethod::ApiKey { key_id }, _) => (key_id, Outcome::Accepted, None),
            (AuthMethod::Jwt { .. }, Some(key)) => {
                (key, Outcome::WithJwt, Some(c.principal.id.as_str()))
            }
            (AuthMethod::Jwt { .. }, None) => return,
        },
        (None, None) => return,
    };
    if let Outcome::Refused(_) = outcome {
        state.metrics.key_refused(key);
    }
    let agent = match req.headers().get(USER_AGENT).map(|v| v.to_str()) {
        None => "(none)",
        Some(Ok(agent)) => agent,
        Some(Err(_)) => "(not text)",
    };
    state.ledger.recorder.record(&Observation {
        key,
        outcome,
        agent,
        ip: state.limits.proxies.client_ip(req),
        route: Route::of(req),
        sub,
        at: crate::metrics::unix_now(),
    });
}
