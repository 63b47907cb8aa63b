//! The HTTP layer: the routes of the public API and the admin listener, the gate's extractors,
//! the observe middleware, the one mapping of errors to problem+json, the photo app, the
//! migration console and the dev issuer's sign-in endpoints. Nothing below it imports it.

pub mod admin;
pub mod app;
pub mod console;
mod cursor;
pub mod deprecation;
pub mod dev_oauth;
pub mod expect;
pub mod gate;
pub mod health;
pub mod html;
pub mod ledger;
pub mod me;
pub mod observe;
pub mod openapi;
pub mod parser_errors;
pub mod photos;
pub mod problem;
pub mod request_id;
pub mod state;
pub mod upload_guard;
pub mod uploads;

use actix_web::http::{Method, header};
use actix_web::{FromRequest, Handler, HttpResponse, Responder, guard, web};
use serde_json::json;

use crate::common::Route;
use crate::http::problem::ApiError;

/// Declares the public routes once: [`API_ROUTES`] lists them (the OpenAPI test holds the
/// document equal to it), and `register` registers each with its label, then a 405 for the
/// other methods of each path.
macro_rules! public_routes {
    ($( $method:ident $path:literal => $handler:path, $label:expr; )*) => {
        /// Every public route, as registered: method and path.
        pub const API_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn register(cfg: &mut web::ServiceConfig) {
            $( api(cfg, $label, Method::$method, $path, $handler); )*
            let mut paths: Vec<&str> = API_ROUTES.iter().map(|(_, p)| *p).collect();
            paths.dedup();
            for path in paths {
                let allowed: Vec<Method> = API_ROUTES
                    .iter()
                    .filter(|(_, p)| *p == path)
                    .map(|(m, _)| Method::from_bytes(m.as_bytes()).expect("a method name"))
                    .collect();
                refuse_other_methods(cfg, path, &allowed);
            }
        }
    };
}

// Routes of one path stay together (the 405 resources are built per run of equal paths).
public_routes! {
    GET "/healthz" => health::healthz, Route::Other;
    GET "/readyz" => health::readyz, Route::Other;
    GET "/openapi.json" => openapi::openapi_json, Route::Other;
    POST "/api/uploads" => uploads::create, Route::Upload;
    GET "/api/photos" => photos::list, Route::List;
    GET "/api/photos/{id}" => photos::get, Route::Get;
    DELETE "/api/photos/{id}" => photos::delete, Route::Delete;
    GET "/api/photos/{id}/content" => photos::content, Route::Content;
    GET "/api/me" => me::me, Route::Me;
}

/// The public API. Every route except the health checks and the OpenAPI document takes a
/// `Reader` or `Writer` (`/api/me`: `Identified`, any authenticated caller).
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
    register(cfg);
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}

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
    HttpResponse::MethodNotAllowed()
        .content_type("application/problem+json")
        .insert_header((header::ALLOW, allow))
        .body(
            json!({
                "type": "urn:cutover:problem:method-not-allowed",
                "title": "Method not allowed",
                "status": 405,
                "detail": format!("this resource answers {allow}"),
            })
            .to_string(),
        )
}

/// The route a request was registered under ([`api`]); `Other` for health checks and unmatched
/// paths.
pub fn route_of(req: &actix_web::HttpRequest) -> Route {
    req.app_data::<Route>().copied().unwrap_or(Route::Other)
}

/// Registers one API route with its [`Route`] label as resource data: the observe middleware,
/// the rate limiter's cost and the request span read it with [`route_of`], so the label is
/// decided here, where the route is, and no path pattern is matched a second time. The method
/// is a guard on the resource (as `ServiceConfig::route` does), so two methods on one path are
/// two resources and a third method falls through to [`refuse_other_methods`].
fn api<F, Args>(cfg: &mut web::ServiceConfig, label: Route, method: Method, path: &str, handler: F)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    cfg.service(
        web::resource(path)
            .guard(guard::Method(method.clone()))
            .app_data(label)
            .route(web::method(method).to(handler)),
    );
}
