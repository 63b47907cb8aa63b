//! Authentication as an extractor: a handler that takes [`Reader`] or [`Writer`] only runs for
//! an authenticated caller with that access, within its rate limits. Handlers never look at
//! credential headers.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::Access;
use crate::domain::Principal;
use crate::error::ApiError;
use crate::ratelimit::{KeyQuota, is_failed_guess};
use crate::startup::AppState;

pub struct Authenticated<const WRITE: bool>(pub Principal);

/// A caller allowed to read (scope `CUTOVER_SCOPE_READ`).
pub type Reader = Authenticated<false>;
/// A caller allowed to write (scope `CUTOVER_SCOPE_WRITE`).
pub type Writer = Authenticated<true>;

impl<const WRITE: bool> FromRequest for Authenticated<WRITE> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .expect("AppState is registered by startup")
                .clone();
            let access = if WRITE { Access::Write } else { Access::Read };
            let limits = &state.limits;
            // The brake comes first, so a guesser over its quota costs no crypto or key lookup.
            let client = limits.proxies.client_ip(&req);
            limits.failures.admit(client)?;
            let principal = match state.auth.authenticate(&req, access).await {
                Ok(principal) => principal,
                Err(e) => {
                    if is_failed_guess(&e) {
                        limits.failures.record(client);
                    }
                    return Err(e);
                }
            };
            // Seen by the observe middleware (metrics, logs, deprecation headers), also on a 429.
            req.extensions_mut().insert(principal.clone());
            let key_quota = req.extensions().get::<KeyQuota>().copied();
            let granted = limits
                .principals
                .check(&principal.id, key_quota, limits.cost(&req))?;
            req.extensions_mut().insert(granted);
            Ok(Authenticated(principal))
        })
    }
}
