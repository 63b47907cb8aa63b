//! The admin listener: metrics, the dev issuer's JWKS, and the migration view. Not for the
//! public internet.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::metrics::{prometheus, readiness};
use crate::routes::problem::ApiError;
use crate::routes::state::AppState;

const MIGRATION_WINDOW_DAYS: u64 = 7;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route("/admin/migration", web::get().to(migration))
        .route("/healthz", web::get().to(super::health::healthz));
    for path in [
        "/metrics",
        "/.well-known/jwks.json",
        "/admin/migration",
        "/healthz",
    ] {
        super::refuse_other_methods(cfg, path, &[Method::GET]);
    }
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::routes::problem::ApiError::NotFound)
    }));
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(prometheus::render(&state.metrics.snapshot()))
}

async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match &state.dev_issuer {
        Some(issuer) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=300"))
            .json(issuer.jwks()),
        None => {
            actix_web::ResponseError::error_response(&crate::routes::problem::ApiError::NotFound)
        }
    }
}

/// The migration view: flag mode, per key id 1h/24h/7d counts and last seen (every configured
/// key, used or not), the service's traffic, and the 7-day readiness verdict.
async fn migration(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.auth.keys.key_ids();
    let report = readiness::assess(
        state.usage.as_ref(),
        &keys,
        crate::metrics::unix_now(),
        MIGRATION_WINDOW_DAYS,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "usage store unavailable for /admin/migration");
        ApiError::Unavailable("usage store")
    })?;
    Ok(HttpResponse::Ok().json(json!({
        "mode": state.auth.flag.get(),
        "window_days": report.window_days,
        "keys": report.keys,
        "traffic": report.traffic,
        "ready": report.ready,
        "verdict": if report.ready { "ready" } else { "not ready" },
        "reasons": report.reasons,
    })))
}
