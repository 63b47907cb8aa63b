//! The public API's surface: uploads, the photo list, `GET /api/me`, health, the photo app and
//! the OpenAPI document, with the list cursor and the caps on uploads in progress.

pub mod app;
pub mod cursor;
pub mod health;
pub mod me;
pub mod openapi;
pub mod photos;
pub mod upload_guard;
pub mod uploads;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, guard, web};

use crate::common::Route;
use crate::http::problem::ApiError;
use crate::http::refuse_other_methods;

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

/// Registers one API route with its [`Route`] label as resource data: the observe middleware,
/// the rate limiter's cost and the request span read it with [`route_of`](crate::http::route_of), so the label is
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
