//! The HTTP layer, grouped by surface: `api/` (the public API, the photo app, the OpenAPI
//! document), `admin/` (the admin listener and the migration console), `dev_issuer/` (the dev
//! issuer's sign-in endpoints), `conn/` (what wraps a connection or every request), `gate/` (the
//! gate's extractors and what a request records), the one probe both listeners' readiness
//! answers read, and the one mapping of errors to problem+json. Nothing below it imports it.

pub mod admin;
pub mod api;
pub mod conn;
pub mod dev_issuer;
pub mod gate;
pub mod gateway;
pub mod problem;
pub mod readiness;
pub mod state;

use actix_web::http::{Method, header};
use actix_web::{HttpResponse, web};

use crate::common::Route;
use crate::http::problem::{Problem, ProblemType};

/// Registered after a path's method-guarded resources: a request on a known path whose method
/// no resource took gets 405 with `Allow` (RFC 9110 §15.5.6), not the 404 of an unknown path.
/// Its own resource, without a route label, so it is counted under `Other`.
pub(crate) fn refuse_other_methods(cfg: &mut web::ServiceConfig, path: &str, allowed: &[Method]) {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    cfg.service(web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { method_not_allowed(&allow) }
    })));
}

/// A 405 problem body. Built here rather than left to the observe middleware, because the admin
/// listener has no such middleware and answers problem+json all the same.
fn method_not_allowed(allow: &str) -> HttpResponse {
    let detail = format!("this resource answers {allow}");
    let mut res = Problem::new(ProblemType::MethodNotAllowed, detail).into_response();
    // The methods come from the route table: always token characters.
    if let Ok(allow) = header::HeaderValue::from_str(allow) {
        res.headers_mut().insert(header::ALLOW, allow);
    }
    res
}

/// The route a request was registered under ([`api`]), or the upstream the gateway matched it
/// to ([`gateway`]); `Other` for health checks and unmatched paths.
pub fn route_of(req: &actix_web::HttpRequest) -> Route {
    use actix_web::HttpMessage;
    req.app_data::<Route>()
        .copied()
        .or_else(|| req.extensions().get::<Route>().copied())
        .unwrap_or(Route::Other)
}
