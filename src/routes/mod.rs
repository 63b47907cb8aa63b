//! HTTP routes: the public API, health, and the admin listener.

pub mod admin;
mod cursor;
pub mod health;
pub mod me;
pub mod observe;
pub mod photos;
pub mod problem;
pub mod request_id;
pub mod state;
pub mod upload_guard;
pub mod uploads;

use actix_web::http::{Method, header};
use actix_web::{FromRequest, Handler, HttpResponse, Responder, guard, web};
use serde_json::json;

use crate::metrics::Route;
use crate::routes::problem::ApiError;

/// The public API. Every route except the health checks takes a `Reader` or `Writer` (`/api/me`:
/// `Identified`, any authenticated caller).
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz));
    refuse_other_methods(cfg, "/healthz", &[Method::GET]);
    refuse_other_methods(cfg, "/readyz", &[Method::GET]);
    api(
        cfg,
        Route::Upload,
        Method::POST,
        "/api/uploads",
        uploads::create,
    );
    api(cfg, Route::List, Method::GET, "/api/photos", photos::list);
    api(
        cfg,
        Route::Get,
        Method::GET,
        "/api/photos/{id}",
        photos::get,
    );
    api(
        cfg,
        Route::Delete,
        Method::DELETE,
        "/api/photos/{id}",
        photos::delete,
    );
    api(
        cfg,
        Route::Content,
        Method::GET,
        "/api/photos/{id}/content",
        photos::content,
    );
    api(cfg, Route::Me, Method::GET, "/api/me", me::me);
    refuse_other_methods(cfg, "/api/uploads", &[Method::POST]);
    refuse_other_methods(cfg, "/api/photos", &[Method::GET]);
    refuse_other_methods(cfg, "/api/photos/{id}", &[Method::GET, Method::DELETE]);
    refuse_other_methods(cfg, "/api/photos/{id}/content", &[Method::GET]);
    refuse_other_methods(cfg, "/api/me", &[Method::GET]);
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

/// Registers one API route with its [`Route`] label as resource data: the observe middleware,
/// the rate limiter's cost and the request span read it with [`Route::of`], so the label is
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
