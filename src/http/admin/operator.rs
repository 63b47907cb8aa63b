//! The admin listener's door: every route but the liveness probe and the public keys needs an
//! operator. An operator is a token of a trusted issuer (the public API's rules: signature,
//! `iss`, `token_use`, client ids, lifetime, revocation) whose user is in the operators' group
//! (`cognito:groups`) or, for a machine client, that carries the admin scope. Anonymous: 401;
//! signed in but no operator: 403; both problem bodies, and nothing of what lies behind.
//! `CUTOVER_ADMIN_AUTH=off` (loopback only, checked with the settings) opens the door. A bad
//! token drains the client network's brake on guessing (`CUTOVER_AUTH_FAILURES_PER_MINUTE`),
//! the same as the public API's; a network over it is answered 429 before any check.
//!
//! A request without `Authorization` may carry the console's session cookie instead
//! ([`signin`](super::signin)): a live session of an operator not revoked since is an operator
//! `via: Console`. Without either, the console's pages send the browser through sign-in (303)
//! rather than show it a 401.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use super::identity::{Operator, OperatorVia, is_operator};
use super::paths;
use super::signin::context::SignIn;
use super::signin::cookie;
use crate::auth::AuthError;
use crate::config::AdminSettings;
use crate::domain::AuthFailure;
use crate::http::gate::client_ip::client_ip;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::telemetry::refusals::refusal;

/// The paths anyone may read: the liveness probe, public keys (no secret), the console's
/// stylesheet (no secret either, and the sign-in pages wear it) and the sign-in's own routes.
pub const OPEN: &[&str] = &[
    "/healthz",
    "/.well-known/jwks.json",
    paths::STYLESHEET_PATH,
    paths::SIGNIN_PATH,
    paths::CALLBACK_PATH,
    paths::SIGNOUT_PATH,
    paths::SIGNED_OUT_PATH,
];

/// The middleware on the whole admin listener.
pub async fn require_operator(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let admin = req.app_data::<web::Data<AdminSettings>>().cloned();
    let open = OPEN.contains(&req.path());
    match admin {
        // Off (the settings allowed it: loopback), or a path that is public anyway.
        Some(admin) if admin.auth && !open => {}
        Some(_) => return Ok(next.call(req).await?.map_into_left_body()),
        // No settings registered is a wiring mistake: fail closed.
        None => return Ok(refuse(req, &ApiError::Unavailable("the admin listener"))),
    }
    match operator(&req).await {
        Ok(operator) => {
            req.extensions_mut().insert(operator);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refused) if paths::PAGES.contains(&req.path()) => Ok(req
            .into_response(to_sign_in(&refused))
            .map_into_right_body()),
        Err(refused) => Ok(refuse(req, &refused)),
    }
}

/// A browser without a (live) session on a console page: through sign-in, and any stale cookie
/// goes. A store outage stays an outage (503), not a loop through the issuer.
fn to_sign_in(refused: &ApiError) -> actix_web::HttpResponse {
    if let ApiError::Unavailable(_) = refused {
        return refused.error_response();
    }
    actix_web::HttpResponse::SeeOther()
        .insert_header((header::LOCATION, paths::SIGNIN_PATH))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The operator a request proves to be, or the refusal.
async fn operator(req: &ServiceRequest) -> Result<Operator, ApiError> {
    let (Some(state), Some(admin)) = (
        req.app_data::<web::Data<AppState>>(),
        req.app_data::<web::Data<AdminSettings>>(),
    ) else {
        return Err(ApiError::Unavailable("the admin listener"));
    };
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return console_session(req, state).await;
    };
    if values.next().is_some() {
        return Err(AuthError::Unauthenticated(AuthFailure::AmbiguousCredentials).into());
    }
    // The public API's brake on guessing, per client network and shared with it: a network
    // over it is refused before any signature check, unless its token was verified before.
    let client = client_ip(&state.limits.proxies, req.request());
    let known = state.auth.bearer_known(value.as_bytes());
    if let Err(braked) = state.limits.admit(client, || known).await
        && !known
    {
        return Err(ApiError::RateLimited(braked));
    }
    let token = match state.auth.bearer(value.as_bytes()).await {
        Ok(token) => token,
        Err(e) => {
            if e.is_failed_guess() {
                state.limits.record(client).await;
            }
            return Err(e.into());
        }
    };
    if !is_operator(&token, admin) {
        refusal!(sub = %token.sub, jti = ?token.jti, "admin listener: not an operator");
        return Err(ApiError::NotAnOperator {
            group: admin.group.clone(),
            scope: admin.scope.as_str().to_string(),
        });
    }
    tracing::debug!(sub = %token.sub, jti = ?token.jti, path = req.path(), "operator");
    Ok(Operator {
        principal: token.sub,
        via: OperatorVia::Bearer,
    })
}

/// The operator of the console's session cookie, or the anonymous refusal.
async fn console_session(req: &ServiceRequest, state: &AppState) -> Result<Operator, ApiError> {
    let missing = || ApiError::from(AuthError::Unauthenticated(AuthFailure::Missing));
    let Some(signin) = req.app_data::<web::Data<SignIn>>() else {
        return Err(missing());
    };
    let Some(value) = signin
        .jar_of(req.request())
        .and_then(|jar| cookie::read(req.request(), jar.session))
    else {
        return Err(missing());
    };
    match signin.operator(state, &value).await {
        Ok(Some(operator)) => Ok(operator),
        Ok(None) => Err(missing()),
        Err(e) => {
            tracing::warn!(error = %e, "console session store unavailable");
            Err(ApiError::Unavailable("the console's sessions"))
        }
    }
}

fn refuse<B>(req: ServiceRequest, refused: &ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(refused.error_response())
        .map_into_right_body()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sign_in_routes_are_open() {
        use crate::http::admin::paths::OPEN_PATHS;
        assert!(OPEN_PATHS.iter().all(|p| super::OPEN.contains(p)));
    }
}
