//! The admin listener: metrics, the dev issuer's JWKS, the migration view, the migration
//! ledger's contact list, the audit trail, readiness in full and the migration console, all
//! behind the operators' door ([`operator`]) but the liveness probe and the public keys.

pub mod audit;
pub mod console;
mod health;
pub mod identity;
mod migration_report;
pub mod operator;
pub mod paths;
pub mod signin;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde_json::json;

use self::migration_report::{Reports, api_param, days_param};
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::metrics::prometheus;

pub(crate) const MIGRATION_WINDOW_DAYS: u64 = 7;

/// Every path the admin listener answers (`GET` only): the tests walk it, anonymous, as a
/// non-operator and as an operator.
pub const GET_PATHS: &[&str] = &[
    "/metrics",
    "/.well-known/jwks.json",
    "/admin/migration",
    "/admin/clients",
    "/admin/audit",
    "/admin/health",
    "/console",
    console::STYLESHEET_PATH,
    "/healthz",
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route("/admin/migration", web::get().to(migration))
        .route("/admin/clients", web::get().to(clients))
        .route("/admin/audit", web::get().to(audit::audit))
        .route("/admin/health", web::get().to(health::health))
        .route(
            "/console",
            web::get().to(crate::http::admin::console::console),
        )
        .route(
            crate::http::admin::console::STYLESHEET_PATH,
            web::get().to(crate::http::admin::console::stylesheet),
        )
        .route("/healthz", web::get().to(crate::http::api::health::healthz))
        .configure(signin::routes);
    for path in GET_PATHS {
        super::refuse_other_methods(cfg, path, &[Method::GET]);
    }
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::http::problem::ApiError::NotFound)
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
        None => actix_web::ResponseError::error_response(&crate::http::problem::ApiError::NotFound),
    }
}

/// The migration view: flag mode, per key id 1h/24h/7d counts and last seen (every configured
/// key, used or not), the service's traffic, and the 7-day readiness verdict; `?api=NAME`: the
/// same for one API (its mode, its key traffic, its heartbeat).
async fn migration(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let api = api_param(&state, req.query_string())?;
    let reports = Reports::read(&state, MIGRATION_WINDOW_DAYS, "/admin/migration").await?;
    let report = reports.of(&state, api).await?.readiness;
    let mut body = json!({
        "mode": reports.mode_of(&state, api),
        "window_days": report.window_days,
        "keys": report.keys,
        "traffic": report.traffic,
        "ready": report.ready,
        "verdict": if report.ready { "ready" } else { "not ready" },
        "reasons": report.reasons,
    });
    if let Some(api) = api {
        body["api"] = json!(api);
    }
    Ok(HttpResponse::Ok().json(body))
}

const DEFAULT_CLIENT_DAYS: u64 = 30;
const MAX_CLIENT_DAYS: u64 = 3650;

/// The migration ledger's contact list (the JSON of `cutover clients --format json`);
/// `?api=NAME`: only the keys that called that API, with their use of it.
async fn clients(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let days = days_param(req.query_string())?;
    let days =
        crate::report::days::parse_days(days.as_deref(), DEFAULT_CLIENT_DAYS, MAX_CLIENT_DAYS)
            .map_err(ApiError::BadRequest)?;
    let api = api_param(&state, req.query_string())?;
    let list = Reports::read(&state, days, "/admin/clients")
        .await?
        .of(&state, api)
        .await?
        .clients;
    Ok(HttpResponse::Ok().json(crate::report::render::Scoped { api, report: &list }))
}
