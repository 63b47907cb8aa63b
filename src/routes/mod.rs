//! HTTP routes: the public API, health, and the admin listener.

pub mod admin;
mod cursor;
pub mod health;
pub mod observe;
pub mod photos;
pub mod problem;
pub mod request_id;
pub mod state;
pub mod upload_guard;
pub mod uploads;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, guard, web};

use crate::metrics::Route;
use crate::routes::problem::ApiError;

/// The public API. Every route except the health checks takes a `Reader` or `Writer`.
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz));
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
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}

/// Registers one API route with its [`Route`] label as resource data: the observe middleware,
/// the rate limiter's cost and the request span read it with [`Route::of`], so the label is
/// decided here, where the route is, and no path pattern is matched a second time. The method
/// is a guard on the resource (as `ServiceConfig::route` does), so two methods on one path are
/// two resources and a third method falls through to the default service.
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
