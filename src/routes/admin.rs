//! The admin listener: metrics, the dev issuer's JWKS, and the migration view. Not for the
//! public internet.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::metrics::prometheus;
use crate::startup::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route("/admin/migration", web::get().to(migration))
        .route("/healthz", web::get().to(super::health::healthz))
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(crate::error::ApiError::NotFound)
        }));
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(prometheus::render(&state.metrics))
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match &state.dev_issuer {
        Some(issuer) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=300"))
            .json(issuer.jwks()),
        None => actix_web::ResponseError::error_response(&crate::error::ApiError::NotFound),
    }
}

async fn migration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "mode": state.auth.flag.get() }))
}
