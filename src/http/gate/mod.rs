//! Authentication as an extractor: a handler that takes [`Reader`] or [`Writer`] only runs for
//! an authenticated caller with that access, within its rate limits; [`Identified`] asks for no
//! scope at all (`GET /api/me`) but passes the same gate and the same rate limit. Handlers never
//! look at credential headers.

pub mod client_ip;
pub mod deprecation;
pub mod ledger;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderName};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::auth::gate::{Decision, Request, decide};
use crate::auth::{Access, Caller, Credentials};
use crate::domain::Principal;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The header of the legacy key path.
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

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

/// Authenticates `req` for `access`, spends its rate-limit cost (`auth::gate`), and hands the
/// extractor what it `take`s of the gate's decision (the hot routes take only the principal).
#[allow(
    clippy::expect_used,
    reason = "startup registers AppState on the listener that routes here, and an admitted request has its caller"
)]
pub(crate) async fn gate<T>(
    req: &HttpRequest,
    access: Access<'_>,
    take: impl FnOnce(&Caller) -> T,
) -> Result<T, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered by startup")
        .clone();
    let client = client_ip::client_ip(&state.limits.proxies, req);
    let request = Request {
        credentials: credentials(req),
        client,
        route: super::route_of(req),
        access,
    };
    let decision = decide(&state.auth, &state.limits, &request);
    let Decision { caller, verdict } =
        crate::http::conn::observe::deciding_refusals(req, &state, client, decision).await;
    let taken = caller.as_ref().map(take);
    let mut recorded = Ok(());
    if let Some(caller) = caller {
        crate::http::conn::observe::record_caller(req, &caller);
        if verdict.is_ok() {
            // Before the handler does anything: a key's use must not be served unrecorded.
            recorded = ledger::first_use(&state, req, &caller).await;
        }
        // The one value the gate hands on: the observe middleware reads it for metrics, the
        // access log and the answer's headers, also on a 429.
        req.extensions_mut().insert(caller);
    }
    verdict?;
    recorded?;
    Ok(taken.expect("an admitted request has a caller"))
}

/// The credential headers as the gate reads them: each may appear once.
pub fn credentials(req: &HttpRequest) -> Credentials<'_> {
    let (authorization, repeated_authorization) = single(req, &AUTHORIZATION);
    let (api_key, repeated_key) = single(req, &X_API_KEY);
    Credentials {
        authorization,
        api_key,
        repeated: repeated_authorization || repeated_key,
    }
}

/// The first value of a header, and whether there was more than one.
fn single<'a>(req: &'a HttpRequest, name: &HeaderName) -> (Option<&'a [u8]>, bool) {
    let mut values = req.headers().get_all(name);
    let first = values.next().map(|v| v.as_bytes());
    (first, values.next().is_some())
}

/// The gate's decision for a request that passed it (or was refused only by its quota).
pub fn caller(req: &HttpRequest) -> Option<Caller> {
    req.extensions().get::<Caller>().cloned()
}
