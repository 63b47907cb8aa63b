//! Authentication as an extractor: a handler that takes [`Reader`] or [`Writer`] only runs for
//! an authenticated caller with that access, within its rate limits; [`Identified`] asks for no
//! scope at all (`GET /api/me`) but passes the same gate and the same rate limit. Handlers never
//! look at credential headers.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::auth::{Access, Caller};
use crate::domain::Principal;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::ratelimit::is_failed_guess;

pub struct Authenticated<const WRITE: bool>(pub Principal);

/// A caller allowed to read (scope `CUTOVER_SCOPE_READ`).
pub type Reader = Authenticated<false>;
/// A caller allowed to write (scope `CUTOVER_SCOPE_WRITE`).
pub type Writer = Authenticated<true>;

/// Any authenticated caller, whatever its scopes, with the whole of the gate's decision.
pub struct Identified(pub Caller);

impl<const WRITE: bool> FromRequest for Authenticated<WRITE> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        let access = if WRITE { Access::Write } else { Access::Read };
        Box::pin(async move {
            gate(&req, access, |caller| {
                Authenticated(caller.principal.clone())
            })
            .await
        })
    }
}

impl FromRequest for Identified {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { gate(&req, Access::Any, |caller| Identified(caller.clone())).await })
    }
}

/// Authenticates `req` for `access`, spends its rate-limit cost, and hands the extractor what it
/// `take`s of the gate's decision (the hot routes take only the principal).
async fn gate<T>(
    req: &HttpRequest,
    access: Access,
    take: impl FnOnce(&Caller) -> T,
) -> Result<T, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered by startup")
        .clone();
    let limits = &state.limits;
    // The brake comes first, so a guesser over its quota costs no signature check and no
    // key-store call; a credential already known good still passes it.
    let client = limits.proxies.client_ip(req);
    // With a shared store, a credential known good skips the store's brake check (one round
    // trip fewer); it would pass the brake anyway.
    let known = || state.auth.authenticate_known(req, access).is_some();
    let mut caller = match limits.admit(client, known).await {
        Err(braked) => state.auth.authenticate_known(req, access).ok_or(braked)?,
        Ok(()) => match state.auth.authenticate(req, access).await {
            Ok(caller) => caller,
            Err(e) => {
                if is_failed_guess(&e) {
                    limits.record(client).await;
                }
                return Err(e);
            }
        },
    };
    let checked = limits
        .check(
            &caller.principal.id,
            caller.key_quota,
            limits.cost(super::route_of(req)),
        )
        .await;
    if let Ok(granted) = &checked {
        caller.rate = Some(granted.clone());
    }
    let taken = take(&caller);
    crate::http::observe::record_caller(req, &caller);
    // The one value the gate hands on: the observe middleware reads it for metrics, the
    // access log and the answer's headers, also on a 429.
    req.extensions_mut().insert(caller);
    checked?;
    Ok(taken)
}

/// The gate's decision for a request that passed it (or was refused only by its quota).
pub fn caller(req: &HttpRequest) -> Option<Caller> {
    req.extensions().get::<Caller>().cloned()
}
