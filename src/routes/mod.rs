//! HTTP routes: the public API, health, and the admin listener.

pub mod admin;
mod cursor;
pub mod health;
pub mod observe;
pub mod photos;
pub mod problem;
pub mod state;
pub mod uploads;

use actix_web::web;

use crate::routes::problem::ApiError;

/// The public API. Every route except the health checks takes a `Reader` or `Writer`.
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/api/uploads", web::post().to(uploads::create))
    .route("/api/photos", web::get().to(photos::list))
    .route("/api/photos/{id}", web::get().to(photos::get))
    .route("/api/photos/{id}", web::delete().to(photos::delete))
    .route("/api/photos/{id}/content", web::get().to(photos::content))
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}
